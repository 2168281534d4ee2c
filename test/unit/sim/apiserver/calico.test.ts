/**
 * Calico's objects seeded from a plan: the pool, one IPAMBlock per block in Calico's shape, a
 * BlockAffinity per claimed block, IPAMHandles, and — from the plan with the inventory typo
 * (flagship-plan-borrowing.json: /24 blocks, four for seven nodes) — the borrowed addresses, attributed
 * to the node that uses them inside a block another node holds.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import type { KObject } from "../../../../server/sim/apiserver/objects.js";
import { seedFromPlan } from "../../../../server/sim/apiserver/seed.js";
import { blockName, calicoObjects } from "../../../../server/sim/apiserver/seed/calico.js";
import { Store } from "../../../../server/sim/apiserver/store.js";
import type { ClusterPlan } from "../../../../server/sim/plan.js";
import { FIXTURES, flagshipPlan } from "./fixtures.js";

const AT = new Date("2024-05-01T12:00:00Z");
const borrowingPlan = () => JSON.parse(readFileSync(`${FIXTURES}/flagship-plan-borrowing.json`, "utf8")) as ClusterPlan;

function seeded(plan: ClusterPlan): Store {
  const store = new Store({ serviceCidr: plan.serviceCidr });
  seedFromPlan(store, plan, { kubeVersion: "v1.24.6", caCert: "PEM", createdAt: AT });
  return store;
}

interface BlockSpec {
  affinity: string;
  allocations: Array<number | null>;
  attributes: Array<{ handle_id: string; secondary: Record<string, string> }>;
  cidr: string;
  unallocated: number[];
  strictAffinity: boolean;
  deleted: boolean;
}

describe("Calico objects from the plan", () => {
  it("names blocks after their CIDR as Calico does", () => {
    assert.equal(blockName("10.233.64.128/25"), "10-233-64-128-25");
  });

  it("seeds the pool as kubespray creates it, with the encapsulation the tunnel handles show", () => {
    const fixed = seeded(flagshipPlan()).get("ippools.crd.projectcalico.org", undefined, "default-pool");
    assert.deepEqual(fixed.spec, { allowedUses: ["Workload", "Tunnel"], blockSize: 25, cidr: "10.233.64.0/22", ipipMode: "Always", natOutgoing: true, nodeSelector: "all()", vxlanMode: "Never" });
    const typo = seeded(borrowingPlan()).get("ippools.crd.projectcalico.org", undefined, "default-pool").spec as { blockSize: number; vxlanMode: string; ipipMode: string };
    assert.deepEqual([typo.blockSize, typo.vxlanMode, typo.ipipMode], [24, "Always", "Never"]);
  });

  it("has one IPAMBlock per plan block, one slot per address, and the rest unallocated in order", () => {
    const plan = flagshipPlan();
    const store = seeded(plan);
    const blocks = store.list("ipamblocks").items;
    assert.deepEqual(blocks.map((b) => b.metadata.name), plan.blocks.map((b) => blockName(b.cidr)).sort());
    const b = store.get("ipamblocks", undefined, "10-233-64-0-25").spec as BlockSpec;
    assert.equal(b.affinity, "host:worker-3");
    assert.equal(b.allocations.length, 128);
    assert.deepEqual(b.allocations.slice(0, 4), [0, 1, 2, null]);
    assert.deepEqual(b.unallocated.slice(0, 2), [3, 4]);
    assert.equal(b.unallocated.length, 125);
    assert.deepEqual(b.attributes[0], { handle_id: "ipip-tunnel-addr-worker-3", secondary: { node: "worker-3", type: "ipipTunnelAddress" } });
    assert.deepEqual(b.attributes[1], { handle_id: "k8s-pod-network.metallb-system.controller-7d9cf7f8b-x2kqv", secondary: { namespace: "metallb-system", node: "worker-3", pod: "controller-7d9cf7f8b-x2kqv", timestamp: "2024-05-01T12:00:00Z" } });
    assert.equal(b.strictAffinity, false);
    assert.equal(b.deleted, false);
  });

  it("shows the borrowing: four /24 blocks for seven nodes, cp-1's tunnel address in worker-3's block", () => {
    const store = seeded(borrowingPlan());
    const affinities = store.list("blockaffinities").items.map((a) => a.spec as { node: string; cidr: string; state: string; deleted: string });
    assert.deepEqual(affinities.map((a) => `${a.node} ${a.cidr}`).sort(), ["worker-1 10.233.65.0/24", "worker-2 10.233.66.0/24", "worker-3 10.233.64.0/24", "worker-4 10.233.67.0/24"]);
    assert.ok(affinities.every((a) => a.state === "confirmed" && a.deleted === "false"));
    assert.equal(store.get("blockaffinities", undefined, "worker-3-10-233-64-0-24").metadata.name, "worker-3-10-233-64-0-24");
    const b = store.get("ipamblocks", undefined, "10-233-64-0-24").spec as BlockSpec;
    assert.equal(b.affinity, "host:worker-3");
    const borrowed = b.attributes.filter((a) => a.secondary.node !== "worker-3").map((a) => `${a.handle_id}@${a.secondary.node}`);
    assert.ok(borrowed.includes("vxlan-tunnel-addr-cp-1@cp-1"), borrowed.join(" "));
    assert.ok(borrowed.includes("k8s-pod-network.default.netshoot@worker-6"), borrowed.join(" "));
    // the cp tunnel address 10.233.64.3 sits in slot 3, pointing at cp-1's attribute
    assert.equal(b.attributes[b.allocations[3]!]!.handle_id, "vxlan-tunnel-addr-cp-1");
  });

  it("has one IPAMHandle per handle, counting its addresses per block", () => {
    const store = seeded(borrowingPlan());
    const h = store.get("ipamhandles", undefined, "vxlan-tunnel-addr-cp-1");
    assert.deepEqual(h.spec, { block: { "10.233.64.0/24": 1 }, deleted: false, handleID: "vxlan-tunnel-addr-cp-1" });
    const all = calicoObjects(borrowingPlan(), AT).filter((o) => o.object.kind === "IPAMHandle");
    assert.equal(all.length, borrowingPlan().blocks.reduce((n, b) => n + b.allocations.length, 0));
  });

  it("writes ClusterInformation as calico-node does, with the plan's Calico version", () => {
    const ci = seeded(flagshipPlan()).get("clusterinformations", undefined, "default") as KObject & { spec: { calicoVersion: string; datastoreReady: boolean } };
    assert.equal(ci.spec.calicoVersion, "v3.22.3");
    assert.equal(ci.spec.datastoreReady, true);
  });

  it("seeds MetalLB's CRDs with their printer columns and BGPPeer's two versions", () => {
    const store = seeded(flagshipPlan());
    const pool = store.types.resolve("ipaddresspools.metallb.io")!;
    assert.deepEqual(pool.custom?.columns.map((c) => c.name), ["Auto Assign", "Avoid Buggy IPs", "Addresses"]);
    assert.deepEqual(store.types.all().filter((t) => t.plural === "bgppeers" && t.group === "metallb.io").map((t) => t.version), ["v1beta1", "v1beta2"]);
    assert.equal(store.types.resolve("ipamblocks")?.namespaced, false);
  });
});
