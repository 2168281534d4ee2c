import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { dropTraffic, type DropTrafficSpec } from "../../../../server/sim/faults/drop-traffic.js";
import { testPlan, testTopology } from "./helpers.js";

const spec = (s: Omit<DropTrafficSpec, "kind">): DropTrafficSpec => ({ kind: "drop-traffic", ...s });

describe("drop-traffic", () => {
  it("from a node: DROP first in the node's OUTPUT chain; revert deletes the same rule", () => {
    const s = spec({ from: "node/cp-1", to: "pod/metallb-system/controller", port: 9443 });
    assert.deepEqual(dropTraffic.apply(s, testPlan()), [
      { kind: "iptables", netns: "n_cp-1", table: "filter", rule: "-I OUTPUT -d 10.233.66.5/32 -p tcp -m tcp --dport 9443 -j DROP" },
    ]);
    assert.deepEqual(dropTraffic.revert(s, testPlan()), [
      { kind: "iptables", netns: "n_cp-1", table: "filter", rule: "-D OUTPUT -d 10.233.66.5/32 -p tcp -m tcp --dport 9443 -j DROP" },
    ]);
  });

  it("from a pod to a node: the pod's OUTPUT and its node's FORWARD, for the node and tunnel address", () => {
    const s = spec({ from: "pod/default/web", to: "node/worker-3", protocol: "icmp" });
    assert.deepEqual(dropTraffic.apply(s, testPlan()), [
      { kind: "iptables", netns: "pod_default_web", table: "filter", rule: "-I OUTPUT -d 192.168.10.13/32 -p icmp -j DROP" },
      { kind: "iptables", netns: "pod_default_web", table: "filter", rule: "-I OUTPUT -d 10.233.66.0/32 -p icmp -j DROP" },
      { kind: "iptables", netns: "n_worker-1", table: "filter", rule: "-I FORWARD -s 10.233.64.5/32 -d 192.168.10.13/32 -i cali0123456789a -p icmp -j DROP" },
      { kind: "iptables", netns: "n_worker-1", table: "filter", rule: "-I FORWARD -s 10.233.64.5/32 -d 10.233.66.0/32 -i cali0123456789a -p icmp -j DROP" },
    ]);
    assert.deepEqual(
      dropTraffic.revert(s, testPlan()).map((o) => (o.kind === "iptables" ? o.rule.slice(0, 10) : "")),
      ["-D OUTPUT ", "-D OUTPUT ", "-D FORWARD", "-D FORWARD"],
    );
  });

  it("to a CIDR or an address, udp with a port, or everything", () => {
    const rules = (s: DropTrafficSpec) => dropTraffic.apply(s, testPlan()).map((o) => (o.kind === "iptables" ? o.rule : ""));
    assert.deepEqual(rules(spec({ from: "node/worker-1", to: "10.233.0.0/18", port: 53, protocol: "udp" })), ["-I OUTPUT -d 10.233.0.0/18 -p udp -m udp --dport 53 -j DROP"]);
    assert.deepEqual(rules(spec({ from: "node/worker-1", to: "10.233.0.3" })), ["-I OUTPUT -d 10.233.0.3/32 -j DROP"]);
  });

  it("checks targets: form, existence, CIDR, icmp with a port, from = to", () => {
    const check = (s: Omit<DropTrafficSpec, "kind">) => dropTraffic.check(spec(s), testTopology).map((p) => ({ path: p.path, message: p.message, hint: p.hint }));
    assert.deepEqual(check({ from: "cp-1", to: "node/worker-3" }), [
      { path: ["from"], message: '"cp-1" is not a target; from takes node/<name>, pod/<namespace>/<name>', hint: "did you mean node/cp-1?" },
    ]);
    assert.deepEqual(check({ from: "10.0.0.0/8", to: "node/worker-3" })[0]!.path, ["from"]);
    assert.deepEqual(check({ from: "node/cp-1", to: "pod/default/wbe" }), [
      { path: ["to"], message: "pod default/wbe does not exist; pods are default/web, metallb-system/controller", hint: "did you mean default/web?" },
    ]);
    assert.deepEqual(check({ from: "pod/default/web", to: "node/worker-7" })[0]!.message, "node worker-7 does not exist; nodes are cp-1, worker-1, worker-2, worker-3");
    assert.deepEqual(check({ from: "node/cp-1", to: "10.233.64.0/17" }).map((p) => p.message), ['"10.233.64.0/17" has host bits set']);
    assert.deepEqual(check({ from: "node/cp-1", to: "10.233.64" }).map((p) => p.message), ['"10.233.64" is not an IPv4 CIDR']);
    assert.deepEqual(check({ from: "node/cp-1", to: "svc/default/web" }).map((p) => p.message), ['"svc/default/web" is not a target; to takes node/<name>, pod/<namespace>/<name> or a CIDR']);
    assert.deepEqual(check({ from: "node/cp-1", to: "node/worker-1", port: 80, protocol: "icmp" }).map((p) => p.path), [["port"]]);
    assert.deepEqual(check({ from: "node/cp-1", to: "node/cp-1" }).map((p) => p.path), [["to"]]);
    assert.deepEqual(check({ from: "pod/metallb-system/controller", to: "10.233.64.0/24", port: 443 }), []);
  });
});
