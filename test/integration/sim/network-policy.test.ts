/**
 * NetworkPolicies enforced in a real sandbox, as Calico's Felix does: a default deny in `default` makes
 * the hello-world pods time out for netshoot; an allow from netshoot's label lets it through again;
 * deleting the policies removes every cali- chain. Also: kubectl label changes who is allowed.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { cleanup, eventually, testDriver, uniqueName } from "../../support/sandbox.js";

const driver = testDriver();
const name = uniqueName("netpol");

const DENY = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: default}
spec: {podSelector: {}, policyTypes: [Ingress]}
`;
const ALLOW = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-from-debug, namespace: default}
spec:
  podSelector: {matchLabels: {app: hello-world}}
  ingress: [{from: [{podSelector: {matchLabels: {role: debug}}}], ports: [{port: 8080}]}]
`;

const kubectl = (args: string[], input?: string) => driver.exec(name, "node/cp-1", ["kubectl", ...args], { timeoutMs: 20_000, ...(input ? { input } : {}) });

describe("NetworkPolicy enforcement (Felix)", { timeout: 120_000 }, () => {
  let target = "";
  const probe = () => driver.exec(name, "pod/default/netshoot", ["curl", "-s", "-m", "2", "-o", "/dev/null", "-w", "%{http_code}", `http://${target}:8080/`], { timeoutMs: 10_000 });

  before(async () => {
    await driver.up({ lab: "webhook-to-kernel", name });
    target = driver.plan(name).pods.find((p) => p.labels.app === "hello-world")!.address;
  });
  after(() => cleanup(driver));

  it("without policies every pod reaches every pod", async () => {
    assert.equal((await probe()).stdout, "200");
  });

  it("a default deny for ingress in the namespace: the connection times out (dropped, not refused)", async () => {
    const r = await kubectl(["apply", "-f", "-"], DENY);
    assert.equal(r.stdout.trim(), "networkpolicy.networking.k8s.io/default-deny created", r.stderr);
    const p = await eventually(probe, (x) => x.code === 28, 5000);
    assert.equal(p.code, 28, "curl: (28) timeout");
    const chains = await driver.exec(name, "node/worker-5", ["iptables-save", "-t", "filter"]);
    assert.match(chains.stdout, /^:cali-tw-cali[0-9a-f]{11} /m);
    assert.match(chains.stdout, /Drop if no policies passed packet/);
  });

  it("an allow from a label, and `kubectl label` on the client pod opens the path", async () => {
    await kubectl(["apply", "-f", "-"], ALLOW);
    assert.equal((await probe()).code, 28, "netshoot is not labelled role=debug yet");
    await kubectl(["label", "pod", "netshoot", "role=debug"]);
    const p = await eventually(probe, (x) => x.stdout === "200", 5000);
    assert.equal(p.stdout, "200");
  });

  it("deleting the policies removes every cali- chain again", async () => {
    await kubectl(["delete", "networkpolicy", "--all"]);
    const save = await eventually(() => driver.exec(name, "node/worker-5", ["iptables-save", "-t", "filter"]), (r) => !r.stdout.includes("cali-"), 5000);
    assert.doesNotMatch(save.stdout, /cali-/);
    assert.match(save.stdout, /KUBE-SERVICES/, "kube-proxy's rules stay");
  });
});
