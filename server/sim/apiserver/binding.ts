/**
 * Binding a pod to a node, as the pods/binding subresource does it (BindingREST.assignPod in
 * pkg/registry/core/pod/storage): spec.nodeName set, the Binding's annotations merged, condition
 * PodScheduled=True; a pod being deleted or already on a node is a 409 with the registry's words.
 * The scheduler binds through here, and so does `POST .../pods/<name>/binding` (handler.ts).
 */
import { clone, isRecord, timestamp, type KObject } from "./objects.js";
import { badRequest, conflict, invalid } from "./status.js";
import type { Store } from "./store.js";

const BINDING = { plural: "pods/binding", group: "" };

/** podutil.UpdatePodCondition: a new or changed condition gets lastTransitionTime now; unchanged ones keep theirs. */
export function setPodCondition(status: Record<string, unknown>, cond: { type: string; status: string; reason?: string; message?: string }, now: Date): void {
  const list = Array.isArray(status.conditions) ? (status.conditions as Array<Record<string, unknown>>) : [];
  const i = list.findIndex((c) => isRecord(c) && c.type === cond.type);
  const old = i >= 0 ? list[i]! : undefined;
  const next: Record<string, unknown> = { type: cond.type, status: cond.status, lastProbeTime: null, lastTransitionTime: old && old.status === cond.status ? old.lastTransitionTime : timestamp(now) };
  if (cond.reason) next.reason = cond.reason;
  if (cond.message) next.message = cond.message;
  if (i >= 0) list[i] = next;
  else list.push(next);
  status.conditions = list;
}

/**
 * Binds pod `namespace/name` to `target` and returns the updated pod. `pre` holds the Binding's own
 * metadata.uid/resourceVersion preconditions and annotations, when it carried any.
 */
export function bindPod(store: Store, namespace: string, name: string, target: string, now: Date, pre: { uid?: string; resourceVersion?: string; annotations?: Record<string, string> } = {}, dryRun = false): KObject {
  if (!target) throw invalid({ kind: "Binding", group: "" }, name, [{ field: "target.name", type: "FieldValueRequired", detail: "" }]);
  const pod = store.get("pods", namespace, name);
  if (pre.uid && pre.uid !== pod.metadata.uid) throw conflict(BINDING, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${pod.metadata.uid}`);
  if (pre.resourceVersion && pre.resourceVersion !== pod.metadata.resourceVersion) throw conflict(BINDING, name, "the object has been modified; please apply your changes to the latest version and try again");
  if (pod.metadata.deletionTimestamp) throw conflict(BINDING, name, `pod ${name} is being deleted, cannot be assigned to a host`);
  const spec = isRecord(pod.spec) ? pod.spec : {};
  if (typeof spec.nodeName === "string" && spec.nodeName !== "") throw conflict(BINDING, name, `pod ${name} is already assigned to node ${JSON.stringify(spec.nodeName)}`);
  const next = clone(pod);
  next.spec = { ...spec, nodeName: target };
  if (pre.annotations && Object.keys(pre.annotations).length) next.metadata.annotations = { ...(next.metadata.annotations ?? {}), ...pre.annotations };
  const status = isRecord(next.status) ? next.status : {};
  setPodCondition(status, { type: "PodScheduled", status: "True" }, now);
  next.status = status;
  return store.update("pods", next, { keepStatus: true, dryRun });
}

/** Reads a Binding body (`{"target": {"kind": "Node", "name": ...}}`) into bindPod's arguments. */
export function parseBinding(body: unknown, urlName: string): { target: string; uid?: string; resourceVersion?: string; annotations?: Record<string, string> } {
  if (!isRecord(body)) throw badRequest("the object provided is unrecognized (must be of type Binding)");
  const meta = isRecord(body.metadata) ? body.metadata : {};
  if (typeof meta.name === "string" && meta.name !== "" && meta.name !== urlName) throw badRequest("name in URL does not match name in Binding object");
  const target = isRecord(body.target) ? body.target : {};
  if (target.kind !== undefined && target.kind !== "" && target.kind !== "Node") {
    throw invalid({ kind: "Binding", group: "" }, urlName, [{ field: "target.kind", type: "FieldValueNotSupported", value: target.kind, detail: 'supported values: "Node", ""' }]);
  }
  const annotations = isRecord(meta.annotations) ? Object.fromEntries(Object.entries(meta.annotations).filter((e): e is [string, string] => typeof e[1] === "string")) : undefined;
  return {
    target: typeof target.name === "string" ? target.name : "",
    ...(typeof meta.uid === "string" && meta.uid ? { uid: meta.uid } : {}),
    ...(typeof meta.resourceVersion === "string" && meta.resourceVersion ? { resourceVersion: meta.resourceVersion } : {}),
    ...(annotations ? { annotations } : {}),
  };
}
