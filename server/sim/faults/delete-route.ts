import { z } from "zod";
import { FaultlineError } from "../../errors.js";
import { renderRoute } from "../dataplane/render.js";
import type { ClusterPlan, RouteSpec } from "../plan.js";
import type { DataplaneFaultKind } from "./fault.js";
import { canonicalCidr, checkCidr, checkNode, ipOp, listNames, nodeRoutes, planNode, routeKey, routesTo, specObject } from "./support.js";

const schema = specObject("delete-route", {
  node: z.string().min(1),
  /** Destination of the planned route, as `ip route` shows it; `0.0.0.0/0` is the default route. */
  cidr: z.string().min(1),
});

/** `{kind: delete-route, node: worker-1, cidr: 10.233.65.0/24}` */
export type DeleteRouteSpec = z.infer<typeof schema>;

/** The planned routes the fault removes; a FaultlineError listing the node's routes if there is none. */
function target(spec: DeleteRouteSpec, plan: ClusterPlan): { netns: string; routes: RouteSpec[] } {
  const node = planNode(plan, spec.node);
  const routes = routesTo(plan, node, spec.cidr);
  if (routes.length === 0) {
    const have = [...new Set(nodeRoutes(plan, node).map((r) => routeKey(r.dst)))];
    throw new FaultlineError(
      `delete-route: node ${spec.node} has no route to ${canonicalCidr(spec.cidr)}; its routes go to ${listNames(have, 12)}`,
      "pick a destination the node has a route to (run `ip route` on the node in a sandbox without faults)",
    );
  }
  return { netns: node.netns, routes };
}

/**
 * Removes a route the plan gives a node, as when the routing daemon (BIRD, Felix) failed to program
 * it: traffic to that destination takes the default route instead. The route is named by destination
 * only; the ops spell it out in full so the kernel deletes exactly that route.
 */
export const deleteRoute: DataplaneFaultKind<DeleteRouteSpec> = {
  kind: "delete-route",
  stage: "dataplane",
  schema,
  summary: "Deletes the route a node has to a destination (a pod block, a pod's /32, the default route); traffic to it falls through to the next matching route.",
  example: { kind: "delete-route", node: "worker-1", cidr: "10.233.65.0/24" },

  // Whether the route exists depends on IPAM, which runs after lint; apply() reports that case.
  check(spec, topo) {
    return [...checkNode(spec.node, topo, ["node"]), ...checkCidr(spec.cidr, ["cidr"])];
  },

  describe(spec) {
    return `route to ${spec.cidr} deleted on ${spec.node}`;
  },

  apply(spec, plan) {
    const { netns, routes } = target(spec, plan);
    return routes.map((r) => ipOp(netns, `route del ${renderRoute(r)}`));
  },

  revert(spec, plan) {
    const { netns, routes } = target(spec, plan);
    // replace, not add: revert must not fail when the trainee already put the route back by hand.
    return routes.map((r) => ipOp(netns, `route replace ${renderRoute(r)}`));
  },
};
