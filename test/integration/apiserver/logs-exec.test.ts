/**
 * `kubectl logs` and `kubectl exec` in a real sandbox: the trainee's kubectl on cp-1 talks to the sim
 * API server, which reads the workloads' log files and enters the pods' agents for exec — the pod's
 * hostname, interfaces and exit codes come from the pod, not from the API server's host.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { cleanup, testDriver, uniqueName } from "../../support/sandbox.js";

const driver = testDriver();
const name = uniqueName("logx");

describe("kubectl logs and exec against the sim API server", { timeout: 180_000 }, () => {
  before(async () => {
    await driver.up({ lab: "webhook-to-kernel", name });
  });
  after(() => cleanup(driver));

  const kubectl = (args: string[]) => driver.exec(name, "node/cp-1", ["kubectl", ...args], { timeoutMs: 30_000 });

  it("kubectl logs shows the MetalLB controller's start-up lines", async () => {
    const pod = driver.plan(name).pods.find((p) => p.namespace === "metallb-system" && p.name.startsWith("controller-"))!;
    const r = await kubectl(["logs", "-n", "metallb-system", pod.name]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /MetalLB controller starting version/);
    assert.match(r.stdout, /Starting webhook server/);
    const tail = await kubectl(["logs", "-n", "metallb-system", pod.name, "--tail", "1"]);
    assert.equal(tail.stdout.trim().split("\n").length, 1, tail.stdout);
  });

  it("kubectl logs of an unknown pod: the real NotFound", async () => {
    const r = await kubectl(["logs", "-n", "default", "nope"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /pods "nope" not found/);
  });

  it("kubectl exec runs in the pod: its hostname", async () => {
    const r = await kubectl(["exec", "-n", "default", "netshoot", "--", "hostname"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), "netshoot");
  });

  it("kubectl exec passes the command's exit code through", async () => {
    const r = await kubectl(["exec", "-n", "default", "netshoot", "--", "sh", "-c", "exit 3"]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /command terminated with exit code 3/);
  });

  it("kubectl exec sees the pod's network: eth0 has the pod's address", async () => {
    const pod = driver.plan(name).pods.find((p) => p.namespace === "default" && p.name === "netshoot")!;
    const r = await kubectl(["exec", "-n", "default", "netshoot", "--", "ip", "-o", "addr", "show", "eth0"]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes(`inet ${pod.address}/`), r.stdout);
  });

  it("kubectl exec -i feeds stdin", async () => {
    const r = await driver.exec(name, "node/cp-1", ["kubectl", "exec", "-i", "-n", "default", "netshoot", "--", "cat"], { input: "through the pod\n", timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "through the pod\n");
  });
});
