/**
 * Cluster DNS in a real sandbox: the lab's CoreDNS pods answer on the coredns Service's ClusterIP (pods'
 * resolv.conf points there, with the cluster search path), a Service is reached by its short name, an
 * unknown name is NXDOMAIN, a Service created with kubectl resolves right away, and `kubectl logs`
 * shows CoreDNS's start-up banner.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { cleanup, eventually, testDriver, uniqueName } from "../../support/sandbox.js";

const driver = testDriver();
const name = uniqueName("dns");
const inPod = (cmd: string) => driver.exec(name, "pod/default/netshoot", ["sh", "-c", cmd], { timeoutMs: 20_000 });

describe("cluster DNS (CoreDNS workload)", { timeout: 120_000 }, () => {
  before(async () => {
    await driver.up({ lab: "webhook-to-kernel", name });
  });
  after(() => cleanup(driver));

  it("a pod resolves a Service by its short name through the search path, and reaches it", async () => {
    const svc = driver.plan(name).services.find((s) => s.name === "hello-world")!;
    const r = await inPod("dig +search +short hello-world");
    assert.equal(r.stdout.trim(), svc.clusterIP, r.stderr);
    const curl = await inPod("curl -s -m 5 http://hello-world/");
    assert.match(curl.stdout, /^hello world from hello-world-/, curl.stderr);
  });

  it("an unknown name in the cluster domain is NXDOMAIN, answered with the cluster's SOA", async () => {
    const r = await inPod("dig nope.default.svc.cluster.local");
    assert.match(r.stdout, /status: NXDOMAIN/);
    assert.match(r.stdout, /cluster\.local\.\s+\d+\s+IN\s+SOA\s+ns\.dns\.cluster\.local\. hostmaster\.cluster\.local\./);
  });

  it("a Service created with kubectl resolves within a couple of seconds", async () => {
    const created = await driver.exec(name, "node/cp-1", ["kubectl", "create", "service", "clusterip", "fresh", "--tcp=80:8080"], { timeoutMs: 20_000 });
    assert.equal(created.code, 0, created.stderr);
    const ip = (await driver.exec(name, "node/cp-1", ["kubectl", "get", "svc", "fresh", "-o", "jsonpath={.spec.clusterIP}"])).stdout;
    const r = await eventually(() => inPod("dig +short fresh.default.svc.cluster.local"), (x) => x.stdout.trim() === ip, 5000);
    assert.equal(r.stdout.trim(), ip);
  });

  it("kubectl logs shows CoreDNS's banner", async () => {
    const pod = driver.plan(name).pods.find((p) => p.labels["k8s-app"] === "kube-dns")!;
    const r = await driver.exec(name, "node/cp-1", ["kubectl", "logs", "-n", "kube-system", pod.name], { timeoutMs: 20_000 });
    assert.match(r.stdout, /^\.:53$/m, r.stderr);
    assert.match(r.stdout, /CoreDNS-1\.8\.6/);
  });
});
