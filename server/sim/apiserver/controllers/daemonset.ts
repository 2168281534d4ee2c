/**
 * The DaemonSet controller (pkg/controller/daemon): one pod per node that should run it.
 * - A node should run the DaemonSet's pod when the template's nodeSelector and required node affinity
 *   match it and its NoSchedule/NoExecute taints are tolerated, counting the tolerations every daemon
 *   pod gets (not-ready/unreachable NoExecute; disk/memory/pid-pressure, unschedulable and, on the host
 *   network, network-unavailable NoSchedule); a pod already there keeps running unless a NoExecute
 *   taint is not tolerated.
 * - Missing pods are created from the template with labels controller-revision-hash (the template's
 *   hash) and pod-template-generation, the daemon tolerations, and node affinity on
 *   `metadata.name In [<node>]`, so the scheduler binds them (Event `Scheduled`), as since v1.17;
 *   surplus pods on a node (all but the oldest), failed pods and pods on nodes that should not run one
 *   are deleted. Events SuccessfulCreate "Created pod: <name>", SuccessfulDelete "Deleted pod: <name>".
 * - RollingUpdate (maxSurge 0): pods of an older template are deleted, unavailable ones first, while no
 *   more than maxUnavailable daemon pods are unavailable; OnDelete waits for the user.
 * - Status: desired/current/ready/available/updated/misscheduled/unavailable counts, observedGeneration.
 * The template-generation annotation goes up by one when the template changes (the registry's job
 * upstream: this store has no update strategies). Not modelled: ControllerRevisions, maxSurge > 0.
 */
import { isRecord, type KObject } from "../objects.js";
import { isApiError } from "../status.js";
import type { StoreEvent } from "../store.js";
import { claim } from "./claim.js";
import type { Controller, ControllerContext } from "./context.js";
import { podFromTemplate } from "./replicaset.js";
import { byCreation, controllerOf, deepEqual, field, int, isPodReady, keyOf, matchesNodeSelection, NO_SCHEDULE_OR_EXECUTE, podAvailability, podSpec, podStatus, podTemplateHash, scaledValue, selects, semanticEqual, splitKey, targetNodeName, untoleratedTaint, type LabelSelectorSpec, type PodSpec, type PodTemplate, type Taint, type Toleration } from "./util.js";

const DS = "daemonsets.apps";
const GENERATION = "deprecated.daemonset.template.generation";

interface DaemonSetSpec {
  selector?: LabelSelectorSpec;
  template?: PodTemplate;
  updateStrategy?: { type?: string; rollingUpdate?: { maxUnavailable?: unknown; maxSurge?: unknown } };
  minReadySeconds?: number;
}

/** util.AddOrUpdateDaemonPodTolerations: what every daemon pod tolerates, whatever its template says. */
export function daemonTolerations(spec: PodSpec): Toleration[] {
  const out = [...(spec.tolerations ?? [])];
  const add = (t: Toleration) => {
    const same = (x: Toleration) => (x.key ?? "") === (t.key ?? "") && (x.operator ?? "Equal") === t.operator && (x.value ?? "") === (t.value ?? "") && (x.effect ?? "") === t.effect;
    if (!out.some(same)) out.push(t);
  };
  for (const k of ["not-ready", "unreachable"]) add({ key: `node.kubernetes.io/${k}`, operator: "Exists", effect: "NoExecute" });
  for (const k of ["disk-pressure", "memory-pressure", "pid-pressure", "unschedulable"]) add({ key: `node.kubernetes.io/${k}`, operator: "Exists", effect: "NoSchedule" });
  if (spec.hostNetwork) add({ key: "node.kubernetes.io/network-unavailable", operator: "Exists", effect: "NoSchedule" });
  return out;
}

/** NodeShouldRunDaemonPod: [should run a new pod, may keep running an existing one]. */
function shouldRun(template: PodSpec, node: KObject): [boolean, boolean] {
  if (template.nodeName && template.nodeName !== node.metadata.name) return [false, false];
  const spec: PodSpec = { ...template, tolerations: daemonTolerations(template) };
  if (!matchesNodeSelection(spec, node)) return [false, false];
  const taints = (isRecord(node.spec) && Array.isArray(node.spec.taints) ? node.spec.taints : []) as Taint[];
  if (!untoleratedTaint(taints, spec.tolerations, NO_SCHEDULE_OR_EXECUTE)) return [true, true];
  return [false, !untoleratedTaint(taints, spec.tolerations, (t) => t.effect === "NoExecute")];
}

/** Scheduled pods first, then oldest (podByCreationTimestampAndPhase). */
function scheduledThenOldest(a: KObject, b: KObject): number {
  const sa = Boolean(podSpec(a).nodeName);
  const sb = Boolean(podSpec(b).nodeName);
  if (sa !== sb) return sa ? -1 : 1;
  return byCreation(a, b);
}

