/**
 * The ipam predicates over the flagship's plan as a sandbox builds it, before the fix (the lab's
 * inventory with its typo: /24 blocks, 4 for 7 nodes) and after (/25: one block each), and over IPAM
 * states from fixtures/ipam/ for what the flagship never shows (overlapping leftover blocks, a block
 * whose node was deleted, a borrowed pod address with own tunnel addresses).
 */
import assert from "node:assert/strict";
import { cp, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { runCheck } from "../../../server/checks/kinds/index.js";
import { evaluateIpam } from "../../../server/checks/kinds/ipam.js";
import { IPAM_PREDICATES } from "../../../server/checks/schema.js";
import { loadLabSandboxSpec } from "../../../server/labs/lab.js";
import { projectRoot } from "../../../server/paths.js";
import { buildPlan } from "../../../server/sim/build-plan.js";
import { injectInventoryFaults } from "../../../server/sim/faults/index.js";
import { evaluateInventory } from "../../../server/sim/kubespray/evaluate.js";
import type { ClusterPlan } from "../../../server/sim/plan.js";
import { fakeContext } from "./support.js";

/** The flagship's plan with the lab's faults (before) or as the lab ships its inventory (after the fix). */
async function flagship(opts: { fixed: boolean }): Promise<ClusterPlan> {
  const lab = await loadLabSandboxSpec("webhook-to-kernel");
  const tmp = await mkdtemp(path.join(os.tmpdir(), "faultline-ipam-check-"));
  try {
    const inv = path.join(tmp, "inventory");
    await cp(path.join(lab.workspaceDir, lab.inventoryInWorkspace), inv, { recursive: true });
    if (!opts.fixed) await injectInventoryFaults(lab.faults, inv);
    return buildPlan(lab.id, lab.cluster, await evaluateInventory(inv, lab.cluster.kubespray));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function fixture(name: string): Promise<ClusterPlan> {
  return JSON.parse(await readFile(path.join(projectRoot, "test", "unit", "checks", "fixtures", "ipam", `${name}.json`), "utf8")) as ClusterPlan;
}

const verdicts = (plan: ClusterPlan) => Object.fromEntries(IPAM_PREDICATES.map((p) => [p, evaluateIpam(p, plan).status]));

describe("ipam predicates: the flagship", () => {
  it("before the fix every predicate fails; cp-1's borrowed tunnel address is named first", async () => {
    const plan = await flagship({ fixed: false });
    assert.equal(plan.blockSize, 24);
    assert.deepEqual(verdicts(plan), { "blocks-disjoint": "fail", "no-borrowing": "fail", "no-borrowed-tunnel-addresses": "fail", "every-node-has-a-block": "fail" });
    const cp1 = plan.nodes.find((n) => n.name === "cp-1")!;
    assert.equal(cp1.tunnelBorrowed, true);
    const disjoint = evaluateIpam("blocks-disjoint", plan);
    assert.match(disjoint.detail!, new RegExp(`tunnel address ${cp1.tunnelAddress!.replaceAll(".", "\\.")} lies in 10\\.233\\.64\\.0/24, a block affine to worker-3`));
    assert.match(disjoint.detail!, /tunnel address/);
    assert.deepEqual(evaluateIpam("every-node-has-a-block", plan), {
      status: "fail",
      detail: "cp-1, worker-5, worker-6 have no block of 10.233.64.0/22 (/24 blocks: 4 claimed)",
    });
  });

  it("after the fix (/25 blocks, 8 in the pool) every predicate passes", async () => {
    const plan = await flagship({ fixed: true });
    assert.equal(plan.blockSize, 25);
    assert.deepEqual(verdicts(plan), { "blocks-disjoint": "pass", "no-borrowing": "pass", "no-borrowed-tunnel-addresses": "pass", "every-node-has-a-block": "pass" });
    assert.equal(evaluateIpam("blocks-disjoint", plan).detail, "7 nodes, 7 blocks of /25 in 10.233.64.0/22: no overlap, every address in its node's own block");
  });
});

describe("ipam predicates: states the flagship does not show", () => {
  it("overlapping affine blocks (a /24 left over from before a re-size) are not disjoint", async () => {
    const plan = await fixture("leftover-24-block");
    assert.deepEqual(evaluateIpam("blocks-disjoint", plan), { status: "fail", detail: "worker-3's and cp-1's blocks overlap in 10.233.64.0/25" });
    assert.equal(evaluateIpam("no-borrowing", plan).status, "pass", "nothing is borrowed: each address is in a block of its node");
  });

  it("an address in a block with no affinity is borrowed, but nobody blackholes it: disjoint", async () => {
    const plan = await fixture("orphan-block");
    assert.deepEqual(verdicts(plan), { "blocks-disjoint": "pass", "no-borrowing": "fail", "no-borrowed-tunnel-addresses": "pass", "every-node-has-a-block": "pass" });
    assert.equal(evaluateIpam("no-borrowing", plan).detail, "worker-2's pod address (default.web) 10.233.64.7 is borrowed from 10.233.64.0/24 (no affinity)");
  });

  it("a pod borrowing from another node's block: not disjoint, but no tunnel address is borrowed", async () => {
    const plan = await fixture("pod-borrowed");
    assert.deepEqual(verdicts(plan), { "blocks-disjoint": "fail", "no-borrowing": "fail", "no-borrowed-tunnel-addresses": "pass", "every-node-has-a-block": "pass" });
    assert.equal(evaluateIpam("blocks-disjoint", plan).detail, "worker-2's pod address (default.web-2) 10.233.64.1 lies in 10.233.64.0/30, a block affine to worker-1");
  });
});

describe("ipam check in a context", () => {
  it("a driver without a plan, or a plan without IPAM state, is could-not-check", async () => {
    assert.deepEqual(await runCheck({ ipam: "blocks-disjoint" }, fakeContext()), {
      status: "error",
      detail: "could not check: this sandbox does not simulate Calico IPAM (ipam checks need the sim driver)",
    });
    const noIpam = { nodes: [] } as unknown as ClusterPlan;
    assert.deepEqual(await runCheck({ ipam: "no-borrowing" }, fakeContext({ plan: async () => noIpam })), {
      status: "error",
      detail: "could not check: the sandbox's plan has no IPAM state",
    });
  });

  it("the same plan object is evaluated once per predicate (the sim context re-reads plan.json only when it changes)", async () => {
    const plan = await flagship({ fixed: true });
    const ctx = fakeContext({ plan: async () => plan });
    const first = await runCheck({ ipam: "blocks-disjoint" }, ctx);
    plan.ipam = undefined; // would be an error if it were evaluated again
    assert.deepEqual(await runCheck({ ipam: "blocks-disjoint" }, ctx), first);
  });
});
