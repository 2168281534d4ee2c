/**
 * The ReplicaSet controller (pkg/controller/replicaset): claims the pods its selector matches (adopting
 * orphans, releasing pods that stopped matching), creates pods from the template until spec.replicas
 * are active (`<rs>-<5 chars>`, the template's labels and annotations, a controller owner reference
 * with blockOwnerDeletion), deletes the surplus in the real order (unscheduled, then Pending, not ready,
 * doubled-up on a node, ready for less time, more restarts, newest first), with the Events
 * SuccessfulCreate "Created pod: <name>" / SuccessfulDelete "Deleted pod: <name>" (FailedCreate and the
 * ReplicaFailure condition when the API refuses a pod). Status: replicas, fullyLabeledReplicas,
 * readyReplicas, availableReplicas (ready for minReadySeconds), observedGeneration.
 *
 * Pods are created Pending with no address: running them is the kubelet's part (the sandbox
 * supervisor), whose status updates bring readiness back here. Not modelled: slow-start batches and
 * expectations (writes are synchronous here, so the store is always up to date).
 */
import { timestamp, type KObject } from "../objects.js";
import { isApiError } from "../status.js";
import type { StoreEvent } from "../store.js";
import { claim } from "./claim.js";
import type { Controller, ControllerContext } from "./context.js";
import { controllerOf, controllerRef, deepEqual, field, getCondition, int, isPodActive, isPodReady, keyOf, podAvailability, podSpec, podStatus, selects, splitKey, type Condition, type LabelSelectorSpec, type PodTemplate } from "./util.js";

const BURST = 500;

export interface ReplicaSetSpec {
  replicas?: number;
  minReadySeconds?: number;
  selector?: LabelSelectorSpec;
  template?: PodTemplate;
}

export interface ReplicaSetStatus {
  replicas?: number;
  fullyLabeledReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  observedGeneration?: number;
  conditions?: Condition[];
}

/** spec.replicas of a ReplicaSet (or Deployment); the API defaults a missing one to 1. */
export function specReplicas(o: KObject): number {
  return int(field<{ replicas?: unknown }>(o, "spec").replicas, 1);
}

const PHASE_RANK: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

/**
 * controller.ActivePodsWithRanks' Less: negative when `a` should be deleted before `b`. `rank` is the
 * number of the controller's pods on the pod's node.
 */
function deleteFirst(a: KObject, b: KObject, rank: (p: KObject) => number): number {
  const na = podSpec(a).nodeName ?? "";
  const nb = podSpec(b).nodeName ?? "";
  if ((na === "") !== (nb === "")) return na === "" ? -1 : 1;
  const pa = PHASE_RANK[podStatus(a).phase ?? ""] ?? 1;
  const pb = PHASE_RANK[podStatus(b).phase ?? ""] ?? 1;
  if (pa !== pb) return pa - pb;
  const ra = isPodReady(a);
  const rb = isPodReady(b);
  if (ra !== rb) return ra ? 1 : -1;
  if (rank(a) !== rank(b)) return rank(b) - rank(a);
  if (ra && rb) {
    const ta = getCondition(podStatus(a).conditions, "Ready")?.lastTransitionTime ?? "";
    const tb = getCondition(podStatus(b).conditions, "Ready")?.lastTransitionTime ?? "";
    if (ta !== tb) return ta > tb ? -1 : 1;
  }
  const restarts = (p: KObject) => Math.max(0, ...(podStatus(p).containerStatuses ?? []).map((c) => c.restartCount ?? 0));
  if (restarts(a) !== restarts(b)) return restarts(b) - restarts(a);
  const ca = String(a.metadata.creationTimestamp ?? "");
  const cb = String(b.metadata.creationTimestamp ?? "");
  if (ca !== cb) return ca > cb ? -1 : 1;
  return 0;
}

/** The pod a ReplicaSet (or DaemonSet) creates from its template (controller.GetPodFromTemplate). */
export function podFromTemplate(owner: KObject, template: PodTemplate | undefined, extraLabels: Record<string, string> = {}): KObject {
  const meta = template?.metadata ?? {};
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      generateName: `${owner.metadata.name}-`,
      namespace: owner.metadata.namespace,
      labels: { ...(meta.labels ?? {}), ...extraLabels },
      ...(meta.annotations ? { annotations: { ...meta.annotations } } : {}),
      ownerReferences: [controllerRef(owner)],
    },
    spec: structuredClone(template?.spec ?? {}),
  };
}

