/**
 * What the Endpoints and EndpointSlice controllers both need: a Service's selector over pods (a map
 * selector; an absent or empty one means the Service's endpoints are managed by someone else), which pods count
 * (endpointutil.ShouldPodBeInEndpoints: not terminal, with an address), named target ports resolved
 * from the pod's container ports (podutil.FindPort), and which pod changes can matter.
 */
import type { KObject } from "../objects.js";
import type { Store, StoreEvent } from "../store.js";
import type { Controller, ControllerContext } from "./context.js";
import { deepEqual, field, getCondition, keyOf, podSpec, podStatus, splitKey } from "./util.js";

export interface ServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
  protocol?: string;
  appProtocol?: string;
}

export interface ServiceSpec {
  selector?: Record<string, string> | null;
  ports?: ServicePort[];
  clusterIP?: string;
  type?: string;
  publishNotReadyAddresses?: boolean;
}

export const serviceSpec = (svc: KObject) => field<ServiceSpec>(svc, "spec");

/**
 * Whether the controllers manage this Service's endpoints: it has a selector and is not ExternalName.
 * An empty selector is none: etcd's protobuf encoding stores `{}` as absent, so kube-apiserver never
 * hands the controllers an empty one.
 */
export function managesEndpoints(svc: KObject): boolean {
  const spec = serviceSpec(svc);
  return spec.type !== "ExternalName" && Object.keys(spec.selector ?? {}).length > 0;
}

/** labels.SelectorFromSet: every pair must match. */
function selectorSelects(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return Object.entries(selector).every(([k, v]) => Object.prototype.hasOwnProperty.call(l, k) && l[k] === v);
}

/** The pods of the Service's namespace its selector matches. */
export function selectedPods(store: Store, svc: KObject): KObject[] {
  const selector = serviceSpec(svc).selector ?? {};
  return store.list("pods", { namespace: svc.metadata.namespace }).items.filter((p) => selectorSelects(selector, p.metadata.labels));
}

/** endpointutil.ShouldPodBeInEndpoints: not Succeeded/Failed, has an address, and (unless asked) not terminating. */
export function podCounts(pod: KObject, includeTerminating: boolean): boolean {
  const st = podStatus(pod);
  if (st.phase === "Succeeded" || st.phase === "Failed") return false;
  if (!st.podIP && !(st.podIPs ?? []).length) return false;
  return includeTerminating || !pod.metadata.deletionTimestamp;
}

/** podutil.FindPort: a numeric targetPort as is, a named one from the pod's container ports of the same protocol. */
export function findPort(pod: KObject, port: ServicePort): number | undefined {
  const target = port.targetPort ?? port.port;
  if (typeof target === "number") return target;
  for (const c of podSpec(pod).containers ?? []) {
    for (const p of c.ports ?? []) if (p.name === target && (p.protocol ?? "TCP") === (port.protocol ?? "TCP")) return p.containerPort;
  }
  return undefined;
}

/** The pod's IPv4 address (status.podIP, else the first of podIPs). */
export function podIP(pod: KObject): string {
  const st = podStatus(pod);
  return st.podIP || st.podIPs?.[0]?.ip || "";
}

/** podToEndpointAddressForService's hostname rule (endpointutil.ShouldSetHostname). */
export function hostnameFor(pod: KObject, svc: KObject): string | undefined {
  const spec = podSpec(pod);
  return spec.hostname && spec.subdomain === svc.metadata.name && pod.metadata.namespace === svc.metadata.namespace ? spec.hostname : undefined;
}

/** The Service keys (`ns/name`) a pod event can change the endpoints of: before and after the change. */
export function servicesForPodEvent(store: Store, e: StoreEvent): string[] {
  if (e.type === "MODIFIED" && e.previous) {
    const view = (p: KObject) => [p.metadata.labels, podIP(p), getCondition(podStatus(p).conditions, "Ready")?.status, podStatus(p).phase, p.metadata.deletionTimestamp, podSpec(p).nodeName, podSpec(p).hostname, podSpec(p).containers?.map((c) => c.ports)];
    if (deepEqual(view(e.previous), view(e.object))) return [];
  }
  const pods = e.type === "MODIFIED" && e.previous ? [e.previous, e.object] : [e.object];
  const out = new Set<string>();
  for (const svc of store.list("services", { namespace: e.object.metadata.namespace }).items) {
    if (!managesEndpoints(svc)) continue;
    const selector = serviceSpec(svc).selector ?? {};
    if (pods.some((p) => selectorSelects(selector, p.metadata.labels))) out.add(keyOf(svc));
  }
  return [...out];
}

/**
 * A controller keyed by Service (`ns/name`): a Service event queues its key, a pod event the keys of
 * the Services selecting the pod before or after, and `own` maps an event about the controller's own
 * objects to the Service to look at again (or undefined).
 */
export function serviceKeyedController(ctx: ControllerContext, name: string, sync: (namespace: string | undefined, name: string) => void, own: (e: StoreEvent) => string | undefined): Controller {
  const { store } = ctx;
  const queue = ctx.queue(name, (key) => {
    const [ns, n] = splitKey(key);
    sync(ns, n);
  });
  return {
    name,
    observe(e: StoreEvent) {
      const kind = e.resource.kind;
      if (kind === "Service") queue.add(keyOf(e.object));
      else if (kind === "Pod") for (const k of servicesForPodEvent(store, e)) queue.add(k);
      else {
        const k = own(e);
        if (k) queue.add(k);
      }
    },
    start() {
      for (const svc of store.list("services").items) if (managesEndpoints(svc)) queue.add(keyOf(svc));
    },
  };
}
