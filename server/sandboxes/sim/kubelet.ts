/**
 * The kubelets of a sim sandbox (one loop for all nodes), running in the supervisor: they watch pods
 * through the sandbox's API server over HTTPS, like a real kubelet, and for every pod bound to a node
 * do what the kubelet, containerd and Calico's CNI plugin would: assign an address from Calico IPAM on
 * that node, create the pod's network namespace and veth, program the routes that change on every node
 * (a borrowed address gets /32s elsewhere), start the pod's shell agent and its built-in workload, and
 * report back: pod status (podIP, Running, Ready, containerStatuses) and Events with the kubelet's
 * words. When a pod goes away, everything is undone and the address released.
 *
 * Pods that exist when it starts (the lab's pods the build created, the seeded system pods) are adopted
 * as they are.
 */
import { randomBytes } from "node:crypto";
import { FaultlineError } from "../../errors.js";
import type { Logger } from "../../log.js";
import { nodeRoutes, planBlocks } from "../../sim/build-plan.js";
import { calicoObjects } from "../../sim/apiserver/seed/calico.js";
import { executeOps, executePhases, type Runner } from "../../sim/dataplane/execute.js";
import type { NetOp } from "../../sim/dataplane/ops.js";
import { caliIfaceName, podNetnsName, renderPodAttach, renderRoute } from "../../sim/dataplane/render.js";
import type { CalicoIpam } from "../../sim/ipam/ipam.js";
import type { ClusterPlan, PlanPod, RouteSpec } from "../../sim/plan.js";
import { imageBehaviour, parseImage, pullFailure, type ImageBehaviour } from "../../sim/workloads/catalog.js";
import { objectKey, type Informer, type KubeObject, type SharedInformers } from "../../sim/workloads/informer.js";
import type { KubeClient } from "../../sim/workloads/kubeclient.js";
import { StaticPods } from "./static-pods.js";

/** What the kubelet serves in a pod: the built-in workload of the first container that has one. */
export interface PodServe {
  workload: "http-echo" | "metallb-webhook" | "coredns";
  port: number;
}

/** The processes of a running pod (shell agent, workload, its socat); stop() ends them all. */
export interface PodHandle {
  stop(): Promise<void>;
}

/** What the supervisor lends the kubelet. */
export interface KubeletRuntime {
  plan: ClusterPlan;
  ipam: CalicoIpam;
  client: KubeClient;
  /** The supervisor's informers (Felix follows the same pods). */
  informers: SharedInformers;
  log: Logger;
  /** Runs the network tools (the supervisor's launcher). */
  run: Runner;
  /** Serialises kernel changes with builds and faults. */
  serial<T>(fn: () => Promise<T>): Promise<T>;
  /** Starts the agent (and workload) of a pod whose network exists; hostNetwork pods share their node's. */
  startPod(pod: PlanPod, opts: { hostNetwork: boolean; serve: PodServe | null }): Promise<PodHandle>;
  /** The handle of a pod the build started (the lab's pods), so a later delete can stop it. */
  adopt(pod: PlanPod): PodHandle;
  /** The plan changed (pods, routes, IPAM): persist it and the agents' pids. */
  changed(): void;
  /** A node's /etc/kubernetes/manifests as the supervisor sees it. */
  manifestsDir(node: string): string;
}

interface Running {
  uid: string;
  /** The pod's network (absent for hostNetwork and adopted system pods). */
  net?: PlanPod;
  handle?: PodHandle;
}

type Pod = KubeObject & {
  spec?: {
    nodeName?: string;
    hostNetwork?: boolean;
    restartPolicy?: string;
    containers?: Array<{ name: string; image?: string; command?: string[]; args?: string[]; stdin?: boolean; tty?: boolean; ports?: Array<{ containerPort?: number }> }>;
  };
  status?: { phase?: string; podIP?: string };
};

export const now = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
const hex = (bytes: number) => randomBytes(bytes).toString("hex");

