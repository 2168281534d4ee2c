import { FaultlineError } from "../../errors.js";
import { parseCidr, parseIp } from "../net/cidr.js";
import { isTunnelHandle } from "./handles.js";
import type { CalicoIpam } from "./ipam.js";

/** A node as routing sees it. */
export interface NodeAddr {
  name: string;
  /** Address on the node network (the BGP next hop). */
  address: string;
  /** The node's Calico tunnel address, used as the routes' `src`; null if it has none. */
  tunnelAddress: string | null;
}

/** One route Calico would program, in `ip route` terms. */
export interface CalicoRoute {
  dst: string;
  type?: "blackhole";
  via?: string;
  src?: string;
  proto: "bird";
}

export interface CalicoRouteOptions {
  /**
   * Program /32 routes for borrowed tunnel addresses too. Calico learnt this late: before the fix
   * (projectcalico/calico#9662, "Fix that nodes with borrowed VXLAN tunnel addresses were not
   * reachable by pods", for #6160 / #5595) a borrowed tunnel address got no route of its own, so the
   * block owner's blackhole swallowed replies to it. False models the affected versions.
   */
  routeBorrowedTunnels: boolean;
}

/**
 * What Calico (BIRD via confd, and Felix) programs on each node for the pool's blocks, computed from
 * the IPAM state alone. Returns one entry per node of `nodes`, in that order; each node's routes are
 * sorted by destination (address, then prefix length), roughly how `ip route` lists them.
 *
 * - A block affine to N: `blackhole <block> proto bird` on N [confd `bird_aggr.cfg.template`: `route
 *   <cidr> blackhole;` for each of the host's blocks; Felix `route_mgr.go` blackholeRoutes in VXLAN
 *   mode]. It makes traffic to unused addresses of the block die on N instead of looping. A /32 block
 *   gets no blackhole: confd skips them (calico#2624, confd#330) because it would shadow the pod's own
 *   /32 route. On every other node M: `<block> via <N> src <M's tunnel address> proto bird`, the route
 *   N advertises for its block (src omitted when M has no tunnel address).
 * - A borrowed workload address used by U: `<addr>/32 via <U> ...` on every node except U. U itself
 *   exports the pod's /32 (only its own blocks are aggregated away by `calico_aggr`), and the /32 is
 *   more specific than both the owner's blackhole and the block route, which is what makes borrowing
 *   work at all ("you should also have a /32 route from the new host. Since a /32 is longer than a
 *   /26, it should take precedence", calico#2612). Nothing on U: the pod's `dev cali...` route is the
 *   dataplane's job, not this function's.
 * - A borrowed tunnel address (handle `ipip-tunnel-addr-<node>` / `vxlan-tunnel-addr-<node>`): the same
 *   /32s only with `opts.routeBorrowedTunnels`. Without them the owner N blackholes replies sent to it:
 *   the flagship fault (host-networked kube-apiserver talks to pods from its tunnel address).
 * - A block with no affinity (its node was deleted) is advertised by nobody; its addresses are all
 *   borrowed, so the rules above route them one by one.
 *
 * @throws FaultlineError when a block affinity or a borrowing node is missing from `nodes`, or a node
 *   is listed twice or has an address that is not IPv4.
 *
 * @example
 * ```ts
 * const routes = calicoRoutes(ipam, [
 *   { name: "cp-1", address: "192.168.10.10", tunnelAddress: "10.233.64.3" },
 *   { name: "worker-3", address: "192.168.10.13", tunnelAddress: "10.233.64.0" },
 * ], { routeBorrowedTunnels: false });
 * routes.get("worker-3"); // [{ dst: "10.233.64.0/24", type: "blackhole", proto: "bird" }, ...]
 * ```
 */
export function calicoRoutes(ipam: CalicoIpam, nodes: NodeAddr[], opts: CalicoRouteOptions): Map<string, CalicoRoute[]> {
  const byName = new Map<string, NodeAddr>();
  nodes.forEach((n, i) => {
    if (!n.name) throw new FaultlineError(`calico routes: nodes[${i}] has no name`, "give every node its name");
    if (byName.has(n.name)) throw new FaultlineError(`calico routes: node "${n.name}" is listed twice`, "list each node once");
    checkIp(n.address, `nodes[${i}].address`);
    if (n.tunnelAddress !== null) checkIp(n.tunnelAddress, `nodes[${i}].tunnelAddress`);
    byName.set(n.name, n);
  });
  const need = (name: string, what: string): NodeAddr => {
    const n = byName.get(name);
    if (!n) {
      throw new FaultlineError(
        `calico routes: ${what} names node "${name}", which is not in the node list`,
        "pass every node that holds a block or uses an address (or release the node from IPAM first)",
      );
    }
    return n;
  };
  // Keyed by dst so that a borrowed /32 replaces the route of a /32 block holding the same address.
  const perNode = new Map(nodes.map((n) => [n.name, new Map<string, CalicoRoute>()]));
  const add = (node: NodeAddr, route: CalicoRoute): void => void perNode.get(node.name)!.set(route.dst, route);
  const viaRoute = (on: NodeAddr, dst: string, gw: NodeAddr): CalicoRoute =>
    on.tunnelAddress === null ? { dst, via: gw.address, proto: "bird" } : { dst, via: gw.address, src: on.tunnelAddress, proto: "bird" };

  for (const block of ipam.blocks()) {
    if (block.affinity === null) continue;
    const owner = need(block.affinity, `block ${block.cidr}`);
    const single = block.cidr.endsWith("/32");
    for (const m of nodes) {
      if (m.name !== owner.name) add(m, viaRoute(m, block.cidr, owner));
      else if (!single) add(m, { dst: block.cidr, type: "blackhole", proto: "bird" });
    }
  }
  for (const b of ipam.borrowed()) {
    if (isTunnelHandle(b.handle) && !opts.routeBorrowedTunnels) continue;
    const user = need(b.usedBy, `borrowed address ${b.address}`);
    const dst = `${b.address}/32`;
    for (const m of nodes) if (m.name !== user.name) add(m, viaRoute(m, dst, user));
    // On the user itself a /32 block route via someone else would be wrong: the address is local there.
    perNode.get(user.name)!.delete(dst);
  }

  const out = new Map<string, CalicoRoute[]>();
  for (const [name, routes] of perNode) out.set(name, [...routes.values()].sort(byDestination));
  return out;
}

function checkIp(text: string, where: string): void {
  try {
    parseIp(text);
  } catch (err) {
    if (err instanceof FaultlineError) throw new FaultlineError(`calico routes: ${where}: ${err.message}`, err.hint, { cause: err });
    throw err;
  }
}

function byDestination(a: CalicoRoute, b: CalicoRoute): number {
  const x = parseCidr(a.dst);
  const y = parseCidr(b.dst);
  return x.base - y.base || x.prefix - y.prefix;
}
