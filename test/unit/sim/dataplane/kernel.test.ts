/**
 * The rendered dataplane, executed for real: a plan built from fixtures (two /25 blocks, three nodes,
 * cp-1's tunnel address borrowed from worker-1's block, as in the flagship lab) is provisioned by
 * provision-child.js with the real executor inside a throwaway user+network+mount namespace (the fault
 * tests' helpers), then the kernel's routes are read back and pods ping each other across nodes.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { clusterSchema } from "../../../../server/labs/lab.js";
import { projectRoot } from "../../../../server/paths.js";
import { buildPlan } from "../../../../server/sim/build-plan.js";
import { evaluateInventory } from "../../../../server/sim/kubespray/evaluate.js";
import type { ClusterPlan } from "../../../../server/sim/plan.js";
import { inThrowawayNamespace, kernelUnavailable, sections } from "../faults/helpers.js";

const skip = kernelUnavailable() ?? false;
const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), "provision-child.js");

async function smallPlan(): Promise<ClusterPlan> {
  const fixtures = path.join(projectRoot, "test", "fixtures", "build-plan");
  const spec = clusterSchema.parse(parseYaml(readFileSync(path.join(fixtures, "clusters", "borrowed-tunnel.yaml"), "utf8")));
  const ev = await evaluateInventory(path.join(fixtures, "inventories", "two-blocks"), "v2.19");
  return buildPlan("kernel", spec, ev);
}

/** Shell printing whether one ping from `ns` to `dst` was answered, under `=== label`. */
function ping(label: string, ns: string, dst: string): string {
  return `echo '=== ${label}'; if ip netns exec ${ns} ping -c1 -W1 ${dst} >/dev/null 2>&1; then echo ok; else echo lost; fi`;
}

describe("a rendered plan, executed in a real network namespace", { skip }, () => {
  it("holds Calico's routes, forwards pod to pod across nodes, and blackholes replies to a borrowed tunnel address", async () => {
    const plan = await smallPlan();
    const pod = (name: string) => plan.pods.find((p) => p.name === name)!;
    // The addresses the assertions below rely on (build-plan.test.ts checks them in detail).
    assert.deepEqual([pod("a").address, pod("b").address, pod("c").address], ["10.233.64.2", "10.233.64.129", "10.233.64.3"]);
    assert.equal(plan.nodes.find((n) => n.name === "cp-1")!.tunnelAddress, "10.233.64.1");

    const out = sections(
      await inThrowawayNamespace(async (dir) => {
        const planFile = path.join(dir, "plan.json");
        await writeFile(planFile, JSON.stringify(plan));
        return [
          `${JSON.stringify(process.execPath)} ${JSON.stringify(CHILD)} ${JSON.stringify(planFile)}`,
          ...plan.nodes.map((n) => `echo '=== route ${n.name}'; ip -n ${n.name} route show`),
          `echo '=== ip_forward worker-1'; ip netns exec worker-1 cat /proc/sys/net/ipv4/ip_forward`,
          `echo '=== proxy_arp worker-1'; ip netns exec worker-1 cat /proc/sys/net/ipv4/conf/${pod("a").hostIface}/proxy_arp`,
          `echo '=== nat worker-1'; ip netns exec worker-1 iptables -t nat -S`,
          ping("pod a -> pod b", pod("a").netns, pod("b").address),
          ping("pod c (borrowed) -> pod b", pod("c").netns, pod("b").address),
          ping("worker-2 -> pod a", "worker-2", pod("a").address),
          ping("cp-1 -> pod a", "cp-1", pod("a").address),
        ].join("\n");
      }),
    );

    const w1 = out.get("route worker-1")!;
    assert.match(w1, /^blackhole 10\.233\.64\.0\/25 proto 80 $/m);
    assert.match(w1, /^10\.233\.64\.128\/25 via 192\.168\.10\.12 dev eth0 proto 80 src 10\.233\.64\.0 $/m);
    assert.match(w1, /^10\.233\.64\.3 via 192\.168\.10\.10 dev eth0 proto 80 src 10\.233\.64\.0 $/m, "the borrowed pod's /32");
    assert.match(w1, new RegExp(`^10\\.233\\.64\\.2 dev ${pod("a").hostIface} scope link $`, "m"));
    assert.doesNotMatch(w1, /^10\.233\.64\.1 /m, "no route for cp-1's borrowed tunnel address (Calico v3.22)");
    assert.match(w1, /^10\.233\.0\.0\/18 dev eth0 scope link src 10\.233\.64\.0 $/m);
    assert.match(w1, /^default via 192\.168\.10\.1 dev eth0 $/m);

    const cp = out.get("route cp-1")!;
    assert.match(cp, /^10\.233\.64\.0\/25 via 192\.168\.10\.11 dev eth0 proto 80 src 10\.233\.64\.1 $/m);
    assert.match(cp, new RegExp(`^10\\.233\\.64\\.3 dev ${pod("c").hostIface} scope link $`, "m"), "pod c's route on the node using its address");
    assert.doesNotMatch(cp, /^blackhole/m, "cp-1 owns no block");
    assert.match(out.get("route worker-2")!, /^blackhole 10\.233\.64\.128\/25 proto 80 $/m);

    assert.equal(out.get("ip_forward worker-1"), "1\n");
    assert.equal(out.get("proxy_arp worker-1"), "1\n");
    assert.match(out.get("nat worker-1")!, /^-A KUBE-SERVICES -d 10\.233\.0\.10\/32 -p tcp -m tcp --dport 80 -m comment --comment "default\/web:http cluster IP" -j KUBE-SVC-/m);
    assert.match(out.get("nat worker-1")!, /^-A KUBE-SEP-\S+ -p tcp -m comment --comment "default\/web:http" -m tcp -j DNAT --to-destination 10\.233\.64\.129:8080$/m);

    assert.equal(out.get("pod a -> pod b"), "ok\n", "pod to pod across nodes");
    assert.equal(out.get("pod c (borrowed) -> pod b"), "ok\n", "a borrowed pod address is reachable through its /32");
    assert.equal(out.get("worker-2 -> pod a"), "ok\n", "a node reaches another node's pod from its tunnel address");
    // The flagship's mechanism: cp-1 talks from 10.233.64.1, and worker-1 blackholes the reply.
    assert.equal(out.get("cp-1 -> pod a"), "lost\n");
  });
});
