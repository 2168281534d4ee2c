/**
 * The kubelet in a real sandbox: pods created through the API server after the build get an address from
 * Calico IPAM on their node, a network namespace with a veth, routes on every node (a borrowed address
 * gets /32s elsewhere), a shell agent for `kubectl exec` and the workload of their image; an unknown
 * image gives ImagePullBackOff with containerd's words; deleting the pod undoes all of it.
 * Pods here name their node (spec.nodeName), so no scheduler is involved.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { cleanup, eventually, testDriver, uniqueName } from "../../support/sandbox.js";

const driver = testDriver();
const name = uniqueName("kubelet");

const pod = (podName: string, node: string, image: string, extra = "") =>
  `apiVersion: v1\nkind: Pod\nmetadata: {name: ${podName}, labels: {app: ${podName}}}\nspec:\n  nodeName: ${node}\n  containers: [{name: c, image: "${image}"${extra}}]\n`;

async function kubectl(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return driver.exec(name, "node/cp-1", ["kubectl", ...args], { timeoutMs: 20_000, ...(input ? { input } : {}) });
}

async function podField(podName: string, jsonpath: string): Promise<string> {
  return (await kubectl(["get", "pod", podName, "-o", `jsonpath=${jsonpath}`])).stdout;
}

describe("kubelet: pods created at runtime", { timeout: 180_000 }, () => {
  before(async () => {
    await driver.up({ lab: "webhook-to-kernel", name });
  });
  after(() => cleanup(driver));

  it("a pod on worker-1 runs: Running, an address from worker-1's block, reachable over HTTP from another node", async () => {
    const r = await kubectl(["apply", "-f", "-"], pod("web", "worker-1", "nginx:1.25", ", ports: [{containerPort: 80}]"));
    assert.equal(r.stdout.trim(), "pod/web created", r.stderr);
    const phase = await eventually(() => podField("web", "{.status.phase}"), (p) => p === "Running", 10_000);
    assert.equal(phase, "Running");
    const ip = await podField("web", "{.status.podIP}");
    const block = driver.plan(name).nodes.find((n) => n.name === "worker-1")!.blocks[0]!;
    assert.ok(block.startsWith(ip.split(".").slice(0, 3).join(".") + "."), `${ip} is not in worker-1's block ${block}`);
    const routes = await driver.exec(name, "node/worker-1", ["ip", "route", "show", `${ip}/32`]);
    assert.match(routes.stdout, new RegExp(`^${ip.replaceAll(".", "\\.")} dev cali[0-9a-f]{11} scope link`, "m"));
    const curl = await driver.exec(name, "node/worker-2", ["curl", "-s", "-m", "5", `http://${ip}/`]);
    assert.match(curl.stdout, /^hello world from web$/m, curl.stderr);
  });

  it("kubectl exec runs in the pod: its hostname and its address on eth0", async () => {
    const r = await kubectl(["exec", "web", "--", "sh", "-c", "hostname; ip -4 -o addr show eth0"]);
    const ip = await podField("web", "{.status.podIP}");
    assert.match(r.stdout, new RegExp(`^web\\n.*inet ${ip.replaceAll(".", "\\.")}/32`, "s"), r.stderr);
  });

  it("the kubelet's Events: AddedInterface, Pulled, Created, Started", async () => {
    const r = await kubectl(["get", "events", "--field-selector", "involvedObject.name=web", "-o", "jsonpath={range .items[*]}{.reason}{\"\\n\"}{end}"]);
    assert.deepEqual(r.stdout.trim().split("\n"), ["AddedInterface", "Pulled", "Created", "Started"]);
  });

  it("a pod on a node without a block of its own borrows: /32 routes to it on the other nodes", async () => {
    // The flagship's /22 pool has four /24 blocks; worker-5 claimed none and borrows.
    await kubectl(["apply", "-f", "-"], pod("borrower", "worker-5", "nginx"));
    await eventually(() => podField("borrower", "{.status.phase}"), (p) => p === "Running", 10_000);
    const ip = await podField("borrower", "{.status.podIP}");
    const w5 = driver.plan(name).nodes.find((n) => n.name === "worker-5")!;
    const other = await driver.exec(name, "node/worker-2", ["ip", "route", "show", `${ip}/32`]);
    assert.match(other.stdout, new RegExp(`^${ip.replaceAll(".", "\\.")} via ${w5.address.replaceAll(".", "\\.")} dev eth0 proto (80|bird)`, "m"));
    const curl = await driver.exec(name, "node/worker-2", ["curl", "-s", "-m", "5", `http://${ip}/`]);
    assert.match(curl.stdout, /hello world from borrower/, curl.stderr);
    // Calico's CNI plugin records the allocation in the block's IPAMBlock object, which calicoctl reads.
    const borrowed = await eventually(() => driver.exec(name, "node/cp-1", ["calicoctl", "ipam", "show", "--show-borrowed"]), (r) => r.stdout.includes(ip), 5000);
    assert.match(borrowed.stdout, new RegExp(`\\|\\s*${ip.replaceAll(".", "\\.")}\\s*\\|.*worker-5`), borrowed.stderr);
  });

  it("an image no registry has: ErrImagePull then ImagePullBackOff, with containerd's error in the Event", async () => {
    await kubectl(["apply", "-f", "-"], pod("typo", "worker-2", "ngnix"));
    const reason = await eventually(() => podField("typo", "{.status.containerStatuses[0].state.waiting.reason}"), (r) => r === "ImagePullBackOff", 10_000);
    assert.equal(reason, "ImagePullBackOff");
    const list = await kubectl(["get", "pod", "typo", "--no-headers"]);
    assert.match(list.stdout, /^typo\s+0\/1\s+ImagePullBackOff\s+0\s/);
    const describe = await kubectl(["describe", "pod", "typo"]);
    assert.match(
      describe.stdout,
      /Failed to pull image "ngnix": rpc error: code = Unknown desc = failed to pull and unpack image "docker\.io\/library\/ngnix:latest": failed to resolve reference "docker\.io\/library\/ngnix:latest": pull access denied, repository does not exist or may require authorization/,
    );
    assert.match(describe.stdout, /Back-off pulling image "ngnix"/);
  });

  it("busybox with nothing to run completes at once: CrashLoopBackOff; with a command it runs", async () => {
    await kubectl(["apply", "-f", "-"], pod("bb", "worker-2", "busybox"));
    await kubectl(["apply", "-f", "-"], pod("bb-sleep", "worker-2", "busybox", ", command: [sleep, '3600']"));
    const list = await eventually(() => kubectl(["get", "pod", "bb", "bb-sleep", "--no-headers"]), (r) => /CrashLoopBackOff/.test(r.stdout) && /Running/.test(r.stdout), 10_000);
    assert.match(list.stdout, /^bb\s+0\/1\s+CrashLoopBackOff\s+1\s/m);
    assert.match(list.stdout, /^bb-sleep\s+1\/1\s+Running\s+0\s/m);
  });

  it("deleting a pod removes its namespace, veth and route, and releases its address for the next pod", async () => {
    const ip = await podField("web", "{.status.podIP}");
    const del = await kubectl(["delete", "pod", "web"]);
    assert.equal(del.stdout.trim(), 'pod "web" deleted', del.stderr);
    const route = await eventually(() => driver.exec(name, "node/worker-1", ["ip", "route", "show", `${ip}/32`]), (r) => r.stdout.trim() === "", 5000);
    assert.equal(route.stdout.trim(), "");
    // The namespace goes first; the plan (and IPAM state) is written right after the routes are synced.
    const plan = await eventually(() => driver.plan(name), (p) => !p.pods.some((x) => x.name === "web"), 5000);
    assert.ok(!plan.pods.some((p) => p.name === "web"), "the plan still lists the pod");
    const handles = plan.ipam!.blocks.flatMap((b) => b.allocations.map((a) => a.handle));
    assert.ok(!handles.includes("k8s-pod-network.default.web"), "IPAM still holds the pod's handle");
    assert.ok(handles.includes("k8s-pod-network.default.borrower"));
  });

  it("static pods: a netshoot sidecar added to kube-apiserver.yaml on cp-1 runs in cp-1's network namespace and is exec-able", async () => {
    const edit = await driver.exec(name, "node/cp-1", [
      "sed", "-i", "s|^  containers:|  containers:\\n    - name: netshoot\\n      image: nicolaka/netshoot\\n      command: [sleep, infinity]|", "/etc/kubernetes/manifests/kube-apiserver.yaml",
    ]);
    assert.equal(edit.code, 0, edit.stderr);
    const names = await eventually(
      () => kubectl(["get", "pod", "-n", "kube-system", "kube-apiserver-cp-1", "-o", "jsonpath={.spec.containers[*].name} {.status.phase}"]),
      (r) => r.stdout === "netshoot kube-apiserver Running",
      10_000,
    );
    assert.equal(names.stdout, "netshoot kube-apiserver Running", names.stderr);
    const r = await kubectl(["exec", "-n", "kube-system", "kube-apiserver-cp-1", "-c", "netshoot", "--", "sh", "-c", "hostname; ip -4 -o addr show eth0"]);
    const cp = driver.plan(name).nodes.find((n) => n.name === "cp-1")!;
    assert.match(r.stdout, new RegExp(`^cp-1\\n.*inet ${cp.address.replaceAll(".", "\\.")}/`, "s"), r.stderr);
  });

  it("static pods: removing the manifest removes the mirror pod", async () => {
    await driver.exec(name, "node/cp-1", ["mv", "/etc/kubernetes/manifests/kube-scheduler.yaml", "/root/"]);
    const r = await eventually(() => kubectl(["get", "pod", "-n", "kube-system", "kube-scheduler-cp-1"]), (x) => x.code !== 0, 10_000);
    assert.match(r.stderr, /NotFound|not found/);
  });

  it("kubectl run -i --rm --restart=Never: attaches to the container's command, takes its exit code, deletes the pod", async () => {
    const r = await kubectl(["run", "once", "--rm", "-i", "--restart=Never", "--image=busybox", `--overrides={"spec":{"nodeName":"worker-2"}}`, "--", "sh", "-c", "hostname; exit 3"]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stdout, /^once\n/);
    assert.match(r.stdout, /pod "once" deleted/);
    assert.match(r.stderr, /pod default\/once terminated \(Error\)/);
  });

  it("kubectl debug node/worker-1: a hostNetwork pod on the node, with the node's hostname and address", async () => {
    const r = await kubectl(["debug", "node/worker-1", "-i", "--image=busybox", "--", "sh", "-c", "hostname; ip -4 -o addr show eth0"]);
    assert.equal(r.code, 0, r.stderr);
    const w1 = driver.plan(name).nodes.find((n) => n.name === "worker-1")!;
    assert.match(r.stdout, new RegExp(`^worker-1\\n[^\\n]*inet ${w1.address.replaceAll(".", "\\.")}/24`, "m"));
    assert.match(r.stdout, /Creating debugging pod node-debugger-worker-1-[a-z0-9]{5} with container debugger on node worker-1/);
  });
});
