/**
 * `ipam`: predicates over the simulated cluster's Calico IPAM state (the plan's `ipam`, which the
 * kubelet keeps current as pods come and go). Needs a driver that simulates IPAM: elsewhere the result
 * is "could not check".
 *
 * @example
 * ```yaml
 * check: {ipam: blocks-disjoint}
 * check: {all: [{ipam: every-node-has-a-block}, {ipam: no-borrowed-tunnel-addresses}]}
 * ```
 *
 * - `blocks-disjoint`: the address ranges the nodes route as their own do not intersect. A node owns
 *   the blocks it holds the affinity for and every address it uses (tunnel and pod addresses), so this
 *   fails when two nodes' affine blocks overlap (state left over from another block size), or when a
 *   node uses an address inside a block affine to another node: that node blackholes the whole block,
 *   so the address is routed into the owner's blackhole wherever no /32 route says otherwise. An
 *   address borrowed from a block with no affinity (its node deleted) does not count: nobody
 *   blackholes that block.
 *   In the flagship: before the fix, /24 blocks in a /22 pool give 4 blocks for 7 nodes; cp-1's tunnel
 *   address (and worker-5's, worker-6's and their pods') lie in worker-3's 10.233.64.0/24: fail. After
 *   the fix (kube_network_node_prefix: 25) the pool holds 8 blocks of /25, every node claims its own
 *   and uses only it: pass.
 * - `no-borrowing`: no address is used by a node other than its block's affine node (no affinity
 *   included).
 * - `no-borrowed-tunnel-addresses`: as no-borrowing, for the nodes' tunnel addresses only (what Calico
 *   before v3.30 does not route).
 * - `every-node-has-a-block`: every node of the plan holds the affinity for at least one block.
 */
import { CalicoIpam, type BorrowedAddress } from "../../sim/ipam/ipam.js";
import { isTunnelHandle } from "../../sim/ipam/handles.js";
import type { ClusterPlan } from "../../sim/plan.js";
import type { CheckResult, IpamCheck } from "../schema.js";
import { CouldNotCheck, type CheckKindModule } from "../types.js";

function addressOf(b: BorrowedAddress): string {
  return `${b.usedBy}'s ${isTunnelHandle(b.handle) ? "tunnel address" : `pod address (${b.handle.replace(/^k8s-pod-network\./, "")})`} ${b.address}`;
}

/**
 * The control plane's tunnel addresses first (the API server talks to webhooks from there: the
 * flagship), then other tunnel addresses (host-to-pod traffic), then pods'.
 */
function mostTelling(list: BorrowedAddress[], plan: ClusterPlan): BorrowedAddress[] {
  const controlPlane = new Set(plan.nodes.filter((n) => n.role === "control-plane").map((n) => n.name));
  const rank = (b: BorrowedAddress) => (isTunnelHandle(b.handle) ? (controlPlane.has(b.usedBy) ? 0 : 1) : 2);
  return [...list].sort((x, y) => rank(x) - rank(y));
}

function more(n: number, what: string): string {
  return n > 0 ? ` (and ${n} more ${what})` : "";
}

/** The predicate over a plan; pure, for tests and `lab test`. */
export function evaluateIpam(predicate: IpamCheck, plan: ClusterPlan): CheckResult {
  if (!plan.ipam) throw new CouldNotCheck("the sandbox's plan has no IPAM state");
  const ipam = CalicoIpam.fromJSON(plan.ipam);
  const nodes = plan.nodes.map((n) => n.name);
  const summary = () => {
    const blocks = ipam.blocks().filter((b) => b.affinity !== null);
    return `${nodes.length} nodes, ${blocks.length} blocks of /${ipam.blockSize} in ${ipam.pool}`;
  };
  switch (predicate) {
    case "blocks-disjoint": {
      const overlaps = ipam.overlappingAffinities().filter((o) => o.a !== o.b);
      if (overlaps.length > 0) {
        const o = overlaps[0]!;
        return { status: "fail", detail: `${o.a}'s and ${o.b}'s blocks overlap in ${o.cidr}${more(overlaps.length - 1, "overlaps")}` };
      }
      const foreign = mostTelling(ipam.borrowed().filter((b) => b.owner !== null), plan);
      if (foreign.length > 0) {
        const f = foreign[0]!;
        return { status: "fail", detail: `${addressOf(f)} lies in ${f.block}, a block affine to ${f.owner}${more(foreign.length - 1, "addresses in other nodes' blocks")}` };
      }
      return { status: "pass", detail: `${summary()}: no overlap, every address in its node's own block` };
    }
    case "no-borrowing":
    case "no-borrowed-tunnel-addresses": {
      const all = ipam.borrowed();
      const list = mostTelling(predicate === "no-borrowing" ? all : all.filter((b) => isTunnelHandle(b.handle)), plan);
      if (list.length === 0) return { status: "pass", detail: `${summary()}: ${predicate === "no-borrowing" ? "no address" : "no tunnel address"} borrowed` };
      const f = list[0]!;
      return { status: "fail", detail: `${addressOf(f)} is borrowed from ${f.block} (${f.owner ? `affine to ${f.owner}` : "no affinity"})${more(list.length - 1, "borrowed")}` };
    }
    case "every-node-has-a-block": {
      const without = nodes.filter((n) => ipam.affinities(n).length === 0);
      if (without.length === 0) return { status: "pass", detail: `${summary()}: every node has a block` };
      return { status: "fail", detail: `${without.join(", ")} ${without.length === 1 ? "has" : "have"} no block of ${ipam.pool} (/${ipam.blockSize} blocks: ${ipam.blocks().length} claimed)` };
    }
  }
}

/**
 * Results per plan object: the sim context hands out the same parsed plan until plan.json changes, so a
 * predicate polled every few seconds is computed once per change (CalicoIpam.fromJSON checks every
 * block and allocation, ~1.5 ms for the flagship).
 */
const memo = new WeakMap<ClusterPlan, Map<IpamCheck, CheckResult>>();

function evaluateIpamMemo(predicate: IpamCheck, plan: ClusterPlan): CheckResult {
  let results = memo.get(plan);
  if (!results) memo.set(plan, (results = new Map()));
  let r = results.get(predicate);
  if (!r) results.set(predicate, (r = evaluateIpam(predicate, plan)));
  return r;
}

export const ipam: CheckKindModule<"ipam"> = {
  kind: "ipam",
  describe: (predicate) =>
    ({
      "blocks-disjoint": "no two nodes' pod address ranges overlap",
      "no-borrowing": "no node borrows addresses from another node's block",
      "no-borrowed-tunnel-addresses": "no node's tunnel address is borrowed",
      "every-node-has-a-block": "every node holds a block of its own",
    })[predicate],
  triggers: () => [{ type: "state" }, { type: "poll" }],
  timeoutMs: () => 5000,
  run: async (predicate, ctx) => {
    const plan = await ctx.plan();
    if (!plan) throw new CouldNotCheck("this sandbox does not simulate Calico IPAM (ipam checks need the sim driver)");
    return evaluateIpamMemo(predicate, plan);
  },
};
