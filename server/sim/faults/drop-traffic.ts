import { z } from "zod";
import { FaultlineError } from "../../errors.js";
import type { NetOp } from "../dataplane/ops.js";
import { isIpv4 } from "../net/cidr.js";
import type { ClusterPlan } from "../plan.js";
import type { DataplaneFaultKind, SpecProblem, Topology } from "./fault.js";
import { canonicalCidr, checkCidr, checkNode, checkPod, filterOp, planNode, planPod, specObject } from "./support.js";

const schema = specObject("drop-traffic", {
  /** `node/<name>` or `pod/<namespace>/<name>`: where the traffic starts. */
  from: z.string().min(1),
  /** `node/<name>`, `pod/<namespace>/<name>`, a CIDR or an address: where it is going. */
  to: z.string().min(1),
  /** Destination port; implies `protocol: tcp` unless `udp` is given. */
  port: z.number().int().min(1).max(65535).optional(),
  protocol: z.enum(["tcp", "udp", "icmp"]).optional(),
});

/** `{kind: drop-traffic, from: node/cp-1, to: pod/metallb-system/controller, port?: 9443, protocol?: tcp|udp|icmp}` */
export type DropTrafficSpec = z.infer<typeof schema>;

type Target = { kind: "node"; name: string } | { kind: "pod"; ref: string } | { kind: "cidr"; cidr: string };

const FORMS = "node/<name>, pod/<namespace>/<name>";

/** Parses a target string; `null` when it has none of the accepted forms. */
function parseTarget(text: string, allowCidr: boolean): Target | null {
  const m = /^(node|pod)\/(.+)$/.exec(text);
  if (m?.[1] === "node" && !m[2]!.includes("/")) return { kind: "node", name: m[2]! };
  if (m?.[1] === "pod" && /^[^/]+\/[^/]+$/.test(m[2]!)) return { kind: "pod", ref: m[2]! };
  if (allowCidr && /^[\d./]+$/.test(text)) return { kind: "cidr", cidr: text.includes("/") ? text : `${text}/32` };
  return null;
}

function checkTarget(text: string, topo: Topology, key: "from" | "to"): SpecProblem[] {
  const allowCidr = key === "to";
  const t = parseTarget(text, allowCidr);
  if (!t) {
    // A bare name is the commonest slip: suggest the prefixed form.
    const bare = topo.nodes.includes(text) ? `node/${text}` : topo.pods.includes(text) ? `pod/${text}` : undefined;
    return [{
      path: [key],
      message: `"${text}" is not a target; ${key} takes ${FORMS}${allowCidr ? " or a CIDR" : ""}`,
      hint: bare ? `did you mean ${bare}?` : `e.g. node/${topo.nodes[0] ?? "cp-1"}`,
    }];
  }
  if (t.kind === "node") return checkNode(t.name, topo, [key]);
  if (t.kind === "pod") return checkPod(t.ref, topo, [key]);
  // A bare address means its /32; anything else is reported as the author wrote it.
  return checkCidr(isIpv4(text) ? t.cidr : text, [key]);
}

/** The addresses traffic to `t` is sent to: a node answers on its node and its tunnel address. */
function addressesOf(t: Target, plan: ClusterPlan): string[] {
  if (t.kind === "cidr") return [canonicalCidr(t.cidr)];
  if (t.kind === "pod") return [`${planPod(plan, t.ref).address}/32`];
  const node = planNode(plan, t.name);
  return node.tunnelAddress ? [`${node.address}/32`, `${node.tunnelAddress}/32`] : [`${node.address}/32`];
}

function resolve(text: string, allowCidr: boolean): Target {
  const t = parseTarget(text, allowCidr);
  if (!t) throw new FaultlineError(`drop-traffic: "${text}" is not a target`, `write ${FORMS}${allowCidr ? " or a CIDR" : ""}`);
  return t;
}

/** The protocol/port match, in iptables-save's order so `iptables -S` shows the rule as written. */
function protoMatch(spec: DropTrafficSpec): string {
  const proto = spec.protocol ?? (spec.port !== undefined ? "tcp" : undefined);
  if (!proto) return "";
  return spec.port !== undefined ? ` -p ${proto} -m ${proto} --dport ${spec.port}` : ` -p ${proto}`;
}

/**
 * The rules, each with `<verb>` standing for -I or -D: in the sender's OUTPUT chain, and for a pod
 * sender also in its node's FORWARD chain on the pod's cali* veth, where a Calico egress policy drops.
 */
function rules(spec: DropTrafficSpec, plan: ClusterPlan): Array<{ netns: string; rule: (verb: string) => string }> {
  const from = resolve(spec.from, false);
  const dsts = addressesOf(resolve(spec.to, true), plan);
  const match = protoMatch(spec);
  if (from.kind === "node") {
    const netns = planNode(plan, from.name).netns;
    return dsts.map((d) => ({ netns, rule: (verb) => `${verb} OUTPUT -d ${d}${match} -j DROP` }));
  }
  if (from.kind === "cidr") throw new FaultlineError(`drop-traffic: from must be a node or a pod, not ${spec.from}`); // parseTarget(…, false) never returns it
  const pod = planPod(plan, from.ref);
  const host = planNode(plan, pod.node).netns;
  return [
    ...dsts.map((d) => ({ netns: pod.netns, rule: (verb: string) => `${verb} OUTPUT -d ${d}${match} -j DROP` })),
    ...dsts.map((d) => ({ netns: host, rule: (verb: string) => `${verb} FORWARD -s ${pod.address}/32 -d ${d} -i ${pod.hostIface}${match} -j DROP` })),
  ];
}

/**
 * Drops traffic from a node or pod to a node, pod or CIDR with iptables, where an operator's host
 * firewall or a Calico policy would: ping loses every packet and connects time out (strace shows the
 * sender's own sends failing with EPERM); the receiver sees nothing arrive.
 */
export const dropTraffic: DataplaneFaultKind<DropTrafficSpec> = {
  kind: "drop-traffic",
  stage: "dataplane",
  schema,
  summary: "Drops packets from a node or pod to a node, pod or CIDR (optionally one protocol/port) with iptables DROP rules in the sender's OUTPUT chain and, for pods, the node's FORWARD chain.",
  example: { kind: "drop-traffic", from: "node/cp-1", to: "node/worker-1", port: 10250 },

  check(spec, topo) {
    const problems = [...checkTarget(spec.from, topo, "from"), ...checkTarget(spec.to, topo, "to")];
    if (spec.port !== undefined && spec.protocol === "icmp") {
      problems.push({ path: ["port"], message: "icmp has no ports", hint: "remove `port`, or set `protocol: tcp` or `udp`" });
    }
    if (spec.from === spec.to) problems.push({ path: ["to"], message: `from and to are both ${spec.to}`, hint: "traffic to itself never leaves the sender; name another target" });
    return problems;
  },

  describe(spec) {
    const what = spec.port !== undefined ? `${spec.protocol ?? "tcp"}/${spec.port}` : spec.protocol ?? "all traffic";
    return `${what} from ${spec.from} to ${spec.to} dropped`;
  },

  // -I, not -A: the DROP must come before any ACCEPT already in the chain (Calico's and kube-proxy's
  // chains are hooked in at the top too), or it would never match.
  apply(spec, plan): NetOp[] {
    return rules(spec, plan).map((r) => filterOp(r.netns, r.rule("-I")));
  },

  // -D with the same spec deletes exactly the rule we inserted, wherever it now sits in the chain.
  revert(spec, plan): NetOp[] {
    return rules(spec, plan).map((r) => filterOp(r.netns, r.rule("-D")));
  },
};
