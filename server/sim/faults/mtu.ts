import { z } from "zod";
import { FaultlineError } from "../../errors.js";
import type { ClusterPlan } from "../plan.js";
import type { DataplaneFaultKind } from "./fault.js";
import { checkNode, ipOp, listNames, planNode, specObject } from "./support.js";

const schema = specObject("mtu", {
  node: z.string().min(1),
  /** 68 is the IPv4 minimum (RFC 791); 65535 the largest a veth accepts. */
  mtu: z.number().int().min(68).max(65535),
  /** Interface in the node's namespace: eth0 (the default) or a pod's host-side cali* veth. */
  interface: z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/, "an interface name is 1-15 letters, digits, '_', '.' or '-'").optional(),
});

/** `{kind: mtu, node: worker-2, mtu: 1400, interface?: eth0}` */
export type MtuSpec = z.infer<typeof schema>;

/**
 * The node's namespace and the interface, which must be one whose planned MTU is the node's: eth0,
 * or a local pod's cali* veth. Anything else has no planned MTU to revert to, so it is refused.
 */
function target(spec: MtuSpec, plan: ClusterPlan): { netns: string; dev: string; planned: number } {
  const node = planNode(plan, spec.node);
  const dev = spec.interface ?? "eth0";
  const known = ["eth0", ...plan.pods.filter((p) => p.node === node.name).map((p) => p.hostIface)];
  if (!known.includes(dev)) {
    throw new FaultlineError(
      `mtu: node ${spec.node} has no interface ${dev}; the fault can change ${listNames(known)}`,
      "leave `interface` out for the node's eth0, or name a pod's host-side veth on that node",
    );
  }
  return { netns: node.netns, dev, planned: node.mtu };
}

/**
 * Changes one interface's MTU on a node, the classic mismatch (a NIC at 1400 on a 1500 network, or an
 * overlay without room for its header): small packets pass, full-size ones are lost or fragmented.
 */
export const mtu: DataplaneFaultKind<MtuSpec> = {
  kind: "mtu",
  stage: "dataplane",
  schema,
  summary: "Sets the MTU of a node's eth0 (or a pod's host-side veth) to a value that differs from the network's; pings pass, full-size transfers stall.",
  example: { kind: "mtu", node: "worker-2", mtu: 1400 },

  check(spec, topo) {
    return checkNode(spec.node, topo, ["node"]);
  },

  describe(spec) {
    return `MTU ${spec.mtu} on ${spec.node} ${spec.interface ?? "eth0"}`;
  },

  apply(spec, plan) {
    const { netns, dev } = target(spec, plan);
    return [ipOp(netns, `link set dev ${dev} mtu ${spec.mtu}`)];
  },

  revert(spec, plan) {
    const { netns, dev, planned } = target(spec, plan);
    return [ipOp(netns, `link set dev ${dev} mtu ${planned}`)];
  },
};
