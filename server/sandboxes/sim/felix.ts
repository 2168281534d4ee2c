/**
 * Calico's Felix for a sim sandbox, running in the supervisor: it watches NetworkPolicies, Namespaces
 * and Pods through the API server and programs every node's filter table as Felix would
 * (dataplane/policy.ts). Until the cluster has its first NetworkPolicy nothing is programmed, so a lab
 * without policies pays nothing; deleting the last one removes every `cali-` chain again.
 */
import type { Logger } from "../../log.js";
import { executeOps, type Runner } from "../../sim/dataplane/execute.js";
import { renderNetworkPolicies, renderPolicyRemoval, type NetworkPolicy, type PolicyPod } from "../../sim/dataplane/policy.js";
import type { ClusterPlan } from "../../sim/plan.js";
import type { Informer, KubeObject, SharedInformers } from "../../sim/workloads/informer.js";

export interface FelixRuntime {
  plan: ClusterPlan;
  /** The supervisor's informers: the pods one is the kubelet's too. */
  informers: SharedInformers;
  log: Logger;
  /** Runs the network tools (the supervisor's launcher). */
  run: Runner;
  serial<T>(fn: () => Promise<T>): Promise<T>;
}

type ApiPod = KubeObject & { spec?: { serviceAccountName?: string; containers?: Array<{ ports?: Array<{ name?: string; containerPort: number; protocol?: string }> }> } };

export class Felix {
  readonly #rt: FelixRuntime;
  #policies: Informer | null = null;
  #namespaces: Informer | null = null;
  #pods: Informer | null = null;
  #timer: NodeJS.Timeout | null = null;
  #syncing: Promise<void> = Promise.resolve();
  #stopped = false;
  #synced = false;
  /** Whether any policy chains may be in the kernel (set by the first render with policies). */
  #programmed = false;
  #last = "";

  constructor(rt: FelixRuntime) {
    this.#rt = rt;
  }

  async start(): Promise<void> {
    const onEvent = () => this.dirty();
    const { informers } = this.#rt;
    this.#policies = informers.subscribe("/apis/networking.k8s.io/v1/networkpolicies", { onEvent });
    this.#namespaces = informers.subscribe("/api/v1/namespaces", { onEvent });
    this.#pods = informers.subscribe("/api/v1/pods", { onEvent });
    await Promise.all([this.#policies.synced, this.#namespaces.synced, this.#pods.synced]);
    // Only now: a render from half-listed state would drop traffic of pods it has not seen yet.
    this.#synced = true;
    this.dirty();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    for (const i of [this.#policies, this.#namespaces, this.#pods]) i?.stop();
    // Not waiting for a sync in flight: it may be queued behind the build that is stopping us.
  }

  /** Resolves once pending changes are in the kernel. */
  async idle(): Promise<void> {
    while (this.#timer) await new Promise((r) => setTimeout(r, 5));
    await this.#syncing;
  }

  /** Something that policies depend on changed (the kubelet calls this when a pod's network comes or goes). */
  dirty(): void {
    if (this.#stopped || !this.#synced || this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#syncing = this.#syncing.then(() => this.#sync()).catch((e: unknown) => this.#rt.log.warn("felix.sync_failed", { error: (e as Error).message }));
    }, 10);
  }

  async #sync(): Promise<void> {
    if (this.#stopped || !this.#policies || !this.#namespaces || !this.#pods) return;
    const policies = [...this.#policies.cache.values()] as unknown as NetworkPolicy[];
    if (policies.length === 0 && !this.#programmed) return;
    const { plan } = this.#rt;
    const api = this.#pods.cache;
    // Pods with a network of their own (the plan's), labelled and ported as the API has them now.
    const pods: PolicyPod[] = plan.pods.map((p) => {
      const o = api.get(`${p.namespace}/${p.name}`) as ApiPod | undefined;
      const labels = (o?.metadata.labels as Record<string, string> | undefined) ?? p.labels;
      const ports = (o?.spec?.containers ?? []).flatMap((c) => c.ports ?? []);
      return { namespace: p.namespace, name: p.name, node: p.node, address: p.address, hostIface: p.hostIface, labels, ports, ...(o?.spec?.serviceAccountName ? { serviceAccount: o.spec.serviceAccountName } : {}) };
    });
    const namespaces = [...this.#namespaces.cache.values()].map((n) => ({ name: n.metadata.name, labels: (n.metadata.labels as Record<string, string> | undefined) ?? {} }));
    const key = JSON.stringify([policies.map((p) => [p.metadata, p.spec]), pods, namespaces]);
    if (key === this.#last) return;
    const nodes = plan.nodes.map((n) => ({ name: n.name, netns: n.netns }));
    await this.#rt.serial(async () => {
      if (this.#stopped) return;
      // The kernel's own state, not a remembered one: faults and rebuilds change tables behind our back.
      const current = Object.fromEntries(
        await Promise.all(nodes.map(async (n) => [n.name, await this.#rt.run(["nsenter", `--net=/run/netns/${n.netns}`, "--", "iptables-save", "-t", "filter"])] as const)),
      );
      const render = policies.length ? renderNetworkPolicies({ nodes, pods, namespaces, policies, current }) : renderPolicyRemoval(nodes, current);
      for (const w of render.warnings) this.#rt.log.warn("felix.policy_warning", { warning: w });
      await executeOps(render.nodes.flatMap((n) => n.ops), this.#rt.run);
      this.#programmed = policies.length > 0;
      this.#last = key;
    });
  }
}
