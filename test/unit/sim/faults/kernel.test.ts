/**
 * The ops faults render must be accepted by the real tools and kernel, and revert must restore the
 * state provisioning built. A throwaway user+network namespace is provisioned from the test plan
 * with dataplane/render.ts, then each fault is applied and reverted while routes, MTUs and filter
 * rules of every namespace are recorded.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { renderProvisioning } from "../../../../server/sim/dataplane/render.js";
import { dataplaneOps, revertOps, type FaultSpec } from "../../../../server/sim/faults/index.js";
import { inThrowawayNamespace, kernelUnavailable, opsScript, sections, testPlan } from "./helpers.js";

const skip = kernelUnavailable() ?? false;

const FAULTS: FaultSpec[] = [
  { kind: "blackhole-route", node: "worker-3", cidr: "10.233.64.0/25" },
  { kind: "blackhole-route", node: "worker-3", cidr: "10.233.64.0/24", type: "prohibit" },
  { kind: "blackhole-route", node: "worker-1", cidr: "10.233.64.5/32", type: "unreachable" },
  { kind: "delete-route", node: "worker-1", cidr: "10.233.65.0/24" },
  { kind: "delete-route", node: "worker-3", cidr: "192.168.10.0/24" },
  { kind: "delete-route", node: "worker-2", cidr: "0.0.0.0/0" },
  { kind: "delete-route", node: "worker-1", cidr: "10.233.64.5/32" },
  { kind: "drop-traffic", from: "pod/default/web", to: "node/worker-3", port: 443 },
  { kind: "drop-traffic", from: "node/cp-1", to: "10.233.66.0/24", protocol: "icmp" },
  { kind: "drop-traffic", from: "node/cp-1", to: "node/worker-1" },
  { kind: "mtu", node: "worker-2", mtu: 1400 },
  { kind: "mtu", node: "worker-3", mtu: 9000, interface: "calib1c2d3e4f50" },
];

/** Shell that prints routes, link MTUs and filter rules of every namespace under `=== label`. */
function snapshot(label: string, netns: string[]): string {
  return [
    `echo '=== ${label}'`,
    ...netns.map((ns) => `echo '# ${ns}'; ip -n ${ns} route show; ip -n ${ns} -o link show | awk '{print $2, $5}'; ip netns exec ${ns} iptables -S`),
  ].join("\n");
}

/** Shell that prints whether one ping from `ns` to `dst` got an answer, under `=== label`. */
function ping(label: string, ns: string, dst: string, dir: string): string {
  return `echo '=== ${label}'; if ip netns exec ${ns} ping -c1 -W1 ${dst} >${dir}/ping.out 2>&1; then echo ok; else echo "failed: $(tr '\\n' ' ' <${dir}/ping.out)"; fi`;
}

describe("fault ops in a real network namespace", { skip }, () => {
  it("are accepted by ip and iptables-restore, take effect, and revert to the provisioned state", async () => {
    const plan = testPlan();
    const prov = renderProvisioning(plan);
    const out = sections(
      await inThrowawayNamespace(async (dir) => {
        const steps = [...prov.netns.map((ns) => `ip netns add ${ns}`)];
        for (const [i, phase] of prov.phases.entries()) steps.push(await opsScript(phase, dir, `phase${i}`));
        steps.push(snapshot("base", prov.netns));
        steps.push(ping("ping cp-1 -> worker-1 base", "n_cp-1", "192.168.10.11", dir));
        steps.push(ping("ping web -> worker-3 base", "pod_default_web", "192.168.10.13", dir));
        for (const [i, f] of FAULTS.entries()) {
          steps.push(await opsScript(dataplaneOps([f], plan), dir, `apply${i}`));
          steps.push(snapshot(`apply ${i}`, prov.netns));
          if (f.kind === "drop-traffic" && f.to === "node/worker-1") steps.push(ping("ping cp-1 -> worker-1 dropped", "n_cp-1", "192.168.10.11", dir));
          steps.push(await opsScript(revertOps(f, plan), dir, `revert${i}`));
          steps.push(snapshot(`revert ${i}`, prov.netns));
        }
        steps.push(ping("ping cp-1 -> worker-1 reverted", "n_cp-1", "192.168.10.11", dir));
        return steps.join("\n");
      }),
    );

    const base = out.get("base")!;
    assert.match(base, /# n_worker-3\n(.*\n)*10\.233\.64\.0\/24 via 192\.168\.10\.11 dev eth0 proto bird src 10\.233\.66\.0/);
    for (const [i, f] of FAULTS.entries()) {
      assert.notEqual(out.get(`apply ${i}`), base, `fault ${i} (${f.kind}) changed something`);
      assert.equal(out.get(`revert ${i}`), base, `fault ${i} (${f.kind}) reverted to the provisioned state`);
    }
    const applied = (i: number) => out.get(`apply ${i}`)!;
    assert.match(applied(0), /^blackhole 10\.233\.64\.0\/25 $/m);
    assert.match(applied(1), /^prohibit 10\.233\.64\.0\/24 $/m);
    assert.match(applied(2), /^unreachable 10\.233\.64\.5 $/m);
    // iptables -S prints our rules exactly as we wrote them (with -A for the inserted ones).
    assert.match(applied(7), /^-A FORWARD -s 10\.233\.64\.5\/32 -d 10\.233\.66\.0\/32 -i cali0123456789a -p tcp -m tcp --dport 443 -j DROP$/m);
    assert.match(applied(7), /# pod_default_web\n(.*\n)*-A OUTPUT -d 192\.168\.10\.13\/32 -p tcp -m tcp --dport 443 -j DROP/);
    assert.match(applied(8), /^-A OUTPUT -d 10\.233\.66\.0\/24 -p icmp -j DROP$/m);
    assert.match(applied(10), /# n_worker-2\n(.*\n)*eth0@if\d+: 1400/);
    assert.match(applied(11), /calib1c2d3e4f50@if\d+: 9000/);

    assert.equal(out.get("ping cp-1 -> worker-1 base"), "ok\n");
    assert.equal(out.get("ping web -> worker-3 base"), "ok\n");
    // Dropped in OUTPUT: sendto() gets EPERM, which ping counts as a lost packet without a message.
    assert.match(out.get("ping cp-1 -> worker-1 dropped")!, /^failed: .*100% packet loss/);
    assert.equal(out.get("ping cp-1 -> worker-1 reverted"), "ok\n");
  });
});
