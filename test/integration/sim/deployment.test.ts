/**
 * The hello-world path in a real sandbox, end to end: a Deployment made with kubectl is scheduled onto
 * workers, its pods get addresses and run, `rollout status` completes, `expose` gives a Service whose
 * Endpoints follow the pods, and a pod reaches it by name (CoreDNS + kube-proxy DNAT); scaling down
 * shrinks the Endpoints and the iptables rules; deleting the Deployment removes its pods' networks.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { cleanup, eventually, testDriver, uniqueName } from "../../support/sandbox.js";

const driver = testDriver();
const name = uniqueName("deploy");
const kubectl = (...args: string[]) => driver.exec(name, "node/cp-1", ["kubectl", ...args], { timeoutMs: 60_000 });

describe("a Deployment behind a Service, in a sandbox", { timeout: 180_000 }, () => {
  before(async () => {
    await driver.up({ lab: "webhook-to-kernel", name });
  });
  after(() => cleanup(driver));

  it("create deployment → scheduled on workers, Running with pod addresses, rollout status completes", async () => {
    const c = await kubectl("create", "deployment", "web", "--image=gcr.io/google-samples/hello-app:1.0", "--replicas=3", "--port=8080");
    assert.equal(c.stdout.trim(), "deployment.apps/web created", c.stderr);
    const r = await kubectl("rollout", "status", "deployment/web", "--timeout=60s");
    assert.match(r.stdout, /deployment "web" successfully rolled out/, r.stderr);
    const pods = await kubectl("get", "pods", "-l", "app=web", "-o", "jsonpath={range .items[*]}{.spec.nodeName} {.status.phase} {.status.podIP}{\"\\n\"}{end}");
    const rows = pods.stdout.trim().split("\n").map((l) => l.split(" "));
    assert.equal(rows.length, 3);
    for (const [node, phase, ip] of rows) {
      assert.match(node!, /^worker-\d$/, "the control plane's taint keeps pods off cp-1");
      assert.equal(phase, "Running");
      assert.match(ip!, /^10\.233\.6[4-7]\.\d+$/);
    }
  });

  it("expose → Endpoints list the three pods; a pod reaches the Service by name", async () => {
    const e = await kubectl("expose", "deployment", "web", "--port=80", "--target-port=8080");
    assert.equal(e.stdout.trim(), "service/web exposed", e.stderr);
    const eps = await eventually(() => kubectl("get", "endpoints", "web", "-o", "jsonpath={.subsets[0].addresses[*].ip}"), (r) => r.stdout.split(" ").filter(Boolean).length === 3, 10_000);
    assert.equal(eps.stdout.split(" ").length, 3);
    const curl = await eventually(() => driver.exec(name, "pod/default/netshoot", ["curl", "-s", "-m", "3", "http://web/"]), (r) => /hello world from web-/.test(r.stdout), 10_000);
    assert.match(curl.stdout, /^hello world from web-[a-z0-9]+-[a-z0-9]{5}$/m);
  });

  it("scale to 1 → one endpoint, one KUBE-SEP chain for the Service in every node", async () => {
    await kubectl("scale", "deployment", "web", "--replicas=1");
    const eps = await eventually(() => kubectl("get", "endpoints", "web", "-o", "jsonpath={.subsets[0].addresses[*].ip}"), (r) => r.stdout.trim().split(" ").length === 1, 10_000);
    const ip = eps.stdout.trim();
    const rules = await eventually(
      () => driver.exec(name, "node/worker-1", ["sh", "-c", "iptables-save -t nat | grep -c 'default/web.*DNAT'"]),
      (r) => r.stdout.trim() === "1",
      10_000,
    );
    assert.equal(rules.stdout.trim(), "1");
    const dnat = await driver.exec(name, "node/worker-1", ["sh", "-c", "iptables-save -t nat | grep 'default/web.*DNAT'"]);
    assert.match(dnat.stdout, new RegExp(`--to-destination ${ip.replaceAll(".", "\\.")}:8080`));
  });

  it("delete deployment → its pods and their networks go", async () => {
    await kubectl("delete", "deployment", "web");
    const left = await eventually(() => kubectl("get", "pods", "-l", "app=web", "-o", "name"), (r) => r.stdout.trim() === "", 10_000);
    assert.equal(left.stdout.trim(), "");
    const plan = await eventually(() => driver.plan(name), (p) => !p.pods.some((x) => x.name.startsWith("web-")), 10_000);
    assert.ok(!plan.pods.some((x) => x.name.startsWith("web-")));
  });
});
