/**
 * The Deployment controller (pkg/controller/deployment), one step per sync as upstream:
 * - claims the ReplicaSets its selector matches; the "new" one is the oldest whose template equals the
 *   Deployment's ignoring pod-template-hash (so the seeded `<deploy>-<hash>` ReplicaSets are found as
 *   they are), else one is created: `<deploy>-<hash>`, the hash label in selector and template labels,
 *   annotations revision (max old revision + 1), desired-replicas and max-replicas, the Deployment's
 *   own annotations copied (except kubectl's last-applied and the deployment.kubernetes.io ones);
 * - a changed spec.replicas (a desired-replicas annotation that disagrees) is a scaling event: the one
 *   active ReplicaSet is scaled, or all of them proportionally;
 * - RollingUpdate: the new ReplicaSet scaled up within maxSurge, old ones scaled down within
 *   maxUnavailable as new pods become available (unhealthy old replicas first); Recreate: old ones
 *   scaled to 0, then, once their pods are gone, the new one scaled up;
 * - status observedGeneration, replicas, updatedReplicas, readyReplicas, availableReplicas,
 *   unavailableReplicas and the conditions Available (MinimumReplicasAvailable / Unavailable),
 *   Progressing (NewReplicaSetCreated, FoundNewReplicaSet, ReplicaSetUpdated, NewReplicaSetAvailable,
 *   ProgressDeadlineExceeded after progressDeadlineSeconds without progress, DeploymentPaused /
 *   DeploymentResumed) and ReplicaFailure from the ReplicaSets, with the real messages;
 * - Events ScalingReplicaSet "Scaled up replica set <rs> to <n>" / "Scaled down ...";
 * - old ReplicaSets beyond revisionHistoryLimit deleted once scaled to zero.
 *
 * The pod-template-hash is an FNV-32a of the template's canonical JSON (plus collisionCount) encoded
 * like rand.SafeEncodeString: the same look as the real one, not the same value (that hashes Go's
 * in-memory struct). Not modelled: rollbackTo (kubectl rolls back client-side anyway).
 */
import { timestamp, type KObject } from "../objects.js";
import { isApiError } from "../status.js";
import type { StoreEvent } from "../store.js";
import { claim } from "./claim.js";
import type { Controller, ControllerContext } from "./context.js";
import { specReplicas, type ReplicaSetSpec, type ReplicaSetStatus } from "./replicaset.js";
import { byCreation, controllerOf, controllerRef, deepEqual, field, getCondition, int, isPodActive, keyOf, podTemplateHash, scaledValue, selects, semanticEqual, splitKey, type Condition, type LabelSelectorSpec, type PodTemplate } from "./util.js";

const RS = "replicasets.apps";
const DEPLOY = "deployments.apps";
const REVISION = "deployment.kubernetes.io/revision";
const DESIRED = "deployment.kubernetes.io/desired-replicas";
const MAX = "deployment.kubernetes.io/max-replicas";
const HASH = "pod-template-hash";
const SKIP_ANNOTATIONS = new Set(["kubectl.kubernetes.io/last-applied-configuration", REVISION, "deployment.kubernetes.io/revision-history", DESIRED, MAX, "deprecated.deployment.rollback.to"]);
const MAX_INT32 = 2147483647;

interface DeploymentSpec {
  replicas?: number;
  selector?: LabelSelectorSpec;
  template?: PodTemplate;
  strategy?: { type?: string; rollingUpdate?: { maxSurge?: unknown; maxUnavailable?: unknown } };
  minReadySeconds?: number;
  revisionHistoryLimit?: number;
  progressDeadlineSeconds?: number;
  paused?: boolean;
}

interface DeploymentStatus {
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  unavailableReplicas?: number;
  conditions?: Condition[];
  collisionCount?: number;
}