export function daemonSetController(ctx: ControllerContext): Controller {
  const { store, recorder } = ctx;
  const queue = ctx.queue("daemonset", sync);
  /** DaemonSets whose template changed since their generation annotation was written */
  const templateChanged = new Set<string>();

  function create(ds: KObject, template: PodTemplate, node: string, labels: Record<string, string>): void {
    const pod = podFromTemplate(ds, template, labels);
    const spec = pod.spec as PodSpec;
    spec.tolerations = daemonTolerations(spec);
    // ReplaceDaemonSetPodNodeNameNodeAffinity: the pod may only go to its node; the scheduler binds it
    const affinity = { ...(spec.affinity ?? {}) };
    affinity.nodeAffinity = { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: [node] }] }] } };
    spec.affinity = affinity;
    const created = store.create("pods", pod);
    recorder.event("daemonset-controller", ds, "Normal", "SuccessfulCreate", `Created pod: ${created.metadata.name}`);
  }

  function remove(ds: KObject, pod: KObject): void {
    try {
      store.delete("pods", pod.metadata.namespace, pod.metadata.name!);
      recorder.event("daemonset-controller", ds, "Normal", "SuccessfulDelete", `Deleted pod: ${pod.metadata.name}`);
    } catch (err) {
      if (!isApiError(err) || err.code !== 404) throw err;
    }
  }

  function podsByNode(ds: KObject, spec: DaemonSetSpec): Map<string, KObject[]> {
    const all = store.list("pods", { namespace: ds.metadata.namespace }).items;
    const owned = claim(store, "pods", ds, all, (p) => selects(spec.selector, p.metadata.labels));
    const byNode = new Map<string, KObject[]>();
    for (const p of owned) {
      const n = targetNodeName(p);
      if (n) byNode.set(n, [...(byNode.get(n) ?? []), p]);
    }
    return byNode;
  }

  function sync(key: string): void {
    const [ns, name] = splitKey(key);
    let ds = store.tryGet(DS, ns, name);
    if (!ds) {
      templateChanged.delete(key);
      return;
    }
    if (templateChanged.has(key) || ds.metadata.annotations?.[GENERATION] === undefined) {
      const next = templateChanged.has(key) ? Number(ds.metadata.annotations?.[GENERATION] ?? 0) + 1 : 1;
      ds = store.update(DS, { ...ds, metadata: { ...ds.metadata, annotations: { ...(ds.metadata.annotations ?? {}), [GENERATION]: String(next) } } });
      templateChanged.delete(key);
    }
    const spec = field<DaemonSetSpec>(ds, "spec");
    const template = spec.template ?? {};
    const tplSpec = template.spec ?? {};
    const hash = podTemplateHash(template);
    const generation = ds.metadata.annotations?.[GENERATION] ?? "1";
    const nodes = store.list("nodes").items;
    let byNode = podsByNode(ds, spec);
    const updated = (p: KObject) => p.metadata.labels?.["controller-revision-hash"] === hash;
    const minReady = int(spec.minReadySeconds);
    const now = ctx.now();

    // manage: missing pods created, surplus and misplaced ones deleted
    let wrote = false;
    const nodeNames = new Set(nodes.map((n) => n.metadata.name!));
    for (const node of nodes) {
      const [run, keep] = shouldRun(tplSpec, node);
      const pods = byNode.get(node.metadata.name!) ?? [];
      if (run && pods.length === 0) {
        create(ds, template, node.metadata.name!, { "controller-revision-hash": hash, "pod-template-generation": generation });
        wrote = true;
      } else if (keep) {
        const running: KObject[] = [];
        for (const p of pods) {
          if (p.metadata.deletionTimestamp) continue;
          if (podStatus(p).phase === "Failed") {
            recorder.event("daemonset-controller", ds, "Warning", "FailedDaemonPod", `Found failed daemon pod ${p.metadata.namespace}/${p.metadata.name} on node ${node.metadata.name}, will try to kill it`);
            remove(ds, p);
            wrote = true;
          } else running.push(p);
        }
        for (const p of running.sort(scheduledThenOldest).slice(1)) {
          remove(ds, p);
          wrote = true;
        }
      } else {
        for (const p of pods) {
          remove(ds, p);
          wrote = true;
        }
      }
    }
    for (const [node, pods] of byNode) {
      if (nodeNames.has(node)) continue;
      for (const p of pods) remove(ds, p);
      wrote = wrote || pods.length > 0;
    }
    if (wrote) byNode = podsByNode(ds, spec);

    // rolling update: old pods go while the unavailable budget allows
    if (!wrote && (spec.updateStrategy?.type ?? "RollingUpdate") === "RollingUpdate") {
      const wanted = nodes.filter((n) => shouldRun(tplSpec, n)[0]);
      let maxUnavailable = scaledValue(spec.updateStrategy?.rollingUpdate?.maxUnavailable ?? 1, wanted.length, true);
      if (maxUnavailable === 0 && scaledValue(spec.updateStrategy?.rollingUpdate?.maxSurge ?? 0, wanted.length, true) === 0) maxUnavailable = 1;
      let unavailable = 0;
      const unhealthyOld: KObject[] = [];
      const healthyOld: KObject[] = [];
      for (const node of wanted) {
        const pods = (byNode.get(node.metadata.name!) ?? []).filter((p) => !p.metadata.deletionTimestamp);
        if (pods.length !== 1) {
          if (pods.length === 0) unavailable++;
          continue;
        }
        const p = pods[0]!;
        const available = podAvailability(p, minReady, now).available;
        if (updated(p)) {
          if (!available) unavailable++;
        } else if (!available) unhealthyOld.push(p);
        else healthyOld.push(p);
      }
      unavailable += unhealthyOld.length;
      const budget = Math.max(0, maxUnavailable - unavailable);
      const victims = [...unhealthyOld, ...healthyOld.sort(byCreation).slice(0, budget)];
      for (const p of victims) remove(ds, p);
      if (victims.length) byNode = podsByNode(ds, spec);
    }

    // status
    let desired = 0;
    let current = 0;
    let misscheduled = 0;
    let ready = 0;
    let available = 0;
    let upToDate = 0;
    let recheckAt: number | undefined;
    for (const node of nodes) {
      const pods = [...(byNode.get(node.metadata.name!) ?? [])].sort(scheduledThenOldest);
      if (!shouldRun(tplSpec, node)[0]) {
        if (pods.length) misscheduled++;
        continue;
      }
      desired++;
      const p = pods[0];
      if (!p) continue;
      current++;
      if (isPodReady(p)) {
        ready++;
        const a = podAvailability(p, minReady, now);
        if (a.available) available++;
        else if (a.at !== undefined) recheckAt = Math.min(recheckAt ?? a.at, a.at);
      }
      if (updated(p) || p.metadata.labels?.["pod-template-generation"] === generation) upToDate++;
    }
    const old = isRecord(ds.status) ? ds.status : {};
    const status: Record<string, unknown> = { currentNumberScheduled: current, numberMisscheduled: misscheduled, desiredNumberScheduled: desired, numberReady: ready };
    if (ds.metadata.generation) status.observedGeneration = ds.metadata.generation;
    if (upToDate) status.updatedNumberScheduled = upToDate;
    if (available) status.numberAvailable = available;
    if (desired - available > 0) status.numberUnavailable = desired - available;
    if (old.collisionCount !== undefined) status.collisionCount = old.collisionCount;
    if (old.conditions !== undefined) status.conditions = old.conditions;
    if (!deepEqual(status, ds.status)) store.update(DS, { ...ds, status }, { subresource: "status" });
    if (recheckAt !== undefined) queue.addAfter(key, recheckAt - now.getTime());
  }

  function daemonSetsFor(pod: KObject): string[] {
    const ref = controllerOf(pod);
    if (ref) return ref.kind === "DaemonSet" ? [`${pod.metadata.namespace}/${ref.name}`] : [];
    return store
      .list(DS, { namespace: pod.metadata.namespace })
      .items.filter((ds) => selects(field<DaemonSetSpec>(ds, "spec").selector, pod.metadata.labels))
      .map(keyOf);
  }

  return {
    name: "daemonset",
    observe(e: StoreEvent) {
      const kind = e.resource.kind;
      if (kind === "DaemonSet" && e.resource.group === "apps") {
        const key = keyOf(e.object);
        if (e.type === "MODIFIED" && e.previous && !semanticEqual(field<DaemonSetSpec>(e.previous, "spec").template, field<DaemonSetSpec>(e.object, "spec").template)) templateChanged.add(key);
        queue.add(key);
      } else if (kind === "Pod") {
        const objs = e.type === "MODIFIED" && e.previous ? [e.previous, e.object] : [e.object];
        for (const o of objs) {
          if (e.type === "DELETED" && !controllerOf(o)) continue;
          for (const k of daemonSetsFor(o)) queue.add(k);
        }
      } else if (kind === "Node") {
        if (e.type === "MODIFIED" && e.previous && deepEqual(e.previous.metadata.labels, e.object.metadata.labels) && deepEqual(e.previous.spec, e.object.spec)) return;
        for (const ds of store.list(DS).items) queue.add(keyOf(ds));
      }
    },
    start() {
      for (const ds of store.list(DS).items) queue.add(keyOf(ds));
    },
  };
}

