/**
 * Admission across the simulated network, with nothing injected: the flagship sandbox's API server
 * (in cp-1's network namespace) dials the webhook Service's ClusterIP, the kernel DNATs it to the MetalLB
 * controller pod on worker-3, and the broken Calico state swallows the reply. kubectl in a node shell
 * then prints the deadline error of FIDELITY.md step 1 (with timeoutSeconds 2 here, to stay quick).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { cleanup, testDriver, uniqueName } from "../../support/sandbox.js";

const driver = testDriver();
const name = uniqueName("adm");

const WEBHOOK_CONFIGURATION = `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: metallb-webhook-configuration
webhooks:
- name: ipaddresspoolvalidationwebhook.metallb.io
  admissionReviewVersions: ["v1"]
  clientConfig:
    service:
      name: metallb-webhook-service
      namespace: metallb-system
      path: /validate-metallb-io-v1beta1-ipaddresspool
  failurePolicy: Fail
  sideEffects: None
  timeoutSeconds: 2
  rules:
  - apiGroups: [""]
    apiVersions: ["v1"]
    operations: ["CREATE"]
    resources: ["configmaps"]
`;

describe("admission webhooks over the sandbox network", { timeout: 120_000 }, () => {
  before(async () => {
    await driver.up({ lab: "webhook-to-kernel", name });
  });
  after(() => cleanup(driver));

  it("a create times out at the webhook's deadline: the SYN-ACK from worker-3 is blackholed", async () => {
    const created = await driver.exec(name, "node/cp-1", ["kubectl", "create", "-f", "-"], { input: WEBHOOK_CONFIGURATION, timeoutMs: 20_000 });
    assert.equal(created.code, 0, created.stderr);
    const started = Date.now();
    const r = await driver.exec(name, "node/worker-2", ["kubectl", "create", "configmap", "probe", "-n", "default", "--from-literal=a=b"], { timeoutMs: 20_000 });
    const took = Date.now() - started;
    assert.equal(r.code, 1, r.stdout);
    assert.equal(
      r.stderr.trim(),
      'error: failed to create configmap: Internal error occurred: failed calling webhook "ipaddresspoolvalidationwebhook.metallb.io": failed to call webhook: Post "https://metallb-webhook-service.metallb-system.svc:443/validate-metallb-io-v1beta1-ipaddresspool?timeout=2s": context deadline exceeded',
    );
    assert.ok(took >= 2000, `returned after ${took} ms`);

    // the way out a trainee has while the network is broken
    const del = await driver.exec(name, "node/cp-1", ["kubectl", "delete", "validatingwebhookconfiguration", "metallb-webhook-configuration"], { timeoutMs: 20_000 });
    assert.equal(del.code, 0, del.stderr);
    const ok = await driver.exec(name, "node/worker-2", ["kubectl", "create", "configmap", "probe", "-n", "default", "--from-literal=a=b"], { timeoutMs: 20_000 });
    assert.equal(ok.stdout.trim(), "configmap/probe created", ok.stderr);
  });
});
