/**
 * The Endpoints controller (pkg/controller/endpoint): for every Service with a selector (not
 * ExternalName), an Endpoints object of the same name whose subsets list the selected pods that have an
 * address: ready ones under `addresses`, the others under `notReadyAddresses` (all under addresses with
 * publishNotReadyAddresses), each with ip, nodeName and a targetRef to the pod, per Service port with
 * named target ports resolved from the pod's container ports (a pod without that port is left out of
 * that port), repacked into one subset per set of addresses sharing the same ports
 * (endpoints.RepackSubsets) with addresses sorted by IP. Labels are the Service's (plus
 * service.kubernetes.io/headless for headless Services); a write carries
 * endpoints.kubernetes.io/last-change-trigger-time. A deleted Service takes its Endpoints along; deleted
 * Endpoints of a Service come back. Services without a selector are left alone (`kubernetes`).
 * Not modelled: the 1000-address truncation.
 */
import type { KObject, ObjectMeta } from "../objects.js";
import { isApiError } from "../status.js";
import type { Controller, ControllerContext } from "./context.js";
import { findPort, hostnameFor, managesEndpoints, podCounts, podIP, selectedPods, serviceKeyedController, serviceSpec } from "./service-pods.js";
import { canonicalJson, deepEqual, isPodReady, keyOf, podSpec, podStatus } from "./util.js";

const TRIGGER = "endpoints.kubernetes.io/last-change-trigger-time";
const HEADLESS = "service.kubernetes.io/headless";

interface Address {
  ip: string;
  hostname?: string;
  nodeName?: string;
  targetRef?: { kind: string; namespace?: string; name: string; uid?: string; resourceVersion?: string };
}

interface Port {
  name?: string;
  port: number;
  protocol?: string;
  appProtocol?: string;
}

interface Subset {
  addresses?: Address[];
  notReadyAddresses?: Address[];
  ports?: Port[];
}

const byIp = (a: Address, b: Address) => (a.ip !== b.ip ? (a.ip < b.ip ? -1 : 1) : (a.targetRef?.uid ?? "") < (b.targetRef?.uid ?? "") ? -1 : 1);
const portKey = (p: Port) => canonicalJson(p);

/** endpoints.RepackSubsets: one subset per distinct set of (address, ready) sharing the same ports. */
function repack(entries: Array<{ address: Address; ready: boolean; port: Port | undefined }>): Subset[] {
  const byPort = new Map<string, { port: Port | undefined; addrs: Map<string, { address: Address; ready: boolean }> }>();
  for (const e of entries) {
    const k = e.port ? portKey(e.port) : "";
    const slot = byPort.get(k) ?? { port: e.port, addrs: new Map() };
    slot.addrs.set(`${e.address.ip}/${e.address.targetRef?.uid ?? ""}`, { address: e.address, ready: e.ready });
    byPort.set(k, slot);
  }
  const groups = new Map<string, Subset>();
  for (const { port, addrs } of byPort.values()) {
    const k = [...addrs].map(([a, v]) => `${a}:${v.ready}`).sort().join(",");
    const g = groups.get(k) ?? { ...subsetAddresses([...addrs.values()]) };
    if (port) g.ports = [...(g.ports ?? []), port];
    groups.set(k, g);
  }
  return canonicalSubsets([...groups.values()]);
}

function subsetAddresses(list: Array<{ address: Address; ready: boolean }>): Subset {
  const s: Subset = {};
  const ready = list.filter((x) => x.ready).map((x) => x.address);
  const notReady = list.filter((x) => !x.ready).map((x) => x.address);
  if (ready.length) s.addresses = ready;
  if (notReady.length) s.notReadyAddresses = notReady;
  return s;
}

