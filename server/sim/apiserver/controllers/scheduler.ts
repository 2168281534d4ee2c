/**
 * kube-scheduler's default profile, for the filters a lab can trip over. A pod with no spec.nodeName
 * and schedulerName default-scheduler goes through, per node and in the real plugin order,
 * NodeUnschedulable, TaintToleration (NoSchedule/NoExecute taints), NodeAffinity (spec.nodeSelector and
 * required node affinity, matchFields metadata.name included), NodePorts (host ports) and
 * NodeResourcesFit (cpu/memory requests and the pod count against allocatable); the first failing
 * filter is the node's reason, as in the framework.
 *
 * A fitting node is chosen by fewest pods, then by name (a stand-in for the scoring plugins), and bound
 * (binding.ts: spec.nodeName, PodScheduled=True) with the events.k8s.io Event `Scheduled`
 * "Successfully assigned <ns>/<pod> to <node>". With no fitting node the pod gets PodScheduled=False
 * reason Unschedulable and a `FailedScheduling` Event with FitError's message and the DefaultPreemption
 * part ("0/7 nodes are available: ... preemption: 0/7 nodes are available: 7 Preemption is not helpful
 * for scheduling."); it is tried again when a node changes or a pod goes away, and every five minutes
 * (podMaxInUnschedulablePodsDuration), repeated identical events becoming a series.
 *
 * Not modelled: scoring beyond the spread, inter-pod (anti-)affinity, topology spread, volumes,
 * priorities and actual preemption, scheduling gates.
 */
import { bindPod, setPodCondition } from "../binding.js";
import { isRecord, type KObject } from "../objects.js";
import type { StoreEvent } from "../store.js";
import type { Controller, ControllerContext } from "./context.js";
import { deepEqual, isPodActive, keyOf, matchesNodeSelection, NO_SCHEDULE_OR_EXECUTE, podSpec, splitKey, toleratesTaint, untoleratedTaint, type Container, type PodSpec, type Taint } from "./util.js";

const RETRY_MS = 5 * 60_000;

/** The plugin failures the framework sorts into "preemption cannot help" (UnschedulableAndUnresolvable). */
interface NodeVerdict {
  reasons: string[];
  unresolvable: boolean;
}

