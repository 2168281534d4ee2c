/**
 * Admission webhooks seen through the real kubectl (/usr/bin/kubectl): the MetalLB webhook
 * configuration of the flagship (fixtures/apiserver/admission), a real HTTPS webhook on 127.0.0.1 behind
 * the webhook Service's ClusterIP (a test dialer plays DNAT), and kubectl's exact output for a denial,
 * a timeout, a refused connection and a CA mismatch. One case waits the default 10 s to show
 * FIDELITY.md step 1 verbatim.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { createLogger } from "../../../server/log.js";
import { projectRoot } from "../../../server/paths.js";
import { startApiServer, type ApiServer } from "../../../server/sim/apiserver/index.js";
import type { ClusterPlan } from "../../../server/sim/plan.js";
import { allow, answer, b64, closedPort, dnatDialer, hang, SVC, startWebhook, webhookPki, type TestWebhook, type WebhookPki } from "../../unit/sim/apiserver/admission-helpers.js";

const KUBECTL = "/usr/bin/kubectl";
const FIXTURES = path.join(projectRoot, "test", "fixtures", "apiserver");
const plan = JSON.parse(readFileSync(path.join(FIXTURES, "flagship-plan.json"), "utf8")) as ClusterPlan;
const VWC = "validatingwebhookconfigurations.admissionregistration.k8s.io";
const HOOK = "ipaddresspoolvalidationwebhook.metallb.io";
const POST = (timeout: number) => `Post "https://metallb-webhook-service.metallb-system.svc:443/validate-metallb-io-v1beta1-ipaddresspool?timeout=${timeout}s"`;

interface Run {
  code: number;
  out: string;
  ms: number;
}

describe("admission webhooks through kubectl", { timeout: 120_000 }, () => {
  let api: ApiServer;
  let dir: string;
  let kubeconfig: string;
  let pki: WebhookPki;
  let hook: TestWebhook | undefined;
  const routes = new Map<string, number>();

  /** kubectl in `dir` (so `-f pool.yaml` prints as in the lab), with its own HOME. */
  function kubectl(args: string[]): Promise<Run> {
    const started = Date.now();
    return new Promise((resolve) => {
      execFile(KUBECTL, args, { cwd: dir, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, KUBECONFIG: kubeconfig }, timeout: 30_000 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : -1) : 0;
        resolve({ code, out: stdout + stderr, ms: Date.now() - started });
      });
    });
  }

  /** Installs the MetalLB webhook configuration from the fixture with `kubectl create -f`. */
  async function configure(ca: string, timeoutSeconds?: number): Promise<void> {
    const yaml = readFileSync(path.join(FIXTURES, "admission", "metallb-webhook-configuration.yaml"), "utf8")
      .replace(/^(\s+caBundle:) CA_BUNDLE$/m, `$1 ${b64(ca)}`)
      .replace(/^TIMEOUT_LINE$/m, timeoutSeconds === undefined ? "" : `  timeoutSeconds: ${timeoutSeconds}`);
    writeFileSync(path.join(dir, "webhook.yaml"), yaml);
    const r = await kubectl(["create", "-f", "webhook.yaml"]);
    assert.equal(r.code, 0, r.out);
    assert.equal(r.out.trim(), "validatingwebhookconfiguration.admissionregistration.k8s.io/metallb-webhook-configuration created");
  }

  async function serveWebhook(behaviour = allow): Promise<void> {
    hook = await startWebhook(pki.serving, behaviour);
    routes.set(`${SVC.clusterIP}:${SVC.port}`, hook.port);
  }

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "faultline-admission-kubectl-"));
    pki = await webhookPki(path.join(dir, "webhook-pki"));
    api = await startApiServer({ host: "127.0.0.1", port: 0, plan, certDir: path.join(dir, "pki"), log: createLogger({ test: "admission" }, { level: "error" }), kubeVersion: "v1.24.6", admission: { dial: dnatDialer(routes) } });
    kubeconfig = path.join(dir, "admin.conf");
    writeFileSync(kubeconfig, api.kubeconfig(`https://127.0.0.1:${api.port}`), { mode: 0o600 });
    copyFileSync(path.join(FIXTURES, "admission", "pool.yaml"), path.join(dir, "pool.yaml"));
  });

  afterEach(async () => {
    for (const c of api.store.list(VWC).items) api.store.delete(VWC, undefined, c.metadata.name!);
    if (api.store.tryGet("configmaps", "default", "first-pool")) api.store.delete("configmaps", "default", "first-pool");
    routes.clear();
    await hook?.close();
    hook = undefined;
  });

  after(async () => {
    await api?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("creates what the webhook allows", async () => {
    await serveWebhook();
    await configure(pki.ca.cert, 1);
    const r = await kubectl(["create", "-f", "pool.yaml"]);
    assert.equal(r.out.trim(), "configmap/first-pool created");
    assert.equal(hook!.calls.length, 1);
  });

  it("prints the webhook's denial (controller-runtime style 403) for create -f and create configmap", async () => {
    await serveWebhook((review) => ({
      response: answer(review, { allowed: false, status: { code: 403, reason: "Forbidden", message: 'overlaps with already defined CIDRs: pool "first-pool" overlaps "default-pool"' } }),
    }));
    await configure(pki.ca.cert, 1);
    const r = await kubectl(["create", "-f", "pool.yaml"]);
    assert.equal(r.code, 1);
    assert.equal(
      r.out.trim(),
      `Error from server (Forbidden): error when creating "pool.yaml": admission webhook "${HOOK}" denied the request: overlaps with already defined CIDRs: pool "first-pool" overlaps "default-pool"`,
    );
    const c = await kubectl(["create", "configmap", "other", "--from-literal=a=b"]);
    assert.equal(c.code, 1);
    assert.equal(c.out.trim(), `error: failed to create configmap: admission webhook "${HOOK}" denied the request: overlaps with already defined CIDRs: pool "first-pool" overlaps "default-pool"`);
  });

  it("prints context deadline exceeded after timeoutSeconds when the webhook never answers", async () => {
    await serveWebhook(hang);
    await configure(pki.ca.cert, 1);
    const r = await kubectl(["create", "-f", "pool.yaml"]);
    assert.equal(r.code, 1);
    assert.equal(r.out.trim(), `Error from server (InternalError): error when creating "pool.yaml": Internal error occurred: failed calling webhook "${HOOK}": failed to call webhook: ${POST(1)}: context deadline exceeded`);
    assert.ok(r.ms >= 1000, `returned after ${r.ms} ms`);
  });

  it("prints connection refused with the ClusterIP", async () => {
    routes.set(`${SVC.clusterIP}:${SVC.port}`, await closedPort());
    await configure(pki.ca.cert, 1);
    const r = await kubectl(["create", "-f", "pool.yaml"]);
    assert.equal(r.out.trim(), `Error from server (InternalError): error when creating "pool.yaml": Internal error occurred: failed calling webhook "${HOOK}": failed to call webhook: ${POST(1)}: dial tcp 10.233.0.10:443: connect: connection refused`);
  });

  it("prints the x509 error for a caBundle from another CA", async () => {
    await serveWebhook();
    await configure(pki.otherCa.cert, 1);
    const r = await kubectl(["create", "-f", "pool.yaml"]);
    assert.equal(r.out.trim(), `Error from server (InternalError): error when creating "pool.yaml": Internal error occurred: failed calling webhook "${HOOK}": failed to call webhook: ${POST(1)}: x509: certificate signed by unknown authority`);
  });

  it("lets the trainee delete the broken webhook configuration, after which the create works", async () => {
    routes.set(`${SVC.clusterIP}:${SVC.port}`, await closedPort());
    await configure(pki.ca.cert, 1);
    const d = await kubectl(["delete", "validatingwebhookconfiguration", "metallb-webhook-configuration"]);
    assert.equal(d.out.trim(), 'validatingwebhookconfiguration.admissionregistration.k8s.io "metallb-webhook-configuration" deleted');
    const r = await kubectl(["create", "-f", "pool.yaml"]);
    assert.equal(r.out.trim(), "configmap/first-pool created");
  });

  it("(slow: the default 10 s) prints FIDELITY.md step 1 verbatim", async () => {
    await serveWebhook(hang);
    await configure(pki.ca.cert);
    const r = await kubectl(["create", "-f", "pool.yaml"]);
    assert.equal(
      r.out.trim(),
      'Error from server (InternalError): error when creating "pool.yaml": Internal error occurred: failed calling webhook "ipaddresspoolvalidationwebhook.metallb.io": failed to call webhook: Post "https://metallb-webhook-service.metallb-system.svc:443/validate-metallb-io-v1beta1-ipaddresspool?timeout=10s": context deadline exceeded',
    );
    assert.ok(r.ms >= 10_000 && r.ms < 11_500, `returned after ${r.ms} ms`);
  });
});
