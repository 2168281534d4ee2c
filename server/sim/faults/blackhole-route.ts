import { z } from "zod";
import { renderRoute } from "../dataplane/render.js";
import type { DataplaneFaultKind } from "./fault.js";
import { canonicalCidr, checkCidr, checkNode, ipOp, planNode, routesTo, specObject } from "./support.js";

const schema = specObject("blackhole-route", {
  node: z.string().min(1),
  cidr: z.string().min(1),
  /**
   * What the kernel does with matching packets (ip-route(8)): blackhole drops silently (local senders
   * get EINVAL), unreachable answers ICMP host unreachable (EHOSTUNREACH), prohibit ICMP
   * administratively prohibited (EACCES).
   */
  type: z.enum(["blackhole", "unreachable", "prohibit"]).optional(),
});

/** `{kind: blackhole-route, node: worker-3, cidr: 10.233.64.0/25, type?: blackhole|unreachable|prohibit}` */
export type BlackholeRouteSpec = z.infer<typeof schema>;

/**
 * A route of type blackhole (or unreachable/prohibit) on one node, as Calico programs for the blocks a
 * node owns: traffic the node routes or sends to `cidr` goes nowhere. `replace` so a planned route to
 * the same destination is swapped out atomically rather than making `ip -batch` fail on "File exists".
 */
export const blackholeRoute: DataplaneFaultKind<BlackholeRouteSpec> = {
  kind: "blackhole-route",
  stage: "dataplane",
  schema,
  summary: "Adds a blackhole (or unreachable/prohibit) route for a CIDR on one node, replacing any route to it; packets the node forwards there vanish and its own connects fail with EINVAL.",
  example: { kind: "blackhole-route", node: "worker-3", cidr: "10.233.64.0/25" },

  check(spec, topo) {
    return [...checkNode(spec.node, topo, ["node"]), ...checkCidr(spec.cidr, ["cidr"])];
  },

  describe(spec) {
    return `${spec.type ?? "blackhole"} route for ${spec.cidr} on ${spec.node}`;
  },

  apply(spec, plan) {
    const node = planNode(plan, spec.node);
    return [ipOp(node.netns, `route replace ${spec.type ?? "blackhole"} ${canonicalCidr(spec.cidr)}`)];
  },

  revert(spec, plan) {
    const node = planNode(plan, spec.node);
    const planned = routesTo(plan, node, spec.cidr);
    // A planned route with the same destination has the same kernel key (dst, tos, metric), so putting
    // it back replaces the blackhole in one step and works even if the trainee already removed it.
    if (planned.length) return planned.map((r) => ipOp(node.netns, `route replace ${renderRoute(r)}`));
    // Deleting with the type only matches our route, never a unicast route someone added since.
    return [ipOp(node.netns, `route del ${spec.type ?? "blackhole"} ${canonicalCidr(spec.cidr)}`)];
  },
};
