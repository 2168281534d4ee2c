import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { blackholeRoute } from "../../../../server/sim/faults/blackhole-route.js";
import { testPlan, testTopology } from "./helpers.js";

describe("blackhole-route", () => {
  it("replaces the route in the node's namespace, blackhole by default", () => {
    assert.deepEqual(blackholeRoute.apply({ kind: "blackhole-route", node: "worker-3", cidr: "10.233.64.0/25" }, testPlan()), [
      { kind: "ip", netns: "n_worker-3", line: "route replace blackhole 10.233.64.0/25" },
    ]);
    assert.deepEqual(blackholeRoute.apply({ kind: "blackhole-route", node: "cp-1", cidr: "10.233.66.0/24", type: "unreachable" }, testPlan()), [
      { kind: "ip", netns: "n_cp-1", line: "route replace unreachable 10.233.66.0/24" },
    ]);
  });

  it("reverts by deleting only a route of its type when the plan has none to that destination", () => {
    assert.deepEqual(blackholeRoute.revert({ kind: "blackhole-route", node: "worker-3", cidr: "10.233.64.0/25", type: "prohibit" }, testPlan()), [
      { kind: "ip", netns: "n_worker-3", line: "route del prohibit 10.233.64.0/25" },
    ]);
  });

  it("reverts by putting back the planned route it replaced (Calico block route, pod /32, default)", () => {
    const plan = testPlan();
    assert.deepEqual(blackholeRoute.revert({ kind: "blackhole-route", node: "worker-3", cidr: "10.233.64.0/24" }, plan), [
      { kind: "ip", netns: "n_worker-3", line: "route replace 10.233.64.0/24 via 192.168.10.11 proto bird src 10.233.66.0" },
    ]);
    assert.deepEqual(blackholeRoute.revert({ kind: "blackhole-route", node: "worker-1", cidr: "10.233.64.5/32" }, plan), [
      { kind: "ip", netns: "n_worker-1", line: "route replace 10.233.64.5/32 dev cali0123456789a scope link" },
    ]);
    assert.deepEqual(blackholeRoute.revert({ kind: "blackhole-route", node: "worker-1", cidr: "0.0.0.0/0" }, plan), [
      { kind: "ip", netns: "n_worker-1", line: "route replace default via 192.168.10.1 dev eth0" },
    ]);
  });

  it("checks the node and the CIDR, with paths relative to the spec", () => {
    const problems = blackholeRoute.check({ kind: "blackhole-route", node: "worker-9", cidr: "10.233.64.1/25" }, testTopology);
    assert.deepEqual(problems.map((p) => p.path), [["node"], ["cidr"]]);
    assert.equal(problems[0]!.message, "node worker-9 does not exist; nodes are cp-1, worker-1, worker-2, worker-3");
    assert.equal(problems[0]!.hint, "did you mean worker-1?");
    assert.equal(problems[1]!.message, '"10.233.64.1/25" has host bits set');
    assert.match(problems[1]!.hint!, /did you mean 10\.233\.64\.0\/25/);
    assert.match(blackholeRoute.check({ kind: "blackhole-route", node: "cp-1", cidr: "10.233.64.0/33" }, testTopology)[0]!.message, /not an IPv4 CIDR/);
    assert.deepEqual(blackholeRoute.check({ kind: "blackhole-route", node: "cp-1", cidr: "10.233.64.0/25" }, testTopology), []);
  });

  it("rejects an unknown type and unknown keys in the schema", () => {
    assert.equal(blackholeRoute.schema.safeParse({ kind: "blackhole-route", node: "cp-1", cidr: "10.0.0.0/8", type: "drop" }).success, false);
    const res = blackholeRoute.schema.safeParse({ kind: "blackhole-route", node: "cp-1", cidr: "10.0.0.0/8", cdir: "x" });
    assert.equal(res.success, false);
    assert.match(res.error!.issues[0]!.message, /unknown key "cdir" \(did you mean "cidr"\?\); blackhole-route takes kind, node, cidr, type/);
  });
});
