/**
 * The Events a cluster has right after it came up (they live an hour in a real one, so a fresh sandbox
 * still shows them), with the texts of the components that record them:
 * - per lab pod: `Scheduled` from default-scheduler (recorded through events.k8s.io/v1, so read back
 *   with eventTime, reportingComponent and no first/lastTimestamp), then from the kubelet on the pod's
 *   node, per container, `Pulled` / `Created` / `Started` (pkg/kubelet/events and
 *   pkg/kubelet/kuberuntime: "Container image %q already present on machine", "Created container %s",
 *   "Started container %s") with fieldPath `spec.containers{<name>}`;
 * - per node, in namespace default: the kubelet's `Starting` ("Starting kubelet."), the
 *   `NodeHas...` condition events, `NodeAllocatableEnforced` and `NodeReady` ("Node %s status is now:
 *   %s"), whose involvedObject uid is the node's name as the kubelet's nodeRef has it (and as
 *   `kubectl describe node` searches), and node-controller's `RegisteredNode`.
 * Names are `<object>.<hex nanoseconds>` like client-go's recorder makes them.
 */
import type { ClusterPlan } from "../../plan.js";
import type { KObject } from "../objects.js";
import type { Store } from "../store.js";

interface Recorded {
  namespace: string;
  involvedObject: Record<string, string>;
  reason: string;
  message: string;
  component: string;
  host?: string;
}

/** The seeded events, in the order they were recorded, named after `createdAt` in nanoseconds. */
export function seedEventObjects(store: Store, plan: ClusterPlan, createdAt: Date): KObject[] {
  const ts = createdAt.toISOString().replace(/\.\d{3}Z$/, "Z");
  const micro = createdAt.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
  let nanos = BigInt(createdAt.getTime()) * 1_000_000n;
  const out: KObject[] = [];
  const name = (object: string) => `${object}.${(nanos++).toString(16)}`;
  const kubelet = (r: Recorded): KObject => ({
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: name(r.involvedObject.name!), namespace: r.namespace, creationTimestamp: ts },
    involvedObject: r.involvedObject,
    reason: r.reason,
    message: r.message,
    source: { component: r.component, ...(r.host ? { host: r.host } : {}) },
    firstTimestamp: ts,
    lastTimestamp: ts,
    count: 1,
    type: "Normal",
    eventTime: null,
    reportingComponent: r.component,
    reportingInstance: r.host ?? "",
  });

  const cp = plan.nodes.find((n) => n.role === "control-plane")?.name ?? plan.nodes[0]?.name ?? "";
  for (const n of plan.nodes) {
    const ref = { kind: "Node", name: n.name, uid: n.name };
    const node = (reason: string, message: string) => out.push(kubelet({ namespace: "default", involvedObject: ref, reason, message, component: "kubelet", host: n.name }));
    node("Starting", "Starting kubelet.");
    for (const c of ["NodeHasSufficientMemory", "NodeHasNoDiskPressure", "NodeHasSufficientPID"]) node(c, `Node ${n.name} status is now: ${c}`);
    node("NodeAllocatableEnforced", "Updated Node Allocatable limit across pods");
    node("NodeReady", `Node ${n.name} status is now: NodeReady`);
    const uid = store.tryGet("nodes", undefined, n.name)?.metadata.uid;
    if (uid) {
      out.push(kubelet({ namespace: "default", involvedObject: { kind: "Node", name: n.name, uid, apiVersion: "v1" }, reason: "RegisteredNode", message: `Node ${n.name} event: Registered Node ${n.name} in Controller`, component: "node-controller" }));
    }
  }

  for (const p of plan.pods) {
    const pod = store.tryGet("pods", p.namespace, p.name);
    if (!pod) continue;
    const ref = { kind: "Pod", namespace: p.namespace, name: p.name, uid: pod.metadata.uid!, apiVersion: "v1", resourceVersion: pod.metadata.resourceVersion ?? "" };
    out.push({
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: name(p.name), namespace: p.namespace, creationTimestamp: ts },
      involvedObject: ref,
      reason: "Scheduled",
      message: `Successfully assigned ${p.namespace}/${p.name} to ${p.node}`,
      source: {},
      firstTimestamp: null,
      lastTimestamp: null,
      type: "Normal",
      eventTime: micro,
      action: "Binding",
      reportingComponent: "default-scheduler",
      reportingInstance: `default-scheduler-${cp}`,
    });
    const containers = ((pod.spec as { containers?: Array<{ name: string; image: string }> } | undefined)?.containers ?? []);
    for (const c of containers) {
      const cref = { ...ref, fieldPath: `spec.containers{${c.name}}` };
      const k = (reason: string, message: string) => out.push(kubelet({ namespace: p.namespace, involvedObject: cref, reason, message, component: "kubelet", host: p.node }));
      k("Pulled", `Container image "${c.image}" already present on machine`);
      k("Created", `Created container ${c.name}`);
      k("Started", `Started container ${c.name}`);
    }
  }
  return out;
}

/** Records the start-up events in the store (after nodes and pods exist). */
export function seedEvents(store: Store, plan: ClusterPlan, createdAt: Date): void {
  for (const e of seedEventObjects(store, plan, createdAt)) store.create("events", e, { keepStatus: true });
}
