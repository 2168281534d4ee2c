/**
 * Static pods, as each node's kubelet runs them from /etc/kubernetes/manifests: a file there is a pod,
 * mirrored into the API server as `<name>-<node>` (annotations kubernetes.io/config.mirror, .hash,
 * .source=file, owned by the Node). Editing a file recreates the pod with a new mirror; removing it
 * removes the pod. The seed's team debugged the flagship incident from exactly here: a netshoot sidecar
 * added to kube-apiserver.yaml on the master runs in the master's network namespace (hostNetwork) and is
 * exec-able with `kubectl exec -it kube-apiserver-<node> -c netshoot -- bash`.
 *
 * Deviations, knowingly: the control plane's real processes are the sandbox's own (the API server keeps
 * running whatever the kube-apiserver manifest says); a file that does not parse is logged and ignored,
 * where a real kubelet would drop the pod it used to describe.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, watch, type FSWatcher } from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import type { PlanNode, PlanPod } from "../../sim/plan.js";
import { imageBehaviour } from "../../sim/workloads/catalog.js";
import type { KubeObject } from "../../sim/workloads/informer.js";
import { conditions, containerBase, now, patchPodStatus, type KubeletRuntime, type PodHandle } from "./kubelet.js";

interface Manifest {
  file: string;
  hash: string;
  namespace: string;
  name: string;
  spec: Record<string, unknown> & { containers?: Array<{ name: string; image?: string }> };
  metadata: { labels?: Record<string, string>; annotations?: Record<string, string> };
}

interface Current {
  hash: string;
  handle?: PodHandle;
}

/** Reads one manifest; null (with the reason) when it is not a pod the kubelet would run. */
export function readManifest(file: string, text: string): Manifest | { error: string } {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    return { error: `could not parse ${file}: ${(e as Error).message.split("\n")[0]}` };
  }
  const o = doc as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown; labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: Manifest["spec"] } | null;
  if (!o || typeof o !== "object") return { error: `${file} is empty` };
  if (o.kind !== "Pod") return { error: `${file}: kind is ${String(o.kind)}, a static pod manifest must be a Pod` };
  if (typeof o.metadata?.name !== "string" || !o.metadata.name) return { error: `${file}: metadata.name is missing` };
  const containers = o.spec?.containers;
  if (!Array.isArray(containers) || containers.length === 0 || containers.some((c) => typeof c?.name !== "string")) {
    return { error: `${file}: spec.containers must list at least one container with a name` };
  }
  return {
    file,
    hash: createHash("md5").update(text).digest("hex"),
    namespace: typeof o.metadata.namespace === "string" ? o.metadata.namespace : "default",
    name: o.metadata.name,
    spec: o.spec!,
    metadata: { ...(o.metadata.labels ? { labels: o.metadata.labels } : {}), ...(o.metadata.annotations ? { annotations: o.metadata.annotations } : {}) },
  };
}

