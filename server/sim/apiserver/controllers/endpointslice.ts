/**
 * The EndpointSlice controller (pkg/controller/endpointslice), for IPv4: every Service with a selector
 * (not ExternalName) gets EndpointSlices `<svc>-<5 chars>` (generateName), labelled
 * kubernetes.io/service-name and endpointslice.kubernetes.io/managed-by:
 * endpointslice-controller.k8s.io on top of the Service's own labels, owned by the Service (so the
 * garbage collector removes them with it), addressType IPv4. Each selected pod with an address is an
 * endpoint with conditions ready (ready and not terminating, or publishNotReadyAddresses), serving and
 * terminating, nodeName and a targetRef; pods are grouped into one slice per set of resolved ports
 * (every port named, "" included, as the controller writes them). A Service with no such pod keeps one
 * placeholder slice with no endpoints and no ports. Not modelled: the 100-endpoint slice limit, zones
 * and hints, dual stack.
 */
import type { KObject } from "../objects.js";
import { isApiError } from "../status.js";
import type { Store } from "../store.js";
import type { Controller, ControllerContext } from "./context.js";
import { findPort, hostnameFor, managesEndpoints, podCounts, podIP, selectedPods, serviceKeyedController, serviceSpec } from "./service-pods.js";
import { canonicalJson, controllerRef, deepEqual, isPodReady, podSpec } from "./util.js";

const ES = "endpointslices.discovery.k8s.io";
export const SERVICE_NAME = "kubernetes.io/service-name";
const MANAGED_BY = "endpointslice.kubernetes.io/managed-by";
const CONTROLLER = "endpointslice-controller.k8s.io";
const HEADLESS = "service.kubernetes.io/headless";

interface SlicePort {
  name: string;
  port: number;
  protocol: string;
  appProtocol?: string;
}

interface Endpoint {
  addresses: string[];
  conditions: { ready: boolean; serving: boolean; terminating: boolean };
  hostname?: string;
  targetRef: { kind: string; namespace?: string; name: string; uid?: string };
  nodeName?: string;
}

const endpointKey = (e: Endpoint) => `${e.addresses[0] ?? ""}/${e.targetRef.uid ?? ""}`;
const sortEndpoints = (list: Endpoint[]) => [...list].sort((a, b) => (endpointKey(a) < endpointKey(b) ? -1 : 1));

/** The slice labels: the Service's, then the two the controller owns (setEndpointSliceLabels). */
function sliceLabels(svc: KObject): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(svc.metadata.labels ?? {})) if (k !== SERVICE_NAME && k !== MANAGED_BY && k !== HEADLESS) labels[k] = v;
  if (serviceSpec(svc).clusterIP === "None") labels[HEADLESS] = "";
  labels[SERVICE_NAME] = svc.metadata.name!;
  labels[MANAGED_BY] = CONTROLLER;
  return labels;
}

/** Endpoints grouped by the ports they resolve to; one empty group (the placeholder) when there are none. */
function desiredGroups(svc: KObject, pods: KObject[]): Array<{ ports: SlicePort[] | null; endpoints: Endpoint[] }> {
  const spec = serviceSpec(svc);
  const groups = new Map<string, { ports: SlicePort[] | null; endpoints: Endpoint[] }>();
  for (const pod of pods) {
    if (!podCounts(pod, true)) continue;
    const ports: SlicePort[] = [];
    for (const sp of spec.ports ?? []) {
      const num = findPort(pod, sp);
      if (num === undefined) continue;
      ports.push({ name: sp.name ?? "", port: num, protocol: sp.protocol ?? "TCP", ...(sp.appProtocol ? { appProtocol: sp.appProtocol } : {}) });
    }
    const serving = isPodReady(pod);
    const terminating = Boolean(pod.metadata.deletionTimestamp);
    const ep: Endpoint = {
      addresses: [podIP(pod)],
      conditions: { ready: spec.publishNotReadyAddresses === true || (serving && !terminating), serving, terminating },
      targetRef: { kind: "Pod", namespace: pod.metadata.namespace, name: pod.metadata.name!, uid: pod.metadata.uid },
    };
    const hostname = hostnameFor(pod, svc);
    if (hostname) ep.hostname = hostname;
    const nodeName = podSpec(pod).nodeName;
    if (nodeName) ep.nodeName = nodeName;
    const k = canonicalJson(ports);
    const g = groups.get(k) ?? { ports, endpoints: [] };
    g.endpoints.push(ep);
    groups.set(k, g);
  }
  if (groups.size === 0) return [{ ports: null, endpoints: [] }];
  return [...groups.values()].map((g) => ({ ports: g.ports, endpoints: sortEndpoints(g.endpoints) }));
}

/**
 * Brings the Service's managed EndpointSlices in line with its pods: slices whose ports match a group
 * are updated when their endpoints or labels differ, missing groups created, leftovers deleted. A
 * Service that is gone or has no selector is left alone (the garbage collector owns the cleanup). Also
 * what the seed calls (with the seed's creationTimestamp), so a seeded cluster holds exactly what the
 * controller would write.
 */
export function syncEndpointSlices(store: Store, namespace: string | undefined, name: string, creationTimestamp?: string): void {
  const svc = store.tryGet("services", namespace, name);
  if (!svc || !managesEndpoints(svc)) return;
  const labels = sliceLabels(svc);
  const existing = store.list(ES, { namespace, labelSelector: [{ key: SERVICE_NAME, op: "=", values: [name] }, { key: MANAGED_BY, op: "=", values: [CONTROLLER] }] }).items;
  const unused = new Set(existing);
  for (const g of desiredGroups(svc, selectedPods(store, svc))) {
    const match = [...unused].find((s) => canonicalJson(s.ports ?? null) === canonicalJson(g.ports));
    if (match) {
      unused.delete(match);
      const current = Array.isArray(match.endpoints) ? sortEndpoints(match.endpoints as Endpoint[]) : [];
      if (deepEqual(current, g.endpoints) && deepEqual(match.metadata.labels ?? {}, labels) && match.addressType === "IPv4") continue;
      store.update(ES, { ...match, metadata: { ...match.metadata, labels }, addressType: "IPv4", endpoints: g.endpoints.length ? g.endpoints : null, ports: g.ports });
      continue;
    }
    const slice: KObject = {
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: { generateName: `${name}-`, namespace, labels, ownerReferences: [controllerRef(svc)], ...(creationTimestamp ? { creationTimestamp } : {}) },
      addressType: "IPv4",
      endpoints: g.endpoints.length ? g.endpoints : null,
      ports: g.ports,
    };
    // the seed dates its objects: keepStatus keeps the creationTimestamp (EndpointSlices have no create strategy)
    store.create(ES, slice, { keepStatus: creationTimestamp !== undefined });
  }
  for (const s of unused) {
    try {
      store.delete(ES, namespace, s.metadata.name!);
    } catch (err) {
      if (!isApiError(err) || err.code !== 404) throw err;
    }
  }
}

export function endpointSliceController(ctx: ControllerContext): Controller {
  // a managed slice changed or deleted by someone else is put back
  return serviceKeyedController(ctx, "endpointslice", (ns, name) => syncEndpointSlices(ctx.store, ns, name), (e) => {
    if (e.resource.kind !== "EndpointSlice" || e.resource.group !== "discovery.k8s.io") return undefined;
    const labels = e.object.metadata.labels ?? {};
    const svc = labels[SERVICE_NAME];
    return svc && labels[MANAGED_BY] === CONTROLLER ? `${e.object.metadata.namespace}/${svc}` : undefined;
  });
}
