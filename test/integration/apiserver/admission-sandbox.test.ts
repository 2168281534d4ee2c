/**
 * FIDELITY.md step 1 and step 11 with nothing injected: the flagship sandbox's API server (in cp-1's
 * network namespace) calls MetalLB's validating webhook through the Service's ClusterIP; the kernel
 * DNATs it to the controller pod on worker-3, whose SYN-ACK to cp-1's borrowed tunnel address
 * worker-3 blackholes. kubectl waits out the webhook's default 10 s and prints the real error. After
 * the inventory is fixed and the cluster re-provisioned from inside, the same apply is admitted, and
 * the webhook's own validation (overlapping pools) answers.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { cleanup, eventually, testDriver, uniqueName } from "../../support/sandbox.js";

const driver = testDriver();
const name = uniqueName("adm");
const POOL = "workspace/metallb/pool.yaml";

describe("the MetalLB webhook over the sandbox network", { timeout: 180_000 }, () => {
  before(async () => {
    await driver.up({ lab: "webhook-to-kernel", name });
  });
  after(() => cleanup(driver));

  it("kubectl apply -f pool.yaml: context deadline exceeded after the webhook's 10 s, word for word", async () => {
    const started = Date.now();
    const r = await driver.exec(name, "node/cp-1", ["kubectl", "apply", "-f", POOL], { timeoutMs: 30_000 });
    const took = Date.now() - started;
    assert.equal(r.code, 1, r.stdout);
    assert.equal(
      r.stderr.trim(),
      `Error from server (InternalError): error when creating "${POOL}": Internal error occurred: failed calling webhook "ipaddresspoolvalidationwebhook.metallb.io": failed to call webhook: Post "https://metallb-webhook-service.metallb-system.svc:443/validate-metallb-io-v1beta1-ipaddresspool?timeout=10s": context deadline exceeded`,
    );
    assert.ok(took >= 10_000 && took < 20_000, `returned after ${took} ms`);
  });

  it("the webhook answers inside its own pod (step 2): TLS on 9443, a real AdmissionReview endpoint", async () => {
    const pod = driver.plan(name).pods.find((p) => p.name.startsWith("controller-"))!;
    // An empty review: controller-runtime answers 200 with the error inside the AdmissionReview.
    const r = await driver.exec(name, `pod/${pod.namespace}/${pod.name}`, ["curl", "-sk", "-X", "POST", `https://${pod.address}:9443/validate-metallb-io-v1beta1-ipaddresspool`], { timeoutMs: 10_000 });
    assert.match(r.stdout, /request body is empty/, r.stderr);
  });

  it("after fixing the variable and re-provisioning (step 11): the pool is admitted and listed; an overlapping one is denied", async () => {
    const file = "workspace/inventory/mycluster/group_vars/k8s_cluster/k8s-cluster.yml";
    await driver.exec(name, "node/cp-1", ["sed", "-i", "s/^kube_network_nodes_prefix:/kube_network_node_prefix:/", file]);
    const before = driver.ready(name).generation;
    await driver.exec(name, "node/cp-1", ["faultline-reprovision"], { timeoutMs: 30_000 });
    await eventually(() => { try { return driver.ready(name).generation; } catch { return before; } }, (g) => g === before + 1, 20_000);

    const ok = await driver.exec(name, "node/cp-1", ["kubectl", "apply", "-f", POOL], { timeoutMs: 20_000 });
    assert.equal(ok.stdout.trim(), "ipaddresspool.metallb.io/lab-pool created", ok.stderr);
    const list = await driver.exec(name, "node/worker-1", ["kubectl", "get", "ipaddresspools", "-n", "metallb-system", "--no-headers"], { timeoutMs: 20_000 });
    assert.match(list.stdout, /^lab-pool\s/m);

    const overlap = `apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: overlap, namespace: metallb-system}\nspec: {addresses: [192.168.10.208/30]}\n`;
    const denied = await driver.exec(name, "node/cp-1", ["kubectl", "apply", "-f", "-"], { input: overlap, timeoutMs: 20_000 });
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /admission webhook "ipaddresspoolvalidationwebhook\.metallb\.io" denied the request: CIDR "192\.168\.10\.208\/30" in pool "overlap" overlaps with already defined CIDR "192\.168\.10\.208\/29"/);
  });
});
