import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FaultlineError } from "../../../../server/errors.js";
import { deleteRoute } from "../../../../server/sim/faults/delete-route.js";
import { testPlan, testTopology } from "./helpers.js";

describe("delete-route", () => {
  it("deletes the planned route spelled out in full, and puts exactly that route back", () => {
    const spec = { kind: "delete-route", node: "worker-1", cidr: "10.233.65.0/24" } as const;
    assert.deepEqual(deleteRoute.apply(spec, testPlan()), [
      { kind: "ip", netns: "n_worker-1", line: "route del 10.233.65.0/24 via 192.168.10.12 proto bird src 10.233.64.0" },
    ]);
    assert.deepEqual(deleteRoute.revert(spec, testPlan()), [
      { kind: "ip", netns: "n_worker-1", line: "route replace 10.233.65.0/24 via 192.168.10.12 proto bird src 10.233.64.0" },
    ]);
  });

  it("knows the routes provisioning adds besides the plan's: connected, default, pod /32", () => {
    const plan = testPlan();
    const line = (cidr: string) => {
      const op = deleteRoute.apply({ kind: "delete-route", node: "worker-1", cidr }, plan)[0];
      return op?.kind === "ip" ? op.line : op;
    };
    assert.equal(line("192.168.10.0/24"), "route del 192.168.10.0/24 dev eth0 proto kernel scope link src 192.168.10.11");
    assert.equal(line("0.0.0.0/0"), "route del default via 192.168.10.1 dev eth0");
    assert.equal(line("10.233.64.5/32"), "route del 10.233.64.5/32 dev cali0123456789a scope link");
    assert.equal(line("10.233.64.0/24"), "route del blackhole 10.233.64.0/24 proto bird");
  });

  it("throws a FaultlineError listing the node's routes when the plan has no route to the destination", () => {
    assert.throws(
      () => deleteRoute.apply({ kind: "delete-route", node: "worker-1", cidr: "10.99.0.0/16" }, testPlan()),
      (err: unknown) =>
        err instanceof FaultlineError &&
        err.message === "delete-route: node worker-1 has no route to 10.99.0.0/16; its routes go to " +
          "192.168.10.0/24, 0.0.0.0/0, 10.233.64.5/32, 10.233.64.0/24, 10.233.65.0/24, 10.233.66.0/24" &&
        /ip route/.test(err.hint ?? ""),
    );
  });

  it("checks the node and the CIDR", () => {
    const problems = deleteRoute.check({ kind: "delete-route", node: "wrker-2", cidr: "default" }, testTopology);
    assert.deepEqual(problems.map((p) => [p.path, p.message]), [
      [["node"], "node wrker-2 does not exist; nodes are cp-1, worker-1, worker-2, worker-3"],
      [["cidr"], '"default" is not an IPv4 CIDR'],
    ]);
    assert.equal(problems[0]!.hint, "did you mean worker-2?");
  });
});
