/**
 * The flagship incident with the real kernel: a misspelled kubespray variable -> /24 blocks in a /22
 * pool -> the control plane borrows its tunnel address from worker-3's block -> worker-3 blackholes it.
 * Then the fix through the sandbox (inventory corrected, re-provisioned) and a full reachability matrix.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ClusterPlan } from "../../../server/sim/plan.js";
import { cleanup, eventually, testDriver, uniqueName } from "../../support/sandbox.js";

const driver = testDriver();
const name = uniqueName("flag");
let plan: ClusterPlan;

/** The MetalLB webhook's endpoint; an empty POST gets its "request body is empty" review back. */
const WEBHOOK_PATH = "/validate-metallb-io-v1beta1-ipaddresspool";

function blockOwnerOf(p: ClusterPlan, address: string): string {
  const block = p.blocks.find((b) => b.allocations.some((a) => a.address === address));
  assert.ok(block?.affinity, `no owned block holds ${address}`);
  return block.affinity;
}

describe("flagship sandbox (webhook-to-kernel)", { timeout: 120_000 }, () => {
  before(async () => {
    ({ plan } = await driver.up({ lab: "webhook-to-kernel", name }));
  });
  after(() => cleanup(driver));

  it("evaluates the misspelled prefix to kubespray's default: 4 blocks of /24 for 7 nodes, with borrowing", () => {
    assert.equal(plan.blockSize, 24);
    assert.equal(plan.nodes.length, 7);
    assert.equal(plan.blocks.filter((b) => b.affinity).length, 4);
    const cp = plan.nodes.find((n) => n.role === "control-plane")!;
    assert.equal(cp.tunnelBorrowed, true);
    assert.equal(cp.blocks.length, 0);
    assert.equal(blockOwnerOf(plan, cp.tunnelAddress!), "worker-3");
    const vars = driver.vars(name);
    assert.equal(vars.nodePrefix, 24);
    assert.ok(vars.ignored.some((v) => v.name === "kube_network_nodes_prefix" && v.didYouMean === "kube_network_node_prefix"));
  });

  it("kubectl in a node shell reaches the sandbox's API server: 7 Ready nodes, the system pods", async () => {
    const nodes = await driver.exec(name, "node/worker-2", ["kubectl", "get", "nodes", "--no-headers"], { timeoutMs: 20_000 });
    const lines = nodes.stdout.trim().split("\n");
    assert.equal(lines.length, 7, nodes.stderr);
    assert.ok(lines.every((l) => /^\S+\s+Ready\s/.test(l)), nodes.stdout);
    const pods = await driver.exec(name, "node/cp-1", ["kubectl", "get", "pods", "-n", "metallb-system", "-o", "wide"], { timeoutMs: 20_000 });
    const webhook = plan.pods.find((p) => p.name.startsWith("controller-"))!;
    assert.match(pods.stdout, new RegExp(`${webhook.name}\\s+1/1\\s+Running.*${webhook.address.replaceAll(".", "\\.")}\\s+worker-3`));
    // kubespray's control plane: static pod manifests on cp-1, their mirror pods in kube-system
    const manifests = await driver.exec(name, "node/cp-1", ["ls", "/etc/kubernetes/manifests"]);
    assert.deepEqual(manifests.stdout.trim().split("\n"), ["kube-apiserver.yaml", "kube-controller-manager.yaml", "kube-scheduler.yaml"]);
    const mirror = await driver.exec(name, "node/worker-1", ["kubectl", "get", "pod", "-n", "kube-system", "kube-apiserver-cp-1", "--no-headers"], { timeoutMs: 20_000 });
    assert.match(mirror.stdout, /^kube-apiserver-cp-1\s+1\/1\s+Running/, mirror.stderr);
  });

  it("calicoctl on a node shows Calico's IPAM: 4 blocks of /24 in the /22 pool, the cp tunnel address borrowed from worker-3", async () => {
    const cp = driver.plan(name).nodes.find((n) => n.role === "control-plane")!;
    const blocks = await driver.exec(name, "node/worker-3", ["calicoctl", "ipam", "show", "--show-blocks"], { timeoutMs: 20_000 });
    assert.equal(blocks.code, 0, blocks.stderr);
    assert.match(blocks.stdout, /^\| GROUPING \|\s+CIDR\s+\| IPS TOTAL \| IPS IN USE \|\s+IPS FREE\s+\|$/m);
    assert.match(blocks.stdout, /^\| IP Pool\s+\| 10\.233\.64\.0\/22\s+\|\s+1024 \|/m);
    const rows = blocks.stdout.split("\n").filter((l) => l.startsWith("| Block "));
    assert.equal(rows.length, 4, blocks.stdout);
    assert.ok(rows.every((l) => /^\| Block\s+\| 10\.233\.6[4-7]\.0\/24\s+\|\s+256 \|/.test(l)), blocks.stdout);

    const borrowed = await driver.exec(name, "node/worker-3", ["calicoctl", "ipam", "show", "--show-borrowed"], { timeoutMs: 20_000 });
    assert.equal(borrowed.code, 0, borrowed.stderr);
    assert.match(borrowed.stdout, /^\|\s+IP\s+\| BORROWING-NODE \|\s+BLOCK\s+\| BLOCK OWNER \|\s+TYPE\s+\|\s+ALLOCATED-TO\s+\|$/m);
    const block = plan.nodes.find((n) => n.name === "worker-3")!.blocks[0]!;
    const row = borrowed.stdout.split("\n").find((l) => l.startsWith(`| ${cp.tunnelAddress} `));
    assert.ok(row, borrowed.stdout);
    assert.match(row, new RegExp(`^\\| ${cp.tunnelAddress!.replaceAll(".", "\\.")}\\s+\\| ${cp.name}\\s+\\| ${block.replaceAll(".", "\\.")}\\s+\\| worker-3\\s+\\| (ipip|vxlan)TunnelAddress\\s+\\|`));
  });

  it("on the block owner: ping prints `connect: Invalid argument`, strace shows EINVAL, ip route shows the blackhole", async () => {
    const cp = plan.nodes.find((n) => n.role === "control-plane")!;
    const owner = blockOwnerOf(plan, cp.tunnelAddress!);
    const target = `node/${owner}`;
    const ping = await driver.exec(name, target, ["ping", "-c", "1", "-W", "1", cp.tunnelAddress!], { timeoutMs: 10_000 });
    assert.notEqual(ping.code, 0);
    assert.match(ping.stderr, /ping: connect: Invalid argument/);

    const st = await driver.exec(name, target, ["strace", "-f", "-e", "trace=connect", "curl", "-sS", "--max-time", "2", `http://${cp.tunnelAddress}/`], { timeoutMs: 10_000 });
    assert.match(st.stderr, /connect\(\d+, \{sa_family=AF_INET, sin_port=htons\(80\), sin_addr=inet_addr\("[\d.]+"\)\}, 16\) = -1 EINVAL \(Invalid argument\)/);

    const routes = await driver.exec(name, target, ["ip", "route"]);
    const block = plan.nodes.find((n) => n.name === owner)!.blocks[0]!;
    assert.match(routes.stdout, new RegExp(`^blackhole ${block.replaceAll(".", "\\.")} proto 80`, "m"));
  });

  it("the webhook pod's listener answers locally, times out from the control plane, and tcpdump sees the SYN-ACK leave", async () => {
    const pod = plan.pods.find((p) => p.namespace === "metallb-system" && p.name.startsWith("controller-"))!;
    const podTarget = `pod/${pod.namespace}/${pod.name}`;
    const cp = plan.nodes.find((n) => n.role === "control-plane")!;
    const local = await driver.exec(name, podTarget, ["curl", "-skS", "--max-time", "2", "-X", "POST", `https://${pod.address}:9443${WEBHOOK_PATH}`], { timeoutMs: 10_000 });
    assert.match(local.stdout, /request body is empty/, local.stderr);

    await driver.exec(name, podTarget, ["sh", "-c", "timeout 8 tcpdump -l -n -i eth0 -c 4 'tcp port 9443' >/tmp/cap.txt 2>/dev/null &"]);
    await new Promise((r) => setTimeout(r, 700));
    const remote = await driver.exec(name, `node/${cp.name}`, ["curl", "-skS", "--connect-timeout", "2", `https://${pod.address}:9443/`], { timeoutMs: 10_000 });
    assert.equal(remote.code, 28, remote.stderr);
    assert.match(remote.stderr, /Connection timed out|Failed to connect.*timed out|Timeout was reached/i);

    const cap = await driver.exec(name, podTarget, ["sh", "-c", "sleep 1; cat /tmp/cap.txt"]);
    assert.match(cap.stdout, new RegExp(`${cp.tunnelAddress!.replaceAll(".", "\\.")}\\.\\d+ > ${pod.address.replaceAll(".", "\\.")}\\.9443: Flags \\[S\\]`));
    assert.match(cap.stdout, new RegExp(`${pod.address.replaceAll(".", "\\.")}\\.9443 > ${cp.tunnelAddress!.replaceAll(".", "\\.")}\\.\\d+: Flags \\[S\\.\\]`));
  });

  it("the ClusterIP of the webhook Service is DNATed to the pod: it times out from cp-1 the same way", async () => {
    const svc = plan.services.find((s) => s.name === "metallb-webhook-service")!;
    const res = await driver.exec(name, "node/cp-1", ["curl", "-sS", "--connect-timeout", "2", `http://${svc.clusterIP}:443/`], { timeoutMs: 10_000 });
    assert.equal(res.code, 28, res.stderr);
  });

  it("after fixing the variable and re-provisioning: /25 blocks, no borrowing, and every node and pod reaches every other", async () => {
    // The trainee's fix, made from inside the sandbox: rename the variable, re-run the provisioning.
    const file = "workspace/inventory/mycluster/group_vars/k8s_cluster/k8s-cluster.yml";
    await driver.exec(name, "node/cp-1", ["sed", "-i", "s/^kube_network_nodes_prefix:/kube_network_node_prefix:/", file]);
    const fixed = await driver.exec(name, "node/cp-1", ["grep", "-n", "kube_network_node_prefix", file]);
    assert.match(fixed.stdout, /kube_network_node_prefix: 25/);
    // The shell that asks is rebuilt with the cluster, so it is cut off; the new generation tells it worked.
    const before = driver.ready(name).generation;
    const out = await driver.exec(name, "node/cp-1", ["faultline-reprovision"], { timeoutMs: 30_000 });
    assert.match(out.stdout, /re-provisioning from ~\/workspace/);
    await eventually(() => { try { return driver.ready(name).generation; } catch { return before; } }, (g) => g === before + 1, 20_000);
    assert.equal(driver.ready(name).generation, before + 1);
    const p = driver.plan(name);
    assert.equal(p.blockSize, 25);
    assert.ok(p.nodes.every((n) => n.blocks.length === 1 && !n.tunnelBorrowed));
    assert.ok(p.pods.every((x) => !x.borrowed));

    const addresses = [...p.nodes.flatMap((n) => [n.address, n.tunnelAddress!]), ...p.pods.map((x) => x.address)];
    const targets = [...p.nodes.map((n) => `node/${n.name}`), ...p.pods.map((x) => `pod/${x.namespace}/${x.name}`)];
    const script = `for ip in ${addresses.join(" ")}; do ping -c 1 -W 1 -q $ip >/dev/null 2>&1 || echo "FAIL $ip"; done`;
    const failures: string[] = [];
    for (const t of targets) {
      const r = await driver.exec(name, t, ["sh", "-c", script], { timeoutMs: 60_000 });
      for (const line of r.stdout.split("\n").filter(Boolean)) failures.push(`${t} -> ${line}`);
    }
    assert.deepEqual(failures, [], `${targets.length}x${addresses.length} matrix`);

    const svc = p.services.find((s) => s.name === "metallb-webhook-service")!;
    const viaSvc = await driver.exec(name, "node/cp-1", ["curl", "-skS", "--max-time", "3", "-X", "POST", `https://${svc.clusterIP}:443${WEBHOOK_PATH}`], { timeoutMs: 10_000 });
    assert.match(viaSvc.stdout, /request body is empty/, viaSvc.stderr);
  });
});