export class StaticPods {
  readonly #rt: KubeletRuntime;
  readonly #dirs: (node: string) => string;
  readonly #current = new Map<string, Current>();
  readonly #watchers: FSWatcher[] = [];
  readonly #timers = new Map<string, NodeJS.Timeout>();
  #chain: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(rt: KubeletRuntime, manifestsDir: (node: string) => string) {
    this.#rt = rt;
    this.#dirs = manifestsDir;
  }

  /** Adopts the mirror pods that match their files, then watches every node's manifests folder. */
  async start(existing: ReadonlyMap<string, KubeObject>): Promise<void> {
    for (const node of this.#rt.plan.nodes) {
      const dir = this.#dirs(node.name);
      if (!existsSync(dir)) continue;
      for (const m of this.#read(node)) {
        const key = `${m.namespace}/${m.name}-${node.name}`;
        const mirror = existing.get(key) as { spec?: Manifest["spec"] } | undefined;
        if (mirror && sameContainers(mirror.spec, m.spec)) this.#current.set(key, { hash: m.hash });
      }
      try {
        this.#watchers.push(watch(dir, () => this.#dirty(node)));
      } catch (e) {
        this.#rt.log.warn("static_pods.watch_failed", { node: node.name, error: (e as Error).message });
      }
      this.#dirty(node);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const w of this.#watchers) w.close();
    for (const t of this.#timers.values()) clearTimeout(t);
    await this.#chain;
  }

  /** Resolves when pending changes are done (tests). */
  async idle(): Promise<void> {
    while (this.#timers.size) await new Promise((r) => setTimeout(r, 10));
    await this.#chain;
  }

  #dirty(node: PlanNode): void {
    if (this.#stopped) return;
    // Editors write a file in several steps (vim: a probe file, a swap file, the rename); settle first.
    clearTimeout(this.#timers.get(node.name));
    this.#timers.set(
      node.name,
      setTimeout(() => {
        this.#timers.delete(node.name);
        this.#chain = this.#chain.then(() => this.#sync(node)).catch((e: unknown) => this.#rt.log.warn("static_pods.sync_failed", { node: node.name, error: (e as Error).message }));
      }, 150),
    );
  }

  #read(node: PlanNode): Manifest[] {
    const dir = this.#dirs(node.name);
    const out: Manifest[] = [];
    let names: string[] = [];
    try {
      names = readdirSync(dir).filter((f) => !f.startsWith(".")).sort();
    } catch {
      return out;
    }
    for (const f of names) {
      let text: string;
      try {
        text = readFileSync(path.join(dir, f), "utf8");
      } catch {
        continue;
      }
      const m = readManifest(f, text);
      if ("error" in m) this.#rt.log.warn("static_pods.bad_manifest", { node: node.name, error: m.error });
      else out.push(m);
    }
    return out;
  }

  async #sync(node: PlanNode): Promise<void> {
    if (this.#stopped) return;
    const want = new Map(this.#read(node).map((m) => [`${m.namespace}/${m.name}-${node.name}`, m]));
    const suffix = `-${node.name}`;
    for (const [key, cur] of [...this.#current]) {
      if (!key.endsWith(suffix) || want.has(key)) continue;
      this.#current.delete(key);
      await cur.handle?.stop();
      await this.#deleteMirror(key);
    }
    for (const [key, m] of want) {
      const cur = this.#current.get(key);
      if (cur?.hash === m.hash) continue;
      await cur?.handle?.stop();
      await this.#deleteMirror(key);
      this.#current.set(key, { hash: m.hash });
      const handle = await this.#run(node, m);
      if (handle) this.#current.set(key, { hash: m.hash, handle });
    }
  }

  async #deleteMirror(key: string): Promise<void> {
    const [ns, name] = key.split("/") as [string, string];
    await this.#rt.client.request("DELETE", `/api/v1/namespaces/${ns}/pods/${name}`).catch(() => {});
  }

  /** Creates the mirror pod, starts the pod in the node's network namespace, reports it Running. */
  async #run(node: PlanNode, m: Manifest): Promise<PodHandle | undefined> {
    const rt = this.#rt;
    const name = `${m.name}-${node.name}`;
    const nodeObj = (await rt.client.get(`/api/v1/nodes/${node.name}`)).body as KubeObject | undefined;
    const ts = now();
    const mirror = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name,
        namespace: m.namespace,
        ...(m.metadata.labels ? { labels: m.metadata.labels } : {}),
        annotations: {
          ...m.metadata.annotations,
          "kubernetes.io/config.hash": m.hash,
          "kubernetes.io/config.mirror": m.hash,
          "kubernetes.io/config.seen": ts.replace("Z", ".000000000Z"),
          "kubernetes.io/config.source": "file",
        },
        ...(nodeObj?.metadata.uid ? { ownerReferences: [{ apiVersion: "v1", kind: "Node", name: node.name, uid: nodeObj.metadata.uid, controller: true }] } : {}),
      },
      spec: { ...m.spec, nodeName: node.name },
    };
    const res = await rt.client.request("POST", `/api/v1/namespaces/${m.namespace}/pods`, mirror);
    if (res.status >= 300) {
      rt.log.warn("static_pods.mirror_failed", { node: node.name, pod: name, status: res.status, body: JSON.stringify(res.body).slice(0, 300) });
      return undefined;
    }
    const created = res.body as KubeObject;
    const hostNetwork = m.spec.hostNetwork === true;
    const net: PlanPod = { namespace: m.namespace, name, node: node.name, address: node.address, borrowed: false, netns: node.netns, hostIface: "", labels: m.metadata.labels ?? {} };
    // Only a hostNetwork static pod can run here: a pod network for static pods is not modelled.
    const containers = m.spec.containers ?? [];
    const runnable = hostNetwork && containers.every((c) => imageBehaviour(c.image ?? "") !== null);
    const handle = runnable ? await rt.startPod(net, { hostNetwork: true, serve: null }) : undefined;
    if (this.#stopped) {
      await handle?.stop();
      return undefined;
    }
    rt.changed();
    await patchPodStatus(rt.client, created, {
      phase: runnable ? "Running" : "Pending",
      conditions: conditions(runnable ? [] : containers.map((c) => c.name), ts),
      hostIP: node.address,
      podIP: node.address,
      podIPs: [{ ip: node.address }],
      startTime: ts,
      containerStatuses: containers.map((c) => ({ ...containerBase(c.name, c.image ?? ""), state: runnable ? { running: { startedAt: ts } } : { waiting: { reason: "ContainerCreating" } }, lastState: {}, ready: runnable, restartCount: 0, started: runnable })),
    });
    return handle;
  }
}

function sameContainers(a: Manifest["spec"] | undefined, b: Manifest["spec"]): boolean {
  const sig = (s: Manifest["spec"] | undefined) => JSON.stringify((s?.containers ?? []).map((c) => [c.name, c.image]));
  return sig(a) === sig(b);
}