/** Addresses by IP, ports by name/port/protocol, subsets by their first address: one text per meaning. */
function canonicalSubsets(subsets: Subset[]): Subset[] {
  const stripRv = (a: Address): Address => {
    if (!a.targetRef?.resourceVersion) return a;
    const { resourceVersion: _rv, ...ref } = a.targetRef;
    return { ...a, targetRef: ref };
  };
  const out = subsets.map((s) => {
    const c: Subset = {};
    if (s.addresses?.length) c.addresses = s.addresses.map(stripRv).sort(byIp);
    if (s.notReadyAddresses?.length) c.notReadyAddresses = s.notReadyAddresses.map(stripRv).sort(byIp);
    if (s.ports?.length) c.ports = [...s.ports].sort((a, b) => (portKey(a) < portKey(b) ? -1 : 1));
    return c;
  });
  return out.sort((a, b) => (canonicalJson(a) < canonicalJson(b) ? -1 : 1));
}

/** The subsets the Service's selected pods make. */
function desiredSubsets(svc: KObject, pods: KObject[]): Subset[] {
  const spec = serviceSpec(svc);
  const tolerateUnready = spec.publishNotReadyAddresses === true;
  const entries: Array<{ address: Address; ready: boolean; port: Port | undefined }> = [];
  for (const pod of pods) {
    if (!podCounts(pod, tolerateUnready)) continue;
    const address: Address = { ip: podIP(pod) };
    const hostname = hostnameFor(pod, svc);
    if (hostname) address.hostname = hostname;
    const nodeName = podSpec(pod).nodeName;
    if (nodeName) address.nodeName = nodeName;
    address.targetRef = { kind: "Pod", namespace: pod.metadata.namespace, name: pod.metadata.name!, uid: pod.metadata.uid };
    const ready = tolerateUnready || isPodReady(pod);
    // addEndpointSubset: a not-ready pod that will never run again (restartPolicy Never/OnFailure, done) is left out
    const restart = podSpec(pod).restartPolicy;
    const phase = podStatus(pod).phase;
    if (!ready && ((restart === "Never" && (phase === "Failed" || phase === "Succeeded")) || (restart === "OnFailure" && phase === "Succeeded"))) continue;
    if (!spec.ports?.length) {
      if (spec.clusterIP === "None") entries.push({ address, ready, port: undefined });
      continue;
    }
    for (const sp of spec.ports) {
      const num = findPort(pod, sp);
      if (num === undefined) continue;
      const port: Port = { ...(sp.name ? { name: sp.name } : {}), port: num, protocol: sp.protocol ?? "TCP", ...(sp.appProtocol ? { appProtocol: sp.appProtocol } : {}) };
      entries.push({ address, ready, port });
    }
  }
  return repack(entries);
}

export function endpointsController(ctx: ControllerContext): Controller {
  const { store } = ctx;

  function sync(ns: string | undefined, name: string): void {
    const svc = store.tryGet("services", ns, name);
    const current = store.tryGet("endpoints", ns, name);
    if (!svc) {
      if (!current) return;
      try {
        store.delete("endpoints", ns, name);
      } catch (err) {
        if (!isApiError(err) || err.code !== 404) throw err;
      }
      return;
    }
    if (!managesEndpoints(svc)) return;
    const subsets = desiredSubsets(svc, selectedPods(store, svc));
    const labels: Record<string, string> = { ...(svc.metadata.labels ?? {}) };
    if (serviceSpec(svc).clusterIP === "None") labels[HEADLESS] = "";
    if (current) {
      const currentSubsets = canonicalSubsets(Array.isArray(current.subsets) ? (current.subsets as Subset[]) : []);
      if (deepEqual(currentSubsets, subsets) && deepEqual(current.metadata.labels ?? {}, labels)) return;
    }
    const annotations = { ...(current?.metadata.annotations ?? {}), [TRIGGER]: ctx.now().toISOString() };
    const meta: ObjectMeta = { ...(current?.metadata ?? { name, namespace: ns }), annotations };
    if (Object.keys(labels).length) meta.labels = labels;
    else delete meta.labels;
    const next: KObject = { apiVersion: "v1", kind: "Endpoints", metadata: meta };
    if (subsets.length) next.subsets = subsets;
    if (current) store.update("endpoints", next);
    else store.create("endpoints", next);
  }

  // deleted Endpoints of a Service come back (onEndpointsDelete)
  return serviceKeyedController(ctx, "endpoints", sync, (e) => (e.resource.kind === "Endpoints" && e.type === "DELETED" ? keyOf(e.object) : undefined));
}