const dspec = (d: KObject) => field<DeploymentSpec>(d, "spec");
const dstatus = (d: KObject) => field<DeploymentStatus>(d, "status");
const rsStatus = (rs: KObject) => field<ReplicaSetStatus>(rs, "status");
const revisionOf = (rs: KObject) => Number(rs.metadata.annotations?.[REVISION] ?? 0) || 0;
const sumSpec = (list: KObject[]) => list.reduce((a, rs) => a + specReplicas(rs), 0);
const sumStatus = (list: KObject[], f: keyof Omit<ReplicaSetStatus, "conditions">) => list.reduce((a, rs) => a + int(rsStatus(rs)[f]), 0);
const active = (list: KObject[]) => list.filter((rs) => specReplicas(rs) > 0);

/** deploymentutil.EqualIgnoreHash: templates equal once the pod-template-hash label is ignored. */
function equalIgnoreHash(a: PodTemplate | undefined, b: PodTemplate | undefined): boolean {
  const strip = (t: PodTemplate | undefined) => {
    const c = structuredClone(t ?? {});
    if (c.metadata?.labels) {
      delete c.metadata.labels[HASH];
      if (Object.keys(c.metadata.labels).length === 0) delete c.metadata.labels;
    }
    return c;
  };
  return semanticEqual(strip(a), strip(b));
}

/** deploymentutil.ResolveFenceposts: [maxSurge, maxUnavailable]; both zero makes maxUnavailable 1. */
function fenceposts(d: KObject): [number, number] {
  const ru = dspec(d).strategy?.rollingUpdate ?? {};
  const desired = specReplicas(d);
  const surge = scaledValue(ru.maxSurge ?? "25%", desired, true);
  let unavailable = scaledValue(ru.maxUnavailable ?? "25%", desired, false);
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return [surge, unavailable];
}

const isRolling = (d: KObject) => (dspec(d).strategy?.type ?? "RollingUpdate") === "RollingUpdate";
const maxSurge = (d: KObject) => (isRolling(d) ? fenceposts(d)[0] : 0);
function maxUnavailable(d: KObject): number {
  const replicas = specReplicas(d);
  if (!isRolling(d) || replicas === 0) return 0;
  return Math.min(fenceposts(d)[1], replicas);
}

const hasProgressDeadline = (d: KObject) => {
  const p = dspec(d).progressDeadlineSeconds;
  return typeof p === "number" && p !== MAX_INT32;
};

/** deploymentutil.SetDeploymentCondition: same status and reason is no change; same status keeps lastTransitionTime. */
function setCondition(status: DeploymentStatus, cond: Condition): void {
  const cur = getCondition(status.conditions, cond.type);
  if (cur && cur.status === cond.status && cur.reason === cond.reason) return;
  const next = cur && cur.status === cond.status ? { ...cond, lastTransitionTime: cur.lastTransitionTime } : cond;
  status.conditions = [...(status.conditions ?? []).filter((c) => c.type !== cond.type), next];
}

function removeCondition(status: DeploymentStatus, type: string): void {
  if (!status.conditions) return;
  status.conditions = status.conditions.filter((c) => c.type !== type);
  if (status.conditions.length === 0) delete status.conditions;
}

