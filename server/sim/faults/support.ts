/**
 * What several fault kinds share: strict spec objects with "did you mean" for unknown keys, topology
 * checks with messages that list the valid names, plan lookups, and the routes a node really holds.
 */
import { z } from "zod";
import { FaultlineError } from "../../errors.js";
import type { NetOp } from "../dataplane/ops.js";
import { editDistance } from "../kubespray/did-you-mean.js";
import { formatCidr, parseCidr } from "../net/cidr.js";
import type { ClusterPlan, PlanNode, PlanPod, RouteSpec } from "../plan.js";
import type { SpecProblem, Topology } from "./fault.js";

/** The candidate closest to `word`, if it is close enough to be a plausible typo of it. */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDist = Infinity;
  for (const c of candidates) {
    const dist = editDistance(word.toLowerCase(), c.toLowerCase());
    if (dist < bestDist) [best, bestDist] = [c, dist];
  }
  return best !== undefined && bestDist <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** "a, b, c" or "a, b, c ... and 12 more": error messages stay one line on a 50-node cluster. */
export function listNames(names: readonly string[], max = 8): string {
  if (names.length === 0) return "(none)";
  const shown = names.slice(0, max).join(", ");
  return names.length > max ? `${shown} ... and ${names.length - max} more` : shown;
}

/**
 * A fault spec object: `kind` fixed to `kind`, unknown keys rejected with a "did you mean" that names
 * the keys this kind takes (zod's own message would only say "Unrecognized key").
 */
export function specObject<K extends string, T extends z.core.$ZodLooseShape>(kind: K, shape: T) {
  const keys = ["kind", ...Object.keys(shape)];
  return z.strictObject({ kind: z.literal(kind), ...shape }, {
    error: (iss) => {
      if (iss.code !== "unrecognized_keys") return undefined;
      const parts = iss.keys.map((k) => {
        const near = didYouMean(k, keys);
        return near ? `unknown key "${k}" (did you mean "${near}"?)` : `unknown key "${k}"`;
      });
      return `${parts.join("; ")}; ${kind} takes ${keys.join(", ")}`;
    },
  });
}

/** A problem for `path` when `name` is not one of the cluster's nodes. */
export function checkNode(name: string, topo: Topology, path: Array<string | number>): SpecProblem[] {
  if (topo.nodes.includes(name)) return [];
  const near = didYouMean(name, topo.nodes);
  return [{
    path,
    message: `node ${name} does not exist; nodes are ${listNames(topo.nodes)}`,
    hint: near ? `did you mean ${near}?` : "use one of the cluster's node names (a `count: 6` entry named worker expands to worker-1 .. worker-6)",
  }];
}

/** A problem for `path` when `ref` (`<namespace>/<name>`) is not one of the cluster's pods. */
export function checkPod(ref: string, topo: Topology, path: Array<string | number>): SpecProblem[] {
  if (topo.pods.includes(ref)) return [];
  const near = didYouMean(ref, topo.pods);
  return [{
    path,
    message: `pod ${ref} does not exist; pods are ${listNames(topo.pods)}`,
    hint: near ? `did you mean ${near}?` : "name a pod from cluster.pods as <namespace>/<name>",
  }];
}

/** Problems for `path` when `text` is not an IPv4 CIDR without host bits (what `ip route` accepts). */
export function checkCidr(text: string, path: Array<string | number>): SpecProblem[] {
  try {
    parseCidr(text);
    return [];
  } catch (err) {
    if (!(err instanceof FaultlineError)) throw err;
    return [{ path, message: err.message, ...(err.hint ? { hint: err.hint } : {}) }];
  }
}

/** `text` in the form the kernel prints it (`10.233.64.0/25`); assumes checkCidr passed. */
export function canonicalCidr(text: string): string {
  return formatCidr(parseCidr(text));
}

/** The plan's node `name`, or a FaultlineError naming the nodes there are. */
export function planNode(plan: ClusterPlan, name: string): PlanNode {
  const node = plan.nodes.find((n) => n.name === name);
  if (!node) {
    throw new FaultlineError(
      `node ${name} does not exist; nodes are ${listNames(plan.nodes.map((n) => n.name))}`,
      "run the lab's checks (`faultline lab lint`) before applying faults",
    );
  }
  return node;
}

/** The plan's pod `<namespace>/<name>`, or a FaultlineError naming the pods there are. */
export function planPod(plan: ClusterPlan, ref: string): PlanPod {
  const pod = plan.pods.find((p) => `${p.namespace}/${p.name}` === ref);
  if (!pod) {
    throw new FaultlineError(
      `pod ${ref} does not exist; pods are ${listNames(plan.pods.map((p) => `${p.namespace}/${p.name}`))}`,
      "run the lab's checks (`faultline lab lint`) before applying faults",
    );
  }
  return pod;
}

/**
 * Every route in the node's main table once provisioning is done: the plan's own routes plus those
 * dataplane/render.ts adds around them (the connected node network, the default route, a /32 per
 * local pod). Faults that replace or delete a route must know all of them to restore the right one.
 * Keep in step with render.ts `renderNode`.
 */
export function nodeRoutes(plan: ClusterPlan, node: PlanNode): RouteSpec[] {
  return [
    { dst: plan.nodeNetwork.cidr, dev: "eth0", proto: "kernel", scope: "link", src: node.address },
    { dst: "default", via: plan.nodeNetwork.gateway, dev: "eth0" },
    ...plan.pods.filter((p) => p.node === node.name).map((p): RouteSpec => ({ dst: `${p.address}/32`, dev: p.hostIface, scope: "link" })),
    ...node.routes,
  ];
}

/** A route destination as the kernel keys it: `default` is 0.0.0.0/0, a bare address is a /32. */
export function routeKey(dst: string): string {
  if (dst === "default") return "0.0.0.0/0";
  try {
    return formatCidr(parseCidr(dst.includes("/") ? dst : `${dst}/32`, { strict: false }));
  } catch {
    return dst; // not ours to judge here; such a route simply matches nothing
  }
}

/** The node's routes whose destination is `cidr`. */
export function routesTo(plan: ClusterPlan, node: PlanNode, cidr: string): RouteSpec[] {
  const key = routeKey(cidr);
  return nodeRoutes(plan, node).filter((r) => routeKey(r.dst) === key);
}

export const ipOp = (netns: string, line: string): NetOp => ({ kind: "ip", netns, line });
export const filterOp = (netns: string, rule: string): NetOp => ({ kind: "iptables", netns, table: "filter", rule });
