import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FaultlineError } from "../../../../server/errors.js";
import { checkFaults, dataplaneOps, faultKinds, findFaultKind, revertOps, topologyOf, type FaultSpec } from "../../../../server/sim/faults/index.js";
import { faultSpecSchema } from "../../../../server/sim/faults/schema.js";
import { testPlan, testTopology } from "./helpers.js";

const KNOWN = "known kinds: inventory-typo, blackhole-route, delete-route, drop-traffic, mtu (see docs/faults.md)";

describe("fault registry", () => {
  it("has one kind per name, each with a summary and an example that parses and checks clean", () => {
    assert.equal(new Set(faultKinds.map((k) => k.kind)).size, faultKinds.length);
    for (const k of faultKinds) {
      assert.ok(k.summary.length > 20, `${k.kind} summary`);
      assert.deepEqual(faultSpecSchema.parse(k.example), k.example, `${k.kind} example parses`);
      assert.deepEqual(checkFaults([k.example], testTopology), [], `${k.kind} example checks`);
      assert.ok(k.describe(k.example as never).length > 0);
    }
    // Examples of dataplane kinds also fit the test plan.
    assert.ok(dataplaneOps(faultKinds.map((k) => k.example), testPlan()).length > 0);
  });

  it("topologyOf lists a plan's nodes and pods", () => {
    assert.deepEqual(topologyOf(testPlan()), testTopology);
  });

  it("rejects an unknown kind with did-you-mean and the known kinds, at path kind", () => {
    const res = faultSpecSchema.safeParse({ kind: "blackhole-rout", node: "cp-1", cidr: "10.0.0.0/8" });
    assert.equal(res.success, false);
    assert.deepEqual(res.error!.issues.map((i) => [i.path, i.message]), [[["kind"], `unknown fault kind "blackhole-rout"; did you mean blackhole-route?; ${KNOWN}`]]);
    assert.equal(faultSpecSchema.safeParse({ node: "cp-1" }).error!.issues[0]!.message, `a fault needs a \`kind\`; ${KNOWN}`);
    assert.match(faultSpecSchema.safeParse("mtu").error!.issues[0]!.message, /a fault is a mapping with a `kind`/);
    assert.throws(() => findFaultKind("mut"), (err: unknown) => err instanceof FaultlineError && err.message === 'unknown fault kind "mut"; did you mean mtu?' && err.hint === KNOWN);
  });

  it("rejects unknown keys with did-you-mean", () => {
    const res = faultSpecSchema.safeParse({ kind: "mtu", node: "cp-1", mtu: 1400, interfce: "eth0" });
    assert.deepEqual(res.error!.issues.map((i) => [i.path, i.message]), [[[], 'unknown key "interfce" (did you mean "interface"?); mtu takes kind, node, mtu, interface']]);
  });

  it("checkFaults prefixes paths with the fault's index", () => {
    const specs: FaultSpec[] = [
      { kind: "mtu", node: "cp-1", mtu: 1400 },
      { kind: "blackhole-route", node: "worker-9", cidr: "10.233.64.0/25" },
      { kind: "kaboom" } as unknown as FaultSpec,
    ];
    assert.deepEqual(checkFaults(specs, testTopology).map((p) => p.path), [[1, "node"], [2, "kind"]]);
  });

  it("dataplaneOps applies dataplane faults in order, skips inventory faults, and names the fault that fails", () => {
    const specs: FaultSpec[] = [
      { kind: "inventory-typo", variable: "kube_network_node_prefix" },
      { kind: "mtu", node: "worker-2", mtu: 1400 },
      { kind: "blackhole-route", node: "worker-3", cidr: "10.233.64.0/25" },
    ];
    assert.deepEqual(dataplaneOps(specs, testPlan()), [
      { kind: "ip", netns: "n_worker-2", line: "link set dev eth0 mtu 1400" },
      { kind: "ip", netns: "n_worker-3", line: "route replace blackhole 10.233.64.0/25" },
    ]);
    assert.throws(
      () => dataplaneOps([{ kind: "mtu", node: "worker-9", mtu: 1400 }], testPlan()),
      (err: unknown) => err instanceof FaultlineError && err.message.startsWith("faults[0].node: node worker-9 does not exist") && err.hint === "did you mean worker-1?",
    );
    assert.throws(() => dataplaneOps([specs[1]!, { kind: "delete-route", node: "cp-1", cidr: "10.9.0.0/16" }], testPlan()), /^FaultlineError: faults\[1\] \(delete-route\): delete-route: node cp-1 has no route/);
  });

  it("revertOps undoes one fault; inventory faults have no ops", () => {
    assert.deepEqual(revertOps({ kind: "mtu", node: "worker-2", mtu: 1400 }, testPlan()), [{ kind: "ip", netns: "n_worker-2", line: "link set dev eth0 mtu 1500" }]);
    assert.deepEqual(revertOps({ kind: "inventory-typo", variable: "kube_network_node_prefix" }, testPlan()), []);
  });
});