export function replicaSetController(ctx: ControllerContext): Controller {
  const { store, recorder } = ctx;
  const queue = ctx.queue("replicaset", sync);
  const RS = "replicasets.apps";

  /** ReplicaSets of `ns` whose selector matches `labels` (for an orphan pod to find its adopter). */
  function matching(ns: string | undefined, labels: Record<string, string> | undefined): KObject[] {
    return store.list(RS, { namespace: ns }).items.filter((rs) => selects(field<ReplicaSetSpec>(rs, "spec").selector, labels));
  }

  function observePod(e: StoreEvent): void {
    const ns = e.object.metadata.namespace;
    for (const o of e.previous && e.type === "MODIFIED" ? [e.previous, e.object] : [e.object]) {
      const ref = controllerOf(o);
      if (ref) {
        if (ref.kind === "ReplicaSet") queue.add(`${ns}/${ref.name}`);
      } else if (e.type !== "DELETED") {
        for (const rs of matching(ns, o.metadata.labels)) queue.add(keyOf(rs));
      }
    }
  }

  function sync(key: string): void {
    const [ns, name] = splitKey(key);
    const rs = store.tryGet(RS, ns, name);
    if (!rs) return;
    const spec = field<ReplicaSetSpec>(rs, "spec");
    const all = store.list("pods", { namespace: ns }).items;
    // only active pods are claimed (FilterActivePods before claimPods), as upstream
    const active = claim(store, "pods", rs, all.filter(isPodActive), (p) => selects(spec.selector, p.metadata.labels));
    const replicas = specReplicas(rs);
    let failure: Condition | undefined;

    const diff = active.length - replicas;
    if (diff < 0 && !rs.metadata.deletionTimestamp) {
      for (let i = 0; i < Math.min(-diff, BURST); i++) {
        try {
          const pod = store.create("pods", podFromTemplate(rs, spec.template));
          recorder.event("replicaset-controller", rs, "Normal", "SuccessfulCreate", `Created pod: ${pod.metadata.name}`);
        } catch (err) {
          // the namespace is going away: nothing to report, the ReplicaSet goes with it
          if (isApiError(err) && err.code === 404) return;
          const msg = err instanceof Error ? err.message : String(err);
          recorder.event("replicaset-controller", rs, "Warning", "FailedCreate", `Error creating: ${msg}`);
          failure = { type: "ReplicaFailure", status: "True", reason: "FailedCreate", message: msg };
          break;
        }
      }
    } else if (diff > 0) {
      const onNode = new Map<string, number>();
      for (const p of active) {
        const n = podSpec(p).nodeName;
        if (n) onNode.set(n, (onNode.get(n) ?? 0) + 1);
      }
      const rank = (p: KObject) => onNode.get(podSpec(p).nodeName ?? "") ?? 0;
      const victims = [...active].sort((a, b) => deleteFirst(a, b, rank)).slice(0, Math.min(diff, BURST));
      for (const p of victims) {
        try {
          store.delete("pods", ns, p.metadata.name!);
          recorder.event("replicaset-controller", rs, "Normal", "SuccessfulDelete", `Deleted pod: ${p.metadata.name}`);
        } catch (err) {
          if (!isApiError(err) || err.code !== 404) throw err;
        }
      }
    }

    // status from the pods as they were before this sync's writes; those come back as pod events
    const templateLabels = spec.template?.metadata?.labels ?? {};
    const minReady = int(spec.minReadySeconds);
    const now = ctx.now();
    let fully = 0;
    let ready = 0;
    let available = 0;
    let recheckAt: number | undefined;
    for (const p of active) {
      const labels = p.metadata.labels ?? {};
      if (Object.entries(templateLabels).every(([k, v]) => labels[k] === v)) fully++;
      if (!isPodReady(p)) continue;
      ready++;
      const a = podAvailability(p, minReady, now);
      if (a.available) available++;
      else if (a.at !== undefined) recheckAt = Math.min(recheckAt ?? a.at, a.at);
    }
    const old = field<ReplicaSetStatus>(rs, "status");
    let conditions = (old.conditions ?? []).filter((c) => c.type !== "ReplicaFailure");
    const oldFailure = getCondition(old.conditions, "ReplicaFailure");
    if (failure) conditions = [...conditions, oldFailure && oldFailure.message === failure.message ? oldFailure : { ...failure, lastTransitionTime: timestamp(now) }];
    const status: ReplicaSetStatus = { replicas: active.length };
    if (fully) status.fullyLabeledReplicas = fully;
    if (ready) status.readyReplicas = ready;
    if (available) status.availableReplicas = available;
    if (rs.metadata.generation) status.observedGeneration = rs.metadata.generation;
    if (conditions.length) status.conditions = conditions;
    if (!deepEqual(status, rs.status)) store.update(RS, { ...rs, status }, { subresource: "status" });
    if (recheckAt !== undefined) queue.addAfter(key, recheckAt - now.getTime());
  }

  return {
    name: "replicaset",
    observe(e) {
      if (e.resource.kind === "ReplicaSet" && e.resource.group === "apps") queue.add(keyOf(e.object));
      else if (e.resource.kind === "Pod") observePod(e);
    },
    start() {
      for (const rs of store.list(RS).items) queue.add(keyOf(rs));
    },
  };
}
