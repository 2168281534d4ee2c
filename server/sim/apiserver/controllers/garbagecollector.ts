/**
 * The garbage collector (pkg/controller/garbagecollector), over every type the store serves: it keeps
 * an index from owner uid to dependents and, when an owner goes away, looks at each dependent's owner
 * references (an owner counts as present only with the same name and uid):
 * - all owners gone: the dependent is deleted (background propagation, so its own dependents follow);
 * - some gone, some present: the dangling references are removed;
 * - the owner was deleted with propagationPolicy Orphan: the references to it are removed and the
 *   dependent stays (`kubectl delete rs x --cascade=orphan`).
 * A dependent created or changed with a reference to an owner that does not exist is handled the same
 * way, as the graph builder's "virtual" owners are. References to kinds the server does not serve are
 * left alone. Foreground deletion is treated as background: the store deletes at once, so there is no
 * "deletion in progress" owner to block on.
 */
import type { KObject, OwnerReference } from "../objects.js";
import { typeKey, type ResourceType } from "../resources.js";
import { isApiError } from "../status.js";
import type { StoreEvent } from "../store.js";
import type { Controller, ControllerContext } from "./context.js";
import { deepEqual } from "./util.js";

export function garbageCollector(ctx: ControllerContext): Controller {
  const { store } = ctx;
  /** owner uid -> dependent keys (`<plural.group>|<namespace>|<name>`) */
  const dependents = new Map<string, Set<string>>();
  /** dependent key -> the owner uids it was indexed under */
  const indexed = new Map<string, string[]>();
  /** owners deleted with propagationPolicy Orphan: references to them are removed, not followed */
  const orphaned = new Set<string>();
  const queue = ctx.queue("garbagecollector", attempt);

  const depKey = (t: ResourceType, o: KObject) => `${typeKey(t)}|${t.namespaced ? o.metadata.namespace ?? "" : ""}|${o.metadata.name}`;

  function typeByKey(key: string): ResourceType | undefined {
    return store.types.all().find((t) => typeKey(t) === key);
  }

  function ownerType(ref: OwnerReference): ResourceType | undefined {
    const group = ref.apiVersion.includes("/") ? ref.apiVersion.slice(0, ref.apiVersion.indexOf("/")) : "";
    return store.types.all().find((t) => t.group === group && t.kind === ref.kind);
  }

  function index(key: string, refs: OwnerReference[] | undefined): void {
    for (const uid of indexed.get(key) ?? []) {
      const set = dependents.get(uid);
      set?.delete(key);
      if (set?.size === 0) dependents.delete(uid);
    }
    const uids = (refs ?? []).map((r) => r.uid);
    if (uids.length === 0) {
      indexed.delete(key);
      return;
    }
    indexed.set(key, uids);
    for (const uid of uids) {
      const set = dependents.get(uid) ?? new Set<string>();
      set.add(key);
      dependents.set(uid, set);
    }
  }

  /** attemptToDeleteItem / orphanDependents for one dependent. */
  function attempt(key: string): void {
    const [tk, ns, name] = key.split("|") as [string, string, string];
    const t = typeByKey(tk);
    if (!t) return;
    const dep = store.tryGet(t, ns || undefined, name);
    const refs = dep?.metadata.ownerReferences ?? [];
    if (!dep || refs.length === 0) return;
    const gone: OwnerReference[] = [];
    let present = 0;
    for (const ref of refs) {
      const ot = ownerType(ref);
      if (!ot) {
        present++;
        continue;
      }
      const owner = store.tryGet(ot, ot.namespaced ? dep.metadata.namespace : undefined, ref.name);
      if (owner && owner.metadata.uid === ref.uid) present++;
      else gone.push(ref);
    }
    if (gone.length === 0) return;
    const dangling = gone.filter((r) => !orphaned.has(r.uid));
    if (dangling.length > 0 && present === 0) {
      try {
        store.delete(t, dep.metadata.namespace, name, { propagationPolicy: "Background" });
      } catch (err) {
        if (!isApiError(err) || err.code !== 404) throw err;
      }
      return;
    }
    const keep = refs.filter((r) => !gone.includes(r));
    const meta = { ...dep.metadata };
    if (keep.length) meta.ownerReferences = keep;
    else delete meta.ownerReferences;
    store.update(t, { ...dep, metadata: meta });
  }

  /** Every stored object with owners, by its dependent key. */
  function eachOwned(fn: (key: string, refs: OwnerReference[]) => void): void {
    const seen = new Set<string>();
    for (const t of store.types.all()) {
      if (seen.has(typeKey(t))) continue;
      seen.add(typeKey(t));
      for (const o of store.list(t).items) if (o.metadata.ownerReferences?.length) fn(depKey(t, o), o.metadata.ownerReferences);
    }
  }

  return {
    name: "garbagecollector",
    observe(e: StoreEvent) {
      const key = depKey(e.resource, e.object);
      if (e.type === "DELETED") {
        index(key, undefined);
        const uid = e.object.metadata.uid;
        if (!uid) return;
        if (e.propagationPolicy === "Orphan") orphaned.add(uid);
        for (const d of dependents.get(uid) ?? []) queue.add(d);
        dependents.delete(uid);
        return;
      }
      const refs = e.object.metadata.ownerReferences;
      if (e.type === "MODIFIED" && e.previous && deepEqual(e.previous.metadata.ownerReferences, refs)) return;
      index(key, refs);
      if (refs?.length) queue.add(key);
    },
    index() {
      eachOwned((key, refs) => index(key, refs));
    },
    start() {
      eachOwned((key) => queue.add(key));
    },
  };
}