export class Kubelet {
  readonly #rt: KubeletRuntime;
  readonly #running = new Map<string, Running>();
  /** Per-pod chains of work, so a pod's set-up and tear-down never interleave. */
  readonly #chains = new Map<string, Promise<void>>();
  /** Pods that got no address (pool exhausted): retried when an address is released. */
  readonly #waitingForAddress = new Set<string>();
  #informer: Informer | null = null;
  #static: StaticPods | null = null;
  #stopped = false;
  #adopting = true;

  /** The plan's pods and blocks as the build made them: what the API server's Calico objects were seeded from. */
  readonly #seedPods: PlanPod[];
  readonly #seedBlocks: ClusterPlan["blocks"];

  constructor(rt: KubeletRuntime) {
    this.#rt = rt;
    this.#seedPods = [...rt.plan.pods];
    this.#seedBlocks = rt.plan.blocks;
  }

  /** Starts watching; resolves once the pods that already exist have been adopted (new ones start later). */
  async start(): Promise<void> {
    this.#informer = this.#rt.informers.subscribe("/api/v1/pods", {
      onEvent: (_type, obj) => this.#schedule(objectKey(obj)),
      onError: (err) => this.#rt.log.debug("kubelet.watch_error", { error: err.message }),
    });
    await this.#informer.synced;
    if (this.#stopped) return;
    const planned = new Map(this.#rt.plan.pods.map((p) => [`${p.namespace}/${p.name}`, p]));
    for (const [key, obj] of this.#informer.cache) {
      const pod = obj as Pod;
      const net = planned.get(key);
      if (net) this.#running.set(key, { uid: pod.metadata.uid ?? "", net, handle: this.#rt.adopt(net) });
      else if (pod.status?.phase === "Running" || isMirror(pod)) this.#running.set(key, { uid: pod.metadata.uid ?? "" });
    }
    this.#adopting = false;
    this.#static = new StaticPods(this.#rt, (node) => this.#rt.manifestsDir(node));
    await this.#static.start(this.#informer.cache);
    // Not awaited: the supervisor calls this inside its serial section, which pod set-ups queue behind.
    for (const key of this.#informer.cache.keys()) this.#schedule(key);
  }

  /**
   * Stops watching. It does not wait for pod work in flight: the build that calls this holds the
   * supervisor's serial section, which that work may be queued behind (waiting would deadlock); queued
   * work sees the stop and does nothing, and the build's teardown removes what pods left.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#informer?.stop();
    await this.#static?.stop();
  }

  /** Resolves when no pod work is queued (tests and the benchmark use it). */
  async idle(): Promise<void> {
    await this.#static?.idle();
    while (this.#chains.size) await Promise.all([...this.#chains.values()]);
    await this.#calicoSync;
  }

  #schedule(key: string): void {
    if (this.#adopting || this.#stopped) return;
    const prev = this.#chains.get(key) ?? Promise.resolve();
    const next = prev
      .then(() => this.#reconcile(key))
      .catch((e: unknown) => this.#rt.log.warn("kubelet.pod_failed", { pod: key, error: (e as Error).message }))
      .finally(() => {
        if (this.#chains.get(key) === next) this.#chains.delete(key);
      });
    this.#chains.set(key, next);
  }

  async #reconcile(key: string): Promise<void> {
    if (this.#stopped) return;
    const pod = this.#informer?.cache.get(key) as Pod | undefined;
    const cur = this.#running.get(key);
    if (cur && (!pod || pod.metadata.uid !== cur.uid || pod.metadata.deletionTimestamp)) {
      this.#running.delete(key);
      await this.#teardown(key, cur);
    }
    if (!pod || pod.metadata.deletionTimestamp || this.#running.has(key) || isMirror(pod)) return;
    const nodeName = pod.spec?.nodeName;
    if (!nodeName || !this.#rt.plan.nodes.some((n) => n.name === nodeName)) return;
    await this.#setup(key, pod, nodeName);
  }

  async #setup(key: string, pod: Pod, nodeName: string): Promise<void> {
    const rt = this.#rt;
    const node = rt.plan.nodes.find((n) => n.name === nodeName)!;
    const { namespace = "default", name, uid = "" } = pod.metadata;
    const hostNetwork = pod.spec?.hostNetwork === true;
    const entry: Running = { uid };
    let net: PlanPod = {
      namespace, name, node: nodeName, address: node.address, borrowed: false, netns: node.netns,
      hostIface: "", labels: (pod.metadata.labels ?? {}) as Record<string, string>,
    };

    if (!hostNetwork) {
      const assigned = await rt.serial(async () => {
        if (this.#stopped) return null;
        let a;
        try {
          a = rt.ipam.autoAssign(nodeName, `k8s-pod-network.${namespace}.${name}`);
        } catch (e) {
          return e as Error;
        }
        net = { ...net, address: a.address, borrowed: a.borrowed, netns: podNetnsName(namespace, name), hostIface: caliIfaceName(namespace, name) };
        await this.#rt.run(["ip", "netns", "add", net.netns]);
        await executePhases(renderPodAttach(net, node), this.#rt.run);
        rt.plan.pods.push(net);
        await this.#syncRoutes();
        return net;
      });
      if (assigned === null) return;
      if (assigned instanceof Error) {
        // Calico's CNI plugin fails ADD; the kubelet keeps retrying the sandbox and says so in an Event.
        this.#waitingForAddress.add(key);
        await this.#event(pod, nodeName, "Warning", "FailedCreatePodSandBox",
          `Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox "${hex(32)}": ` +
          `plugin type="calico" failed (add): ${assigned.message.replace(/^pool /, "failed to request IPv4 addresses: pool ")}`);
        return;
      }
      this.#waitingForAddress.delete(key);
      entry.net = net;
      await this.#event(pod, nodeName, "Normal", "AddedInterface", `Add eth0 [${net.address}/32] from k8s-pod-network`).catch(() => {});
    }
    this.#running.set(key, entry);

    const containers = pod.spec?.containers ?? [];
    const behaviours = containers.map((c) => ({ c, b: imageBehaviour(c.image ?? "") }));
    const failed = behaviours.find((x) => x.b === null);
    const startedAt = now();
    if (failed) {
      await this.#pullFailed(pod, nodeName, net, failed.c.name, failed.c.image ?? "", containers.map((c) => c.name));
      return;
    }
    let serve: PodServe | null = null;
    for (const { c, b } of behaviours) {
      if (b?.kind === "serve" && !serve) serve = { workload: b.workload, port: c.ports?.[0]?.containerPort ?? b.port };
    }
    entry.handle = await rt.startPod(net, { hostNetwork, serve });
    if (this.#stopped) {
      // a rebuild began meanwhile: this pod's processes belong to the cluster being torn down
      await entry.handle.stop();
      return;
    }
    rt.changed();
    for (const { c } of behaviours) {
      const ref = `spec.containers{${c.name}}`;
      await this.#event(pod, nodeName, "Normal", "Pulled", `Container image "${c.image}" already present on machine`, ref);
      await this.#event(pod, nodeName, "Normal", "Created", `Created container ${c.name}`, ref);
      await this.#event(pod, nodeName, "Normal", "Started", `Started container ${c.name}`, ref);
    }
    const exits = behaviours.filter(({ c, b }) => exitsAtOnce(b, c));
    await this.#status(pod, {
      phase: "Running",
      conditions: conditions(exits.map((x) => x.c.name), startedAt),
      hostIP: node.address,
      hostIPs: [{ ip: node.address }],
      podIP: net.address,
      podIPs: [{ ip: net.address }],
      startTime: startedAt,
      containerStatuses: behaviours.map(({ c, b }) => {
        const base = containerBase(c.name, c.image ?? "");
        if (!exitsAtOnce(b, c)) return { ...base, state: { running: { startedAt } }, lastState: {}, ready: true, restartCount: 0, started: true };
        return {
          ...base,
          state: { waiting: { reason: "CrashLoopBackOff", message: `back-off 10s restarting failed container=${c.name} pod=${name}_${namespace}(${uid})` } },
          lastState: { terminated: { exitCode: 0, reason: "Completed", startedAt, finishedAt: startedAt, containerID: base.containerID } },
          ready: false,
          restartCount: 1,
          started: false,
        };
      }),
    });
    for (const { c } of exits) {
      await this.#event(pod, nodeName, "Warning", "BackOff", `Back-off restarting failed container ${c.name} in pod ${name}_${namespace}(${uid})`, `spec.containers{${c.name}}`);
    }
  }

  /** ErrImagePull, then ImagePullBackOff: the pod has its sandbox and address, the container never starts. */
  async #pullFailed(pod: Pod, nodeName: string, net: PlanPod, container: string, image: string, names: string[]): Promise<void> {
    const ref = `spec.containers{${container}}`;
    await this.#event(pod, nodeName, "Normal", "Pulling", `Pulling image "${image}"`, ref);
    await this.#event(pod, nodeName, "Warning", "Failed", `Failed to pull image "${image}": ${pullFailure(image)}`, ref);
    await this.#event(pod, nodeName, "Warning", "Failed", "Error: ErrImagePull", ref);
    const node = this.#rt.plan.nodes.find((n) => n.name === nodeName)!;
    const status = (reason: string, message: string) => ({
      phase: "Pending",
      conditions: conditions(names, now()),
      hostIP: node.address,
      hostIPs: [{ ip: node.address }],
      podIP: net.address,
      podIPs: [{ ip: net.address }],
      startTime: now(),
      containerStatuses: names.map((n) => ({
        ...containerBase(n, n === container ? image : ""),
        imageID: "",
        containerID: undefined,
        state: { waiting: n === container ? { reason, message } : { reason: "PodInitializing" } },
        lastState: {},
        ready: false,
        restartCount: 0,
        started: false,
      })),
    });
    await this.#status(pod, status("ErrImagePull", pullFailure(image)));
    await this.#event(pod, nodeName, "Normal", "BackOff", `Back-off pulling image "${image}"`, ref);
    await this.#event(pod, nodeName, "Warning", "Failed", "Error: ImagePullBackOff", ref);
    await this.#status(pod, status("ImagePullBackOff", `Back-off pulling image "${image}"`));
  }

  async #teardown(key: string, cur: Running): Promise<void> {
    await cur.handle?.stop().catch(() => {});
    const net = cur.net;
    if (!net) return this.#rt.changed();
    await this.#rt.serial(async () => {
      if (this.#stopped) return;
      // Deleting the namespace takes the veth (both ends) and with it the node's /32 route to the pod.
      await this.#rt.run(["ip", "netns", "delete", net.netns]).catch(() => {});
      this.#rt.ipam.release(net.address);
      const plan = this.#rt.plan;
      plan.pods = plan.pods.filter((p) => !(p.namespace === net.namespace && p.name === net.name));
      await this.#syncRoutes();
    });
    this.#rt.changed();
    for (const waiting of this.#waitingForAddress) if (waiting !== key) this.#schedule(waiting);
  }

  /** Recomputes every node's Calico routes from IPAM and applies the difference (inside serial). */
  async #syncRoutes(): Promise<void> {
    const { plan, ipam } = this.#rt;
    const want = nodeRoutes(ipam, plan.nodes, { routesBorrowedTunnels: plan.routesBorrowedTunnels, calicoBackend: plan.calicoBackend, serviceCidr: plan.serviceCidr });
    const ops: NetOp[] = [];
    for (const n of plan.nodes) {
      const next = want.get(n.name) ?? [];
      ops.push(...routeDiff(n.netns, n.routes, next));
      n.routes = next;
      n.blocks = ipam.affinities(n.name);
    }
    plan.ipam = ipam.toJSON();
    plan.blocks = planBlocks(ipam);
    if (ops.length) await executeOps(ops, this.#rt.run, 4, { force: true });
    this.#calicoDirty = true;
    queueMicrotask(() => void this.#syncCalicoObjects());
  }

  #calicoDirty = false;
  #calicoSync: Promise<void> = Promise.resolve();
  /** The Calico IPAM objects as last written, by `<plural.group>/<name>`: the seed's at first. */
  #calicoWritten: Map<string, string> | null = null;

  /**
   * Writes the IPAM objects that changed (IPAMBlocks, BlockAffinities, IPAMHandles) through the API, as
   * Calico's CNI plugin does in kdd mode, so `calicoctl ipam show --show-blocks` and `kubectl get
   * ipamblocks` follow pods created and deleted at runtime.
   */
  #syncCalicoObjects(): Promise<void> {
    this.#calicoSync = this.#calicoSync.then(async () => {
      if (!this.#calicoDirty || this.#stopped) return;
      this.#calicoDirty = false;
      const { plan, client } = this.#rt;
      // Sequence numbers are clock readings; a block whose allocations did not change is left alone.
      const sig = (o: Record<string, unknown>) => JSON.stringify({ ...(o.spec as object), sequenceNumber: undefined, sequenceNumberForAllocation: undefined });
      const ipamTypes = (t: string) => /^(ipamblocks|blockaffinities|ipamhandles)\./.test(t);
      const objects = calicoObjects(plan, new Date()).filter((x) => ipamTypes(x.type));
      if (!this.#calicoWritten) {
        const seeded = calicoObjects({ ...plan, pods: this.#seedPods, blocks: this.#seedBlocks }, new Date()).filter((x) => ipamTypes(x.type));
        this.#calicoWritten = new Map(seeded.map((x) => [`${x.type}/${x.object.metadata.name}`, sig(x.object)]));
      }
      const written = this.#calicoWritten;
      const want = new Map(objects.map((x) => [`${x.type}/${x.object.metadata.name}`, x]));
      const url = (type: string, name: string) => {
        const dot = type.indexOf(".");
        return `/apis/${type.slice(dot + 1)}/v1/${type.slice(0, dot)}/${name}`;
      };
      for (const [key, x] of want) {
        if (written.get(key) === sig(x.object)) continue;
        const name = x.object.metadata.name!;
        const cur = await client.get(url(x.type, name));
        const rv = (cur.body as KubeObject | undefined)?.metadata?.resourceVersion;
        const body = { ...x.object, metadata: { ...x.object.metadata, ...(rv ? { resourceVersion: rv } : {}) } };
        const res = cur.status === 200 ? await client.request("PUT", url(x.type, name), body) : await client.request("POST", url(x.type, name).replace(/\/[^/]+$/, ""), body);
        if (res.status < 300) written.set(key, sig(x.object));
      }
      for (const key of [...written.keys()]) {
        if (want.has(key)) continue;
        const slash = key.indexOf("/");
        await client.request("DELETE", url(key.slice(0, slash), key.slice(slash + 1)));
        written.delete(key);
      }
    }).catch((e: unknown) => this.#rt.log.warn("kubelet.calico_sync_failed", { error: (e as Error).message }));
    return this.#calicoSync;
  }

  #status(pod: Pod, status: Record<string, unknown>): Promise<void> {
    return patchPodStatus(this.#rt.client, pod, status);
  }

  #event(pod: Pod, node: string, type: "Normal" | "Warning", reason: string, message: string, fieldPath?: string): Promise<void> {
    return recordPodEvent(this.#rt.client, pod, node, type, reason, message, fieldPath);
  }
}

/** PATCHes a pod's status subresource (merge patch), as the kubelet's status manager does. A gone pod is no error. */
export async function patchPodStatus(client: KubeClient, pod: KubeObject, status: Record<string, unknown>): Promise<void> {
  const { namespace = "default", name } = pod.metadata;
  const res = await client.request("PATCH", `/api/v1/namespaces/${namespace}/pods/${name}/status`, { status }, { contentType: "application/merge-patch+json" });
  if (res.status >= 300 && res.status !== 404) throw new FaultlineError(`status of pod ${namespace}/${name}: HTTP ${res.status}`);
}

/** Records an Event about a pod the way the kubelet's recorder does (core/v1, source kubelet on `node`). */
export async function recordPodEvent(client: KubeClient, pod: KubeObject, node: string, type: "Normal" | "Warning", reason: string, message: string, fieldPath?: string): Promise<void> {
  const { namespace = "default", name, uid } = pod.metadata;
  const ts = now();
  const ev = {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: `${name}.${(BigInt(Date.now()) * 1_000_000n + BigInt(Math.floor(Math.random() * 1e6))).toString(16)}`, namespace },
    involvedObject: { kind: "Pod", namespace, name, uid, apiVersion: "v1", resourceVersion: pod.metadata.resourceVersion, ...(fieldPath ? { fieldPath } : {}) },
    reason,
    message,
    source: { component: "kubelet", host: node },
    firstTimestamp: ts,
    lastTimestamp: ts,
    count: 1,
    type,
    eventTime: null,
    reportingComponent: "kubelet",
    reportingInstance: node,
  };
  await client.request("POST", `/api/v1/namespaces/${namespace}/events`, ev);
}

function isMirror(pod: Pod): boolean {
  const a = pod.metadata.annotations as Record<string, string> | undefined;
  return a?.["kubernetes.io/config.mirror"] !== undefined;
}

/** A shell-like image with nothing to run (and no TTY to keep its shell alive) exits at once. */
function exitsAtOnce(b: ImageBehaviour | null, c: { command?: string[]; args?: string[]; stdin?: boolean; tty?: boolean }): boolean {
  return b?.kind === "shell" && !c.command?.length && !c.args?.length && !(c.stdin && c.tty);
}

export function containerBase(name: string, image: string): Record<string, unknown> {
  const ref = image ? parseImage(image) : null;
  return {
    name,
    image: ref?.full ?? "",
    imageID: ref ? `${ref.repository}@sha256:${hex(32)}` : "",
    containerID: `containerd://${hex(32)}`,
  };
}

/** The pod conditions; `unready` names the containers that are not ready (none: the pod is Ready). */
export function conditions(unready: string[], at: string): Array<Record<string, unknown>> {
  const ready = unready.length === 0;
  const c = (type: string, ok: boolean, extra: Record<string, unknown> = {}) => ({ type, status: ok ? "True" : "False", lastProbeTime: null, lastTransitionTime: at, ...extra });
  const why = ready ? {} : { reason: "ContainersNotReady", message: `containers with unready status: [${unready.join(" ")}]` };
  return [c("Initialized", true), c("Ready", ready, why), c("ContainersReady", ready, why), c("PodScheduled", true)];
}

/** `ip` lines turning `have` into `want` on one node: stale routes deleted, new ones replaced in. */
export function routeDiff(netns: string, have: RouteSpec[], want: RouteSpec[]): NetOp[] {
  const key = (r: RouteSpec) => renderRoute(r);
  const haveKeys = new Set(have.map(key));
  const wantKeys = new Set(want.map(key));
  const ops: NetOp[] = [];
  for (const r of have) if (!wantKeys.has(key(r))) ops.push({ kind: "ip", netns, line: `route del ${r.type ? r.type + " " : ""}${r.dst}` });
  for (const r of want) if (!haveKeys.has(key(r))) ops.push({ kind: "ip", netns, line: `route replace ${renderRoute(r)}` });
  return ops;
}
