import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FaultlineError } from "../../../../server/errors.js";
import { mtu } from "../../../../server/sim/faults/mtu.js";
import { testPlan, testTopology } from "./helpers.js";

describe("mtu", () => {
  it("sets eth0's MTU by default and reverts to the node's planned MTU", () => {
    const plan = testPlan();
    plan.nodes[2]!.mtu = 1450;
    const spec = { kind: "mtu", node: "worker-2", mtu: 1400 } as const;
    assert.deepEqual(mtu.apply(spec, plan), [{ kind: "ip", netns: "n_worker-2", line: "link set dev eth0 mtu 1400" }]);
    assert.deepEqual(mtu.revert(spec, plan), [{ kind: "ip", netns: "n_worker-2", line: "link set dev eth0 mtu 1450" }]);
  });

  it("accepts a local pod's cali veth and refuses other interfaces with the ones it can change", () => {
    const plan = testPlan();
    assert.deepEqual(mtu.apply({ kind: "mtu", node: "worker-3", mtu: 9000, interface: "calib1c2d3e4f50" }, plan), [
      { kind: "ip", netns: "n_worker-3", line: "link set dev calib1c2d3e4f50 mtu 9000" },
    ]);
    assert.throws(
      () => mtu.apply({ kind: "mtu", node: "worker-1", mtu: 9000, interface: "calib1c2d3e4f50" }, plan),
      (err: unknown) => err instanceof FaultlineError && err.message === "mtu: node worker-1 has no interface calib1c2d3e4f50; the fault can change eth0, cali0123456789a",
    );
  });

  it("validates the MTU range 68..65535 and interface names in the schema", () => {
    const ok = (v: unknown) => mtu.schema.safeParse(v).success;
    assert.equal(ok({ kind: "mtu", node: "cp-1", mtu: 68 }), true);
    assert.equal(ok({ kind: "mtu", node: "cp-1", mtu: 65535 }), true);
    assert.equal(ok({ kind: "mtu", node: "cp-1", mtu: 67 }), false);
    assert.equal(ok({ kind: "mtu", node: "cp-1", mtu: 65536 }), false);
    assert.equal(ok({ kind: "mtu", node: "cp-1", mtu: 1400.5 }), false);
    assert.equal(ok({ kind: "mtu", node: "cp-1", mtu: 1400, interface: "eth0; reboot" }), false);
  });

  it("checks the node", () => {
    assert.deepEqual(mtu.check({ kind: "mtu", node: "cp-2", mtu: 1400 }, testTopology).map((p) => [p.path, p.hint]), [[["node"], "did you mean cp-1?"]]);
  });
});