export function deploymentController(ctx: ControllerContext): Controller {
  const { store, recorder } = ctx;
  const queue = ctx.queue("deployment", sync);
  const condition = (type: string, status: string, reason: string, message: string): Condition => {
    const ts = timestamp(ctx.now());
    return { type, status, lastUpdateTime: ts, lastTransitionTime: ts, reason, message };
  };

  /** One sync's view: the Deployment as last written, its ReplicaSets as last written. */
  interface State {
    d: KObject;
    rsList: KObject[];
  }

  function writeRs(s: State, rs: KObject): KObject {
    const updated = store.update(RS, rs);
    s.rsList = s.rsList.map((x) => (x.metadata.uid === updated.metadata.uid ? updated : x));
    return updated;
  }

  /** Writes the Deployment's metadata and status together, as its status update does upstream. */
  function writeDeployment(s: State, d: KObject): void {
    s.d = store.update(DEPLOY, d, { keepStatus: true });
  }

  /** ReplicasAnnotationsNeedUpdate + SetReplicasAnnotations. */
  function withReplicaAnnotations(rs: KObject, desired: number, max: number): KObject | undefined {
    const a = rs.metadata.annotations ?? {};
    if (a[DESIRED] === String(desired) && a[MAX] === String(max)) return undefined;
    return { ...rs, metadata: { ...rs.metadata, annotations: { ...a, [DESIRED]: String(desired), [MAX]: String(max) } } };
  }

  /** scaleReplicaSet: replicas and the replica annotations; the Event only when the size changed. */
  function scaleRs(s: State, rs: KObject, newScale: number, op?: "up" | "down"): KObject {
    const d = s.d;
    const sizeChanged = specReplicas(rs) !== newScale;
    const annotated = withReplicaAnnotations(rs, specReplicas(d), specReplicas(d) + maxSurge(d));
    if (!sizeChanged && !annotated) return rs;
    const base = annotated ?? rs;
    const updated = writeRs(s, { ...base, spec: { ...field<ReplicaSetSpec>(base, "spec"), replicas: newScale } });
    if (sizeChanged) {
      const how = op ?? (newScale > specReplicas(rs) ? "up" : "down");
      recorder.event("deployment-controller", d, "Normal", "ScalingReplicaSet", `Scaled ${how} replica set ${rs.metadata.name} to ${newScale}`);
    }
    return updated;
  }

  /** SetNewReplicaSetAnnotations: copies the Deployment's annotations and raises the revision; true if anything changed. */
  function newRsAnnotations(d: KObject, annotations: Record<string, string>, newRevision: number, exists: boolean): boolean {
    let changed = false;
    for (const [k, v] of Object.entries(d.metadata.annotations ?? {})) {
      if (SKIP_ANNOTATIONS.has(k) || annotations[k] === v) continue;
      annotations[k] = v;
      changed = true;
    }
    const old = annotations[REVISION];
    const oldInt = old === undefined || old === "" ? 0 : Number(old);
    if (Number.isNaN(oldInt)) return changed;
    if (oldInt < newRevision) {
      annotations[REVISION] = String(newRevision);
      changed = true;
    }
    if (!exists) {
      annotations[DESIRED] = String(specReplicas(d));
      annotations[MAX] = String(specReplicas(d) + maxSurge(d));
      changed = true;
    }
    return changed;
  }

  function findNewRs(s: State): KObject | undefined {
    const tpl = dspec(s.d).template;
    return [...s.rsList].sort(byCreation).find((rs) => equalIgnoreHash(field<ReplicaSetSpec>(rs, "spec").template, tpl));
  }

  /** NewRSNewReplicas: how far the new ReplicaSet may grow now. */
  function newRsReplicas(d: KObject, all: KObject[], newRs: KObject): number {
    if (!isRolling(d)) return specReplicas(d);
    const current = sumSpec(all);
    const maxTotal = specReplicas(d) + maxSurge(d);
    if (current >= maxTotal) return specReplicas(newRs);
    return specReplicas(newRs) + Math.min(maxTotal - current, specReplicas(d) - specReplicas(newRs));
  }

  /** getNewReplicaSet (+ syncing the revision): the new ReplicaSet, created when asked and missing. */
  function newReplicaSet(s: State, create: boolean): KObject | undefined {
    const existing = findNewRs(s);
    const olds = s.rsList.filter((rs) => rs !== existing);
    const newRevision = Math.max(0, ...olds.map(revisionOf)) + 1;
    const spec = dspec(s.d);
    if (existing) {
      const annotations = { ...(existing.metadata.annotations ?? {}) };
      const changed = newRsAnnotations(s.d, annotations, newRevision, true);
      const rsSpec = field<ReplicaSetSpec>(existing, "spec");
      let rs = existing;
      if (changed || int(rsSpec.minReadySeconds) !== int(spec.minReadySeconds)) {
        const nextSpec: ReplicaSetSpec = { ...rsSpec };
        if (int(spec.minReadySeconds)) nextSpec.minReadySeconds = int(spec.minReadySeconds);
        else delete nextSpec.minReadySeconds;
        rs = writeRs(s, { ...existing, metadata: { ...existing.metadata, annotations }, spec: nextSpec });
      }
      syncRevision(s, rs.metadata.annotations?.[REVISION], hasProgressDeadline(s.d) && !getCondition(dstatus(s.d).conditions, "Progressing") ? condition("Progressing", "True", "FoundNewReplicaSet", `Found new replica set "${rs.metadata.name}"`) : undefined);
      return rs;
    }
    if (!create) return undefined;
    const collisionCount = dstatus(s.d).collisionCount;
    const hash = podTemplateHash(spec.template ?? {}, collisionCount);
    const template = structuredClone(spec.template ?? {});
    template.metadata = { ...(template.metadata ?? {}), labels: { ...(template.metadata?.labels ?? {}), [HASH]: hash } };
    const selector = structuredClone(spec.selector ?? {});
    selector.matchLabels = { ...(selector.matchLabels ?? {}), [HASH]: hash };
    const name = `${s.d.metadata.name}-${hash}`;
    const draft: KObject = {
      apiVersion: "apps/v1",
      kind: "ReplicaSet",
      metadata: { name, namespace: s.d.metadata.namespace, labels: { ...(template.metadata.labels ?? {}) }, ownerReferences: [controllerRef(s.d)] },
      spec: { replicas: 0, ...(int(spec.minReadySeconds) ? { minReadySeconds: int(spec.minReadySeconds) } : {}), selector, template },
    };
    const replicas = newRsReplicas(s.d, [...olds, draft], draft);
    (draft.spec as ReplicaSetSpec).replicas = replicas;
    const annotations: Record<string, string> = {};
    newRsAnnotations(s.d, annotations, newRevision, false);
    draft.metadata.annotations = annotations;
    let created: KObject;
    try {
      created = store.create(RS, draft);
    } catch (err) {
      if (!isApiError(err) || err.status.reason !== "AlreadyExists") throw err;
      const other = store.get(RS, s.d.metadata.namespace, name);
      if (controllerOf(other)?.uid === s.d.metadata.uid && equalIgnoreHash(spec.template, field<ReplicaSetSpec>(other, "spec").template)) return other;
      // a hash collision with a ReplicaSet that is not ours: count it, the next hash differs
      const status = { ...dstatus(s.d), collisionCount: (collisionCount ?? 0) + 1 };
      s.d = store.update(DEPLOY, { ...s.d, status }, { subresource: "status" });
      throw err;
    }
    s.rsList = [...s.rsList, created];
    if (replicas > 0) recorder.event("deployment-controller", s.d, "Normal", "ScalingReplicaSet", `Scaled up replica set ${name} to ${replicas}`);
    syncRevision(s, String(newRevision), hasProgressDeadline(s.d) ? condition("Progressing", "True", "NewReplicaSetCreated", `Created new replica set "${name}"`) : undefined);
    return created;
  }

  /** SetDeploymentRevision plus an optional Progressing condition, written together. */
  function syncRevision(s: State, revision: string | undefined, progressing: Condition | undefined): void {
    const annotations = { ...(s.d.metadata.annotations ?? {}) };
    let changed = false;
    if (revision !== undefined && annotations[REVISION] !== revision) {
      annotations[REVISION] = revision;
      changed = true;
    }
    const status = structuredClone(dstatus(s.d));
    if (progressing) {
      setCondition(status, progressing);
      changed = true;
    }
    if (changed) writeDeployment(s, { ...s.d, metadata: { ...s.d.metadata, annotations }, status });
  }

  function calculateStatus(s: State, newRs: KObject | undefined): DeploymentStatus {
    const all = s.rsList;
    const available = sumStatus(all, "availableReplicas");
    const total = sumStatus(all, "replicas");
    const old = dstatus(s.d);
    const status: DeploymentStatus = {};
    if (s.d.metadata.generation) status.observedGeneration = s.d.metadata.generation;
    const put = (k: "replicas" | "updatedReplicas" | "readyReplicas" | "availableReplicas" | "unavailableReplicas", v: number) => {
      if (v > 0) status[k] = v;
    };
    put("replicas", total);
    put("updatedReplicas", newRs ? int(rsStatus(newRs).replicas) : 0);
    put("readyReplicas", sumStatus(all, "readyReplicas"));
    put("availableReplicas", available);
    put("unavailableReplicas", Math.max(0, total - available));
    if (old.conditions?.length) status.conditions = structuredClone(old.conditions);
    if (old.collisionCount !== undefined) status.collisionCount = old.collisionCount;
    if (available >= specReplicas(s.d) - maxUnavailable(s.d)) setCondition(status, condition("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability."));
    else setCondition(status, condition("Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability."));
    return status;
  }

  const complete = (d: KObject, st: DeploymentStatus) => {
    const r = specReplicas(d);
    return int(st.updatedReplicas) === r && int(st.replicas) === r && int(st.availableReplicas) === r && int(st.observedGeneration) >= int(d.metadata.generation);
  };

  function writeStatus(s: State, status: DeploymentStatus): void {
    if (deepEqual(status, s.d.status)) return;
    s.d = store.update(DEPLOY, { ...s.d, status }, { subresource: "status" });
  }

  /** syncRolloutStatus: the Progressing condition's story, then the status written if it changed. */
  function syncRolloutStatus(s: State, newRs: KObject | undefined): void {
    const d = s.d;
    const status = calculateStatus(s, newRs);
    if (!hasProgressDeadline(d)) removeCondition(status, "Progressing");
    const cur = getCondition(dstatus(d).conditions, "Progressing");
    const isComplete = int(status.replicas) === int(status.updatedReplicas) && cur?.reason === "NewReplicaSetAvailable";
    if (hasProgressDeadline(d) && !isComplete) {
      const old = dstatus(d);
      const progressing = int(status.updatedReplicas) > int(old.updatedReplicas) || int(status.replicas) - int(status.updatedReplicas) < int(old.replicas) - int(old.updatedReplicas) || int(status.readyReplicas) > int(old.readyReplicas) || int(status.availableReplicas) > int(old.availableReplicas);
      if (complete(d, status)) {
        setCondition(status, condition("Progressing", "True", "NewReplicaSetAvailable", `ReplicaSet "${newRs?.metadata.name}" has successfully progressed.`));
      } else if (progressing) {
        const c = condition("Progressing", "True", "ReplicaSetUpdated", newRs ? `ReplicaSet "${newRs.metadata.name}" is progressing.` : `Deployment "${d.metadata.name}" is progressing.`);
        if (cur?.status === "True") c.lastTransitionTime = cur.lastTransitionTime;
        removeCondition(status, "Progressing");
        setCondition(status, c);
      } else if (timedOut(d, status)) {
        setCondition(status, condition("Progressing", "False", "ProgressDeadlineExceeded", newRs ? `ReplicaSet "${newRs.metadata.name}" has timed out progressing.` : `Deployment "${d.metadata.name}" has timed out progressing.`));
      }
    }
    const failure = [newRs, ...s.rsList.filter((rs) => rs !== newRs)].map((rs) => (rs ? getCondition(rsStatus(rs).conditions, "ReplicaFailure") : undefined)).find((c) => c);
    if (failure) setCondition(status, condition("ReplicaFailure", failure.status, failure.reason ?? "", failure.message ?? ""));
    else removeCondition(status, "ReplicaFailure");
    writeStatus(s, status);
    requeueStuck(s, status);
  }

  function timedOut(d: KObject, status: DeploymentStatus): boolean {
    const c = getCondition(status.conditions, "Progressing");
    if (!c || c.reason === "NewReplicaSetAvailable") return false;
    if (c.reason === "ProgressDeadlineExceeded") return true;
    const from = Date.parse(c.lastUpdateTime ?? "");
    return !Number.isNaN(from) && from + int(dspec(d).progressDeadlineSeconds) * 1000 < ctx.now().getTime();
  }

  /** requeueStuckDeployment: look again when the progress deadline would pass. */
  function requeueStuck(s: State, status: DeploymentStatus): void {
    const c = getCondition(dstatus(s.d).conditions, "Progressing");
    if (!hasProgressDeadline(s.d) || !c || complete(s.d, status) || c.reason === "ProgressDeadlineExceeded") return;
    const at = Date.parse(c.lastUpdateTime ?? "") + int(dspec(s.d).progressDeadlineSeconds) * 1000;
    if (Number.isNaN(at)) return;
    queue.addAfter(keyOf(s.d), Math.max(1000, at - ctx.now().getTime() + 1000));
  }

  /** syncDeploymentStatus (scaling and paused paths): Available recomputed, Progressing left alone. */
  function syncStatusOnly(s: State, newRs: KObject | undefined): void {
    writeStatus(s, calculateStatus(s, newRs));
  }

  /** cleanupDeployment: old, fully scaled-down ReplicaSets beyond revisionHistoryLimit, oldest revision first. */
  function cleanup(s: State, olds: KObject[]): void {
    const limit = dspec(s.d).revisionHistoryLimit;
    if (typeof limit !== "number") return;
    const cleanable = olds.filter((rs) => !rs.metadata.deletionTimestamp).sort((a, b) => revisionOf(a) - revisionOf(b));
    const diff = cleanable.length - limit;
    for (let i = 0; i < diff; i++) {
      const rs = cleanable[i]!;
      const st = rsStatus(rs);
      if (int(st.replicas) !== 0 || specReplicas(rs) !== 0 || int(rs.metadata.generation) > int(st.observedGeneration)) continue;
      try {
        store.delete(RS, rs.metadata.namespace, rs.metadata.name!);
      } catch (err) {
        if (!isApiError(err) || err.code !== 404) throw err;
      }
    }
  }

  /** scale(): the scaling-event path, proportional across active ReplicaSets for rolling updates. */
  function scale(s: State, newRs: KObject | undefined, olds: KObject[]): void {
    const d = s.d;
    const replicas = specReplicas(d);
    const sortedOlds = [...olds].sort(byCreation).reverse();
    const candidates = active([...sortedOlds, ...(newRs ? [newRs] : [])]);
    const activeOrLatest = candidates.length === 0 ? (newRs ?? sortedOlds[0]) : candidates.length === 1 ? candidates[0] : undefined;
    if (activeOrLatest) {
      if (specReplicas(activeOrLatest) !== replicas) scaleRs(s, activeOrLatest, replicas);
      return;
    }
    const saturated = newRs && specReplicas(newRs) === replicas && newRs.metadata.annotations?.[DESIRED] === String(replicas) && int(rsStatus(newRs).availableReplicas) === replicas;
    if (saturated) {
      for (const old of active(olds)) scaleRs(s, old, 0);
      return;
    }
    if (!isRolling(d)) return;
    let all = active([...olds, ...(newRs ? [newRs] : [])]);
    const allowed = replicas > 0 ? replicas + maxSurge(d) : 0;
    const toAdd = allowed - sumSpec(all);
    const newerFirst = (a: KObject, b: KObject) => specReplicas(b) - specReplicas(a) || -byCreation(a, b);
    const olderFirst = (a: KObject, b: KObject) => specReplicas(b) - specReplicas(a) || byCreation(a, b);
    if (toAdd > 0) all = all.sort(newerFirst);
    else if (toAdd < 0) all = all.sort(olderFirst);
    let added = 0;
    const sizes = new Map<KObject, number>();
    for (const rs of all) {
      if (toAdd === 0) {
        sizes.set(rs, specReplicas(rs));
        continue;
      }
      const p = proportion(d, rs, toAdd, added);
      sizes.set(rs, specReplicas(rs) + p);
      added += p;
    }
    all.forEach((rs, i) => {
      let size = sizes.get(rs)!;
      if (i === 0 && toAdd !== 0) size = Math.max(0, size + toAdd - added);
      scaleRs(s, rs, size, toAdd > 0 ? "up" : toAdd < 0 ? "down" : undefined);
    });
  }

  /** GetProportion: this ReplicaSet's share of the replicas to add (or remove). */
  function proportion(d: KObject, rs: KObject, toAdd: number, added: number): number {
    if (specReplicas(rs) === 0 || toAdd === 0 || toAdd === added) return 0;
    let fraction: number;
    if (specReplicas(d) === 0) fraction = -specReplicas(rs);
    else {
      const deploymentReplicas = specReplicas(d) + maxSurge(d);
      const annotated = Number(rs.metadata.annotations?.[MAX] ?? NaN);
      const base = Number.isInteger(annotated) && annotated > 0 ? annotated : int(dstatus(d).replicas);
      fraction = base > 0 ? Math.round((specReplicas(rs) * deploymentReplicas) / base) - specReplicas(rs) : 0;
    }
    const allowed = toAdd - added;
    return toAdd > 0 ? Math.min(fraction, allowed) : Math.max(fraction, allowed);
  }

  function isScalingEvent(s: State): boolean {
    const newRs = newReplicaSet(s, false);
    const all = [...s.rsList.filter((rs) => rs !== newRs), ...(newRs ? [newRs] : [])];
    return active(all).some((rs) => {
      const desired = rs.metadata.annotations?.[DESIRED];
      return desired !== undefined && /^\d+$/.test(desired) && Number(desired) !== specReplicas(s.d);
    });
  }

  /** checkPausedConditions: Progressing Unknown DeploymentPaused / DeploymentResumed. */
  function pausedConditions(s: State): void {
    if (!hasProgressDeadline(s.d)) return;
    const cur = getCondition(dstatus(s.d).conditions, "Progressing");
    if (cur?.reason === "ProgressDeadlineExceeded") return;
    const pausedCond = cur?.reason === "DeploymentPaused";
    const paused = dspec(s.d).paused === true;
    const status = structuredClone(dstatus(s.d));
    if (paused && !pausedCond) setCondition(status, condition("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused"));
    else if (!paused && pausedCond) setCondition(status, condition("Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed"));
    else return;
    s.d = store.update(DEPLOY, { ...s.d, status }, { subresource: "status" });
  }

  function rolloutRolling(s: State): void {
    const newRs = newReplicaSet(s, true)!;
    const olds = () => s.rsList.filter((rs) => rs.metadata.uid !== newRs.metadata.uid);
    const current = () => s.rsList.find((rs) => rs.metadata.uid === newRs.metadata.uid) ?? newRs;
    const d = s.d;
    const replicas = specReplicas(d);
    // reconcileNewReplicaSet
    const nr = current();
    if (specReplicas(nr) !== replicas) {
      const target = specReplicas(nr) > replicas ? replicas : newRsReplicas(d, s.rsList, nr);
      if (target !== specReplicas(nr)) {
        scaleRs(s, nr, target);
        return syncRolloutStatus(s, current());
      }
    }
    // reconcileOldReplicaSets
    if (sumSpec(olds()) > 0) {
      const minAvailable = replicas - maxUnavailable(d);
      const newUnavailable = specReplicas(current()) - int(rsStatus(current()).availableReplicas);
      const maxScaledDown = sumSpec(s.rsList) - minAvailable - newUnavailable;
      if (maxScaledDown > 0) {
        let cleaned = 0;
        for (const rs of [...olds()].sort(byCreation)) {
          if (cleaned >= maxScaledDown) break;
          const unhealthy = specReplicas(rs) - int(rsStatus(rs).availableReplicas);
          if (specReplicas(rs) === 0 || unhealthy <= 0) continue;
          const n = Math.min(maxScaledDown - cleaned, unhealthy);
          scaleRs(s, rs, specReplicas(rs) - n);
          cleaned += n;
        }
        let scaledDown = 0;
        const availableNow = sumStatus(s.rsList, "availableReplicas");
        if (availableNow > minAvailable) {
          const total = availableNow - minAvailable;
          for (const rs of [...olds()].sort(byCreation)) {
            if (scaledDown >= total) break;
            if (specReplicas(rs) === 0) continue;
            const n = Math.min(specReplicas(rs), total - scaledDown);
            scaleRs(s, rs, specReplicas(rs) - n);
            scaledDown += n;
          }
        }
        if (cleaned + scaledDown > 0) return syncRolloutStatus(s, current());
      }
    }
    if (complete(s.d, dstatus(s.d))) cleanup(s, olds());
    syncRolloutStatus(s, current());
  }

  function rolloutRecreate(s: State): void {
    let newRs = newReplicaSet(s, false);
    const olds = () => s.rsList.filter((rs) => rs.metadata.uid !== newRs?.metadata.uid);
    let scaledDown = false;
    for (const rs of active(olds())) {
      scaleRs(s, rs, 0);
      scaledDown = true;
    }
    if (scaledDown) return syncRolloutStatus(s, newRs);
    const oldUids = new Set(olds().map((rs) => rs.metadata.uid));
    const oldPodsRunning = sumStatus(olds(), "replicas") > 0 || store.list("pods", { namespace: s.d.metadata.namespace }).items.some((p) => oldUids.has(controllerOf(p)?.uid) && isPodActive(p));
    if (oldPodsRunning) return syncRolloutStatus(s, newRs);
    if (!newRs) newRs = newReplicaSet(s, true)!;
    newRs = s.rsList.find((rs) => rs.metadata.uid === newRs!.metadata.uid) ?? newRs;
    if (specReplicas(newRs) === 0) newRs = scaleRs(s, newRs, specReplicas(s.d));
    if (complete(s.d, dstatus(s.d))) cleanup(s, olds());
    syncRolloutStatus(s, newRs);
  }

  function sync(key: string): void {
    const [ns, name] = splitKey(key);
    const d = store.tryGet(DEPLOY, ns, name);
    if (!d) return;
    const spec = dspec(d);
    const s: State = { d, rsList: [] };
    if (Object.keys(spec.selector?.matchLabels ?? {}).length === 0 && (spec.selector?.matchExpressions ?? []).length === 0) {
      recorder.event("deployment-controller", d, "Warning", "SelectingAll", "This deployment is selecting all pods. A non-empty selector is required.");
      if (int(dstatus(d).observedGeneration) < int(d.metadata.generation)) writeStatus(s, { ...dstatus(d), observedGeneration: int(d.metadata.generation) });
      return;
    }
    s.rsList = claim(store, RS, d, store.list(RS, { namespace: ns }).items, (rs) => selects(spec.selector, rs.metadata.labels));
    pausedConditions(s);
    if (spec.paused || isScalingEvent(s)) {
      const newRs = newReplicaSet(s, false);
      scale(s, newRs, s.rsList.filter((rs) => rs.metadata.uid !== newRs?.metadata.uid));
      const current = newRs && s.rsList.find((rs) => rs.metadata.uid === newRs.metadata.uid);
      if (spec.paused) cleanup(s, s.rsList.filter((rs) => rs !== current));
      syncStatusOnly(s, current);
      return;
    }
    if (isRolling(s.d)) rolloutRolling(s);
    else rolloutRecreate(s);
  }

  /** The Deployment that controls ReplicaSet `rs`, or those whose selector would adopt it. */
  function deploymentsFor(rs: KObject): string[] {
    const ref = controllerOf(rs);
    if (ref) return ref.kind === "Deployment" ? [`${rs.metadata.namespace}/${ref.name}`] : [];
    return store
      .list(DEPLOY, { namespace: rs.metadata.namespace })
      .items.filter((d) => selects(dspec(d).selector, rs.metadata.labels))
      .map(keyOf);
  }

  return {
    name: "deployment",
    observe(e: StoreEvent) {
      if (e.resource.group !== "apps") {
        // Recreate waits for the old pods to be gone
        if (e.resource.kind === "Pod" && e.type === "DELETED") {
          const ref = controllerOf(e.object);
          if (ref?.kind !== "ReplicaSet") return;
          const rs = store.tryGet(RS, e.object.metadata.namespace, ref.name);
          if (rs) for (const k of deploymentsFor(rs)) queue.add(k);
        }
        return;
      }
      if (e.resource.kind === "Deployment") queue.add(keyOf(e.object));
      else if (e.resource.kind === "ReplicaSet") {
        const objs = e.type === "MODIFIED" && e.previous ? [e.previous, e.object] : [e.object];
        for (const o of objs) for (const k of deploymentsFor(o)) queue.add(k);
      }
    },
    start() {
      for (const d of store.list(DEPLOY).items) queue.add(keyOf(d));
    },
  };
}