/** resource.Quantity as a number of base units (cores, bytes, pods). */
export function parseQuantity(q: unknown): number {
  if (typeof q === "number") return q;
  if (typeof q !== "string") return 0;
  const m = /^([+-]?\d+(?:\.\d+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|e\d+)?$/.exec(q.trim());
  if (!m) return 0;
  const n = Number(m[1]);
  const suffix = m[2] ?? "";
  const factors: Record<string, number> = { "": 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
  if (suffix.startsWith("e")) return n * 10 ** Number(suffix.slice(1));
  return n * (factors[suffix] ?? 1);
}

/** A pod's effective requests: containers summed, each init container's taken as a floor (resource.PodRequests). */
function podRequests(spec: PodSpec): { cpu: number; memory: number } {
  const req = (c: Container, r: "cpu" | "memory") => parseQuantity(c.resources?.requests?.[r]);
  const sum = (r: "cpu" | "memory") => (spec.containers ?? []).reduce((a, c) => a + req(c, r), 0);
  const init = (r: "cpu" | "memory") => Math.max(0, ...(spec.initContainers ?? []).map((c) => req(c, r)));
  return { cpu: Math.max(sum("cpu"), init("cpu")), memory: Math.max(sum("memory"), init("memory")) };
}

function hostPorts(spec: PodSpec): Array<{ port: number; protocol: string; ip: string }> {
  const out: Array<{ port: number; protocol: string; ip: string }> = [];
  for (const c of spec.containers ?? []) for (const p of c.ports ?? []) if (p.hostPort && p.hostPort > 0) out.push({ port: p.hostPort, protocol: p.protocol ?? "TCP", ip: p.hostIP || "0.0.0.0" });
  return out;
}

/** The TaintToleration filter's reason, in the wording of the cluster's version (changed in v1.25). */
export function taintReason(taint: Taint, kubeVersion: string): string {
  const minor = Number(/^v?1\.(\d+)/.exec(kubeVersion)?.[1] ?? "24");
  return minor >= 25 ? `node(s) had untolerated taint {${taint.key}: ${taint.value ?? ""}}` : `node(s) had taint {${taint.key}: ${taint.value ?? ""}}, that the pod didn't tolerate`;
}

/** FitError.Error(): `0/N nodes are available: <sorted histogram>.` plus the preemption plugin's message. */
export function fitErrorMessage(verdicts: NodeVerdict[]): string {
  const n = verdicts.length;
  if (n === 0) return "no nodes available to schedule pods";
  const histogram = (items: string[]) => {
    const counts = new Map<string, number>();
    for (const r of items) counts.set(r, (counts.get(r) ?? 0) + 1);
    return [...counts].map(([r, c]) => `${c} ${r}`).sort().join(", ");
  };
  const reasons = histogram(verdicts.flatMap((v) => v.reasons));
  const preemption = histogram(verdicts.map((v) => (v.unresolvable ? "Preemption is not helpful for scheduling" : "No preemption victims found for incoming pod")));
  return `0/${n} nodes are available: ${reasons}. preemption: 0/${n} nodes are available: ${preemption}.`;
}

export function schedulerController(ctx: ControllerContext): Controller {
  const { store, recorder, log } = ctx;
  /** pods that did not fit anywhere: looked at again when the cluster changes */
  const pending = new Set<string>();
  const queue = ctx.queue("scheduler", sync);
  const reporting = { controller: "default-scheduler", instance: ctx.schedulerInstance };

  function wantsScheduling(pod: KObject): boolean {
    const spec = podSpec(pod);
    return !spec.nodeName && (spec.schedulerName ?? "default-scheduler") === "default-scheduler" && isPodActive(pod);
  }

  function retryPending(): void {
    for (const k of pending) queue.add(k);
  }

  function verdict(spec: PodSpec, node: KObject, onNode: KObject[]): NodeVerdict {
    const nodeSpec = isRecord(node.spec) ? node.spec : {};
    const taints = (Array.isArray(nodeSpec.taints) ? nodeSpec.taints : []) as Taint[];
    if (nodeSpec.unschedulable === true && !(spec.tolerations ?? []).some((t) => toleratesTaint(t, { key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" }))) {
      return { reasons: ["node(s) were unschedulable"], unresolvable: true };
    }
    const taint = untoleratedTaint(taints, spec.tolerations, NO_SCHEDULE_OR_EXECUTE);
    if (taint) return { reasons: [taintReason(taint, ctx.kubeVersion)], unresolvable: true };
    if (!matchesNodeSelection(spec, node)) return { reasons: ["node(s) didn't match Pod's node affinity/selector"], unresolvable: true };
    const wanted = hostPorts(spec);
    if (wanted.length) {
      const used = onNode.flatMap((p) => hostPorts(podSpec(p)));
      const clash = wanted.some((w) => used.some((u) => u.port === w.port && u.protocol === w.protocol && (u.ip === w.ip || u.ip === "0.0.0.0" || w.ip === "0.0.0.0")));
      if (clash) return { reasons: ["node(s) didn't have free ports for the requested pod ports"], unresolvable: false };
    }
    const allocatable = isRecord(node.status) && isRecord(node.status.allocatable) ? node.status.allocatable : {};
    const reasons: string[] = [];
    const maxPods = allocatable.pods === undefined ? 110 : parseQuantity(allocatable.pods);
    if (onNode.length + 1 > maxPods) reasons.push("Too many pods");
    const want = podRequests(spec);
    const used = onNode.map((p) => podRequests(podSpec(p)));
    // compare in milli-units, as Quantity.MilliValue does, so 0.1 + 0.2 cores is not a rounding question
    const milli = (x: number) => Math.round(x * 1000);
    for (const r of ["cpu", "memory"] as const) {
      if (want[r] <= 0) continue;
      const total = used.reduce((a, u) => a + milli(u[r]), 0) + milli(want[r]);
      if (allocatable[r] !== undefined && total > milli(parseQuantity(allocatable[r]))) reasons.push(`Insufficient ${r}`);
    }
    return { reasons, unresolvable: false };
  }

  function sync(key: string): void {
    const [ns, name] = splitKey(key);
    const pod = store.tryGet("pods", ns, name);
    if (!pod || !wantsScheduling(pod)) {
      pending.delete(key);
      return;
    }
    const spec = podSpec(pod);
    const nodes = store.list("nodes").items;
    const byNode = new Map<string, KObject[]>();
    for (const p of store.list("pods").items) {
      const n = podSpec(p).nodeName;
      if (n && isPodActive(p)) byNode.set(n, [...(byNode.get(n) ?? []), p]);
    }
    const verdicts = nodes.map((n) => ({ node: n, ...verdict(spec, n, byNode.get(n.metadata.name!) ?? []) }));
    const fits = verdicts.filter((v) => v.reasons.length === 0).map((v) => v.node);
    if (fits.length) {
      const count = (n: KObject) => byNode.get(n.metadata.name!)?.length ?? 0;
      fits.sort((a, b) => count(a) - count(b) || (a.metadata.name! < b.metadata.name! ? -1 : 1));
      const target = fits[0]!.metadata.name!;
      const bound = bindPod(store, ns!, name, target, ctx.now());
      pending.delete(key);
      recorder.eventV1(reporting, bound, "Normal", "Scheduled", "Binding", `Successfully assigned ${ns}/${name} to ${target}`);
      return;
    }
    const message = fitErrorMessage(verdicts);
    const status = isRecord(pod.status) ? structuredClone(pod.status) : {};
    setPodCondition(status, { type: "PodScheduled", status: "False", reason: "Unschedulable", message }, ctx.now());
    if (!deepEqual(status, pod.status)) store.update("pods", { ...pod, status }, { subresource: "status" });
    pending.add(key);
    log.debug("scheduler.unschedulable", { pod: key, message });
    recorder.eventV1(reporting, pod, "Warning", "FailedScheduling", "Scheduling", message);
    queue.addAfter(key, RETRY_MS);
  }

  return {
    name: "scheduler",
    observe(e: StoreEvent) {
      const kind = e.resource.kind;
      if (kind === "Pod") {
        const key = keyOf(e.object);
        if (e.type === "DELETED") {
          pending.delete(key);
          // a pod going away frees ports and resources on its node
          if (podSpec(e.object).nodeName) retryPending();
          return;
        }
        if (!wantsScheduling(e.object)) return;
        // a status write (ours included) is no reason to try again; a changed spec or labels is
        const prev = e.type === "MODIFIED" ? e.previous : undefined;
        if (prev && wantsScheduling(prev) && deepEqual(prev.spec, e.object.spec) && deepEqual(prev.metadata.labels, e.object.metadata.labels)) return;
        queue.add(key);
        return;
      }
      if (kind === "Node") {
        if (e.type === "MODIFIED" && e.previous) {
          const relevant = (o: KObject) => [o.metadata.labels, o.spec, isRecord(o.status) ? o.status.allocatable : undefined];
          if (deepEqual(relevant(e.previous), relevant(e.object))) return;
        }
        retryPending();
      }
    },
    start() {
      for (const p of store.list("pods").items) if (wantsScheduling(p)) queue.add(keyOf(p));
    },
  };
}
