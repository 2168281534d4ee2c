/**
 * kube-proxy for a sim sandbox, running in the supervisor: it watches Services and Endpoints through the
 * API server (as the real one does over HTTPS) and rewrites the iptables NAT rules of every node when
 * they change — a new Service gets its ClusterIP portal, a scaled Deployment changes the KUBE-SEP chains,
 * a Service whose pods are all gone REJECTs. The rules are those of the build (dataplane/render.ts).
 */
import type { Logger } from "../../log.js";
import { executeOps, type Runner } from "../../sim/dataplane/execute.js";
import type { NetOp } from "../../sim/dataplane/ops.js";
import { renderServices } from "../../sim/dataplane/render.js";
import type { ClusterPlan, PlanService, PlanServicePort } from "../../sim/plan.js";
import type { Informer, KubeObject, SharedInformers } from "../../sim/workloads/informer.js";

export interface KubeProxyRuntime {
  plan: ClusterPlan;
  informers: SharedInformers;
  log: Logger;
  /** Runs the network tools (the supervisor's launcher). */
  run: Runner;
  serial<T>(fn: () => Promise<T>): Promise<T>;
}

interface ServiceObject extends KubeObject {
  spec?: { type?: string; clusterIP?: string; selector?: Record<string, string>; ports?: Array<{ name?: string; port: number; targetPort?: number | string; protocol?: string }> };
}
interface EndpointsObject extends KubeObject {
  subsets?: Array<{ addresses?: Array<{ ip: string }>; ports?: Array<{ name?: string; port: number; protocol?: string }> }>;
}

/** Services as kube-proxy sees them: ClusterIP, ports, and the ready endpoints of each port. */
export function servicesFromApi(services: Iterable<KubeObject>, endpoints: ReadonlyMap<string, KubeObject>): PlanService[] {
  const out: PlanService[] = [];
  for (const raw of services) {
    const svc = raw as ServiceObject;
    const ip = svc.spec?.clusterIP;
    if (!ip || ip === "None" || svc.spec?.type === "ExternalName") continue;
    const ns = svc.metadata.namespace ?? "default";
    const ep = endpoints.get(`${ns}/${svc.metadata.name}`) as EndpointsObject | undefined;
    const subset = ep?.subsets?.find((s) => (s.addresses ?? []).length > 0);
    const addresses = (subset?.addresses ?? []).map((a) => a.ip);
    const ports: PlanServicePort[] = (svc.spec?.ports ?? []).map((p) => {
      // The endpoint port with the service port's name is the resolved targetPort (named ports included).
      const epPort = subset?.ports?.find((x) => (x.name ?? "") === (p.name ?? "")) ?? (subset?.ports?.length === 1 ? subset.ports[0] : undefined);
      const target = epPort?.port ?? (typeof p.targetPort === "number" ? p.targetPort : p.port);
      return { name: p.name, port: p.port, targetPort: target, protocol: p.protocol === "UDP" ? "UDP" : "TCP" };
    });
    out.push({ namespace: ns, name: svc.metadata.name, clusterIP: ip, ports, selector: svc.spec?.selector ?? {}, endpoints: addresses });
  }
  return out.sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
}

/** The nat chains a render declares (KUBE-SVC-*, KUBE-SEP-*), to delete them once they are stale. */
function natChains(ops: NetOp[]): Set<string> {
  const out = new Set<string>();
  for (const op of ops) if (op.kind === "iptables" && op.table === "nat" && /^:KUBE-(SVC|SEP)-/.test(op.rule)) out.add(op.rule.slice(1).split(" ")[0]!);
  return out;
}

/**
 * The ops that take every node from the rules of `previous` to those of `services`: KUBE-SERVICES
 * flushed and rewritten, chains that are no longer used flushed and deleted (kube-proxy does the same).
 */
export function syncOps(plan: ClusterPlan, previous: PlanService[], services: PlanService[]): NetOp[] {
  const ops: NetOp[] = [];
  for (const n of plan.nodes) {
    const next = renderServices(services, n.netns, { hooks: false });
    const keep = natChains(next);
    const stale = [...natChains(renderServices(previous, n.netns, { hooks: false }))].filter((c) => !keep.has(c));
    ops.push(...next);
    for (const c of stale) ops.push({ kind: "iptables", netns: n.netns, table: "nat", rule: `:${c} - [0:0]` });
    for (const c of stale) ops.push({ kind: "iptables", netns: n.netns, table: "nat", rule: `-X ${c}` });
  }
  return ops;
}

export class KubeProxy {
  readonly #rt: KubeProxyRuntime;
  #services: Informer | null = null;
  #endpoints: Informer | null = null;
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;
  #synced = false;
  #syncing: Promise<void> = Promise.resolve();
  #last = "";

  constructor(rt: KubeProxyRuntime) {
    this.#rt = rt;
    this.#last = JSON.stringify(rt.plan.services.map((s) => [s.clusterIP, s.ports, s.endpoints]));
  }

  async start(): Promise<void> {
    const onEvent = () => this.#dirty();
    this.#services = this.#rt.informers.subscribe("/api/v1/services", { onEvent });
    this.#endpoints = this.#rt.informers.subscribe("/api/v1/endpoints", { onEvent });
    await Promise.all([this.#services.synced, this.#endpoints.synced]);
    // Only now: a sync between the two first lists would see Services without their Endpoints and
    // REJECT traffic to every one of them for a moment.
    this.#synced = true;
    this.#dirty();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#services?.stop();
    this.#endpoints?.stop();
    // Not waiting for a sync in flight: it may be queued behind the build that is stopping us.
  }

  /** Resolves once pending changes are in the kernel. */
  async idle(): Promise<void> {
    while (this.#timer) await new Promise((r) => setTimeout(r, 5));
    await this.#syncing;
  }

  #dirty(): void {
    if (this.#stopped || !this.#synced || this.#timer) return;
    // Coalesces a burst (a Deployment's pods becoming ready one by one) into one iptables-restore per node.
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#syncing = this.#syncing.then(() => this.#sync()).catch((e: unknown) => this.#rt.log.warn("kube_proxy.sync_failed", { error: (e as Error).message }));
    }, 10);
  }

  async #sync(): Promise<void> {
    if (this.#stopped || !this.#services || !this.#endpoints) return;
    const services = servicesFromApi(this.#services.cache.values(), this.#endpoints.cache);
    const text = JSON.stringify(services.map((s) => [s.clusterIP, s.ports, s.endpoints]));
    if (text === this.#last) return;
    await this.#rt.serial(async () => {
      if (this.#stopped) return;
      await executeOps(syncOps(this.#rt.plan, this.#rt.plan.services, services), this.#rt.run);
      this.#rt.plan.services = services;
      this.#last = text;
    });
  }
}
