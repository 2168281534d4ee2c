/**
 * Admission webhooks end to end through the API server's REST surface: real HTTPS webhook servers on
 * 127.0.0.1 behind the flagship's webhook Service (ClusterIP 10.233.0.10:443, redirected by a test
 * dialer as DNAT would), exact Status bodies for every failure kube-apiserver words in its own way.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { createLogger } from "../../../../server/log.js";
import { startApiServer, type ApiServer } from "../../../../server/sim/apiserver/index.js";
import type { KObject } from "../../../../server/sim/apiserver/objects.js";
import { allow, answer, closedPort, dnatDialer, hang, SVC, SVC_DNS, startPlainHttp, startWebhook, webhookEntry, webhookPki, type TestWebhook, type WebhookPki } from "./admission-helpers.js";
import { flagshipPlan } from "./fixtures.js";

const VWC = "validatingwebhookconfigurations.admissionregistration.k8s.io";
const MWC = "mutatingwebhookconfigurations.admissionregistration.k8s.io";
const URL_1S = `https://${SVC_DNS}:443/validate?timeout=1s`;

let api: ApiServer;
let dir: string;
let pki: WebhookPki;
let admin: { key: Buffer; cert: Buffer };
const routes = new Map<string, number>();
const hooks: TestWebhook[] = [];

interface Reply {
  code: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json(): any;
}

function call(method: string, p: string, body?: unknown, contentType = "application/json"): Promise<Reply> {
  const data = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: "127.0.0.1", port: api.port, method, path: p, ca: api.caCert, ...admin, headers: data !== undefined ? { "content-type": contentType, "content-length": String(Buffer.byteLength(data)) } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          resolve({ code: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
        });
      },
    );
    req.on("error", reject);
    req.end(data);
  });
}

const cmBody = (name: string, labels?: Record<string, string>) => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, ...(labels ? { labels } : {}) }, data: { a: "b" } });

/** A webhook on a fresh port, reachable as the webhook Service. */
async function webhook(behaviour = allow, pair = pki.serving): Promise<TestWebhook> {
  const h = await startWebhook(pair, behaviour);
  hooks.push(h);
  routes.set(`${SVC.clusterIP}:${SVC.port}`, h.port);
  return h;
}

function configure(kind: "validating" | "mutating", webhooks: Array<Record<string, unknown>>, name = "test-webhooks"): void {
  const type = kind === "validating" ? VWC : MWC;
  api.store.create(type, { apiVersion: "admissionregistration.k8s.io/v1", kind: kind === "validating" ? "ValidatingWebhookConfiguration" : "MutatingWebhookConfiguration", metadata: { name }, webhooks });
}

/** The InternalError body kube-apiserver sends for a webhook it could not call. */
function internalError(message: string) {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: `Internal error occurred: ${message}`, reason: "InternalError", details: { causes: [{ message }] }, code: 500 };
}

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "faultline-admission-"));
  pki = await webhookPki(path.join(dir, "webhook"));
  api = await startApiServer({
    host: "127.0.0.1",
    port: 0,
    plan: flagshipPlan(),
    certDir: path.join(dir, "pki"),
    log: createLogger({}, { level: "error" }),
    kubeVersion: "v1.24.6",
    admission: { dial: dnatDialer(routes) },
  });
  admin = { key: readFileSync(path.join(dir, "pki", "admin.key")), cert: readFileSync(path.join(dir, "pki", "admin.crt")) };
});

afterEach(async () => {
  for (const t of [VWC, MWC]) for (const c of api.store.list(t).items) api.store.delete(t, undefined, c.metadata.name!);
  for (const o of api.store.list("configmaps", { namespace: "default" }).items) if (o.metadata.name !== "kube-root-ca.crt") api.store.delete("configmaps", "default", o.metadata.name!);
  routes.clear();
  await Promise.all(hooks.splice(0).map((h) => h.close()));
});

after(async () => {
  await api?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("validating webhooks", () => {
  it("calls the webhook with an AdmissionReview v1 and creates the object it allows", async () => {
    const h = await webhook();
    configure("validating", [webhookEntry("allow.faultline.test", pki.ca.cert)]);
    const r = await call("POST", "/api/v1/namespaces/default/configmaps?fieldManager=kubectl-create", cmBody("ok"));
    assert.equal(r.code, 201, r.text);
    assert.equal(h.calls.length, 1);
    const c = h.calls[0]!;
    assert.equal(c.method, "POST");
    assert.equal(c.url, "/validate?timeout=1s");
    assert.equal(c.headers.host, `${SVC_DNS}:443`);
    assert.equal(c.headers["content-type"], "application/json");
    assert.equal(c.servername, SVC_DNS);
    const req = c.review.request;
    assert.equal(c.review.apiVersion, "admission.k8s.io/v1");
    assert.equal(c.review.kind, "AdmissionReview");
    assert.match(req.uid, /^[0-9a-f-]{36}$/);
    assert.deepEqual(req.kind, { group: "", version: "v1", kind: "ConfigMap" });
    assert.deepEqual(req.resource, { group: "", version: "v1", resource: "configmaps" });
    assert.equal(req.name, "ok");
    assert.equal(req.namespace, "default");
    assert.equal(req.operation, "CREATE");
    assert.deepEqual(req.userInfo, { username: "kubernetes-admin", groups: ["system:masters", "system:authenticated"] });
    assert.equal(req.object.metadata.name, "ok");
    assert.equal(typeof req.object.metadata.uid, "string");
    assert.equal(req.oldObject, null);
    assert.equal(req.dryRun, false);
    assert.deepEqual(req.options, { kind: "CreateOptions", apiVersion: "meta.k8s.io/v1", fieldManager: "kubectl-create" });
    assert.ok(api.store.tryGet("configmaps", "default", "ok"));
  });

  it("denies with the webhook's message, code and reason (controller-runtime's Denied: 403 Forbidden)", async () => {
    await webhook((review) => ({ response: answer(review, { allowed: false, status: { code: 403, reason: "Forbidden", message: "data.a must not be b" } }) }));
    configure("validating", [webhookEntry("deny.faultline.test", pki.ca.cert)]);
    const r = await call("POST", "/api/v1/namespaces/default/configmaps", cmBody("denied"));
    assert.equal(r.code, 403);
    assert.deepEqual(r.json(), { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: 'admission webhook "deny.faultline.test" denied the request: data.a must not be b', reason: "Forbidden", code: 403 });
    assert.equal(api.store.tryGet("configmaps", "default", "denied"), undefined);
  });

  it("makes a denial without code at least 400, and says 'without explanation' when the webhook gives none", async () => {
    await webhook((review) => ({ response: answer(review, { allowed: false }) }));
    configure("validating", [webhookEntry("mute.faultline.test", pki.ca.cert)]);
    const r = await call("POST", "/api/v1/namespaces/default/configmaps", cmBody("mute"));
    assert.equal(r.code, 400);
    assert.deepEqual(r.json(), { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: 'admission webhook "mute.faultline.test" denied the request without explanation', code: 400 });
  });

  it("fails with context deadline exceeded after timeoutSeconds when the webhook never answers", async () => {
    await webhook(hang);
    configure("validating", [webhookEntry("slow.faultline.test", pki.ca.cert)]);
    const started = Date.now();
    const r = await call("POST", "/api/v1/namespaces/default/configmaps", cmBody("slow"));
    const took = Date.now() - started;
    assert.equal(r.code, 500);
    assert.deepEqual(r.json(), internalError(`failed calling webhook "slow.faultline.test": failed to call webhook: Post "${URL_1S}": context deadline exceeded`));
    assert.ok(took >= 1000 && took < 2500, `took ${took} ms`);
    assert.equal(api.store.tryGet("configmaps", "default", "slow"), undefined);
  });

  it("reports a refused connection with the ClusterIP it dialed", async () => {
    routes.set(`${SVC.clusterIP}:${SVC.port}`, await closedPort());
    configure("validating", [webhookEntry("refused.faultline.test", pki.ca.cert)]);
    const r = await call("POST", "/api/v1/namespaces/default/configmaps", cmBody("refused"));
    assert.equal(r.code, 500);
    assert.equal(r.json().message, `Internal error occurred: failed calling webhook "refused.faultline.test": failed to call webhook: Post "${URL_1S}": dial tcp 10.233.0.10:443: connect: connection refused`);
  });

  it("rejects a certificate from a CA not in caBundle with Go 1.18's x509 text (kube 1.24)", async () => {
    await webhook();
    configure("validating", [webhookEntry("ca.faultline.test", pki.otherCa.cert)]);
    const r = await call("POST", "/api/v1/namespaces/default/configmaps", cmBody("wrong-ca"));
    assert.equal(r.code, 500);
    assert.equal(r.json().message, `Internal error occurred: failed calling webhook "ca.faultline.test": failed to call webhook: Post "${URL_1S}": x509: certificate signed by unknown authority`);
  });

  it("adds Go's hint when caBundle holds a CA of the right name but another key (a regenerated CA)", async () => {
    await webhook();
    configure("validating", [webhookEntry("stale.faultline.test", pki.sameNameCa.cert)]);
    const r = await call("POST", "/api/v1/namespaces/default/configmaps", cmBody("stale-ca"));
    assert.equal(
      r.json().message,
      `Internal error occurred: failed calling webhook "stale.faultline.test": failed to call webhook: Post "${URL_1S}": x509: certificate signed by unknown authority (possibly because of "x509: ECDSA verification failure" while trying to verify candidate authority certificate "metallb-webhook-ca")`,
    );
  });

  it("rejects a certificate for another name with Go's HostnameError text", async () => {
    await webhook(allow, pki.wrongName);
    configure("validating", [webhookEntry("name.faultline.test", pki.ca.cert)]);
    const r = await call("POST", "/api/v1/namespaces/default/configmaps", cmBody("wrong-name"));
    assert.equal(r.json().message, `Internal error occurred: failed calling webhook "name.faultline.test": failed to call webhook: Post "${URL_1S}": x509: certificate is valid for webhook-service.metallb-system.svc, not ${SVC_DNS}`);
  });

  it("says the Service is not found when clientConfig names a missing one", async () => {
    await webhook();
    configure("validating", [webhookEntry("nosvc.faultline.test", pki.ca.cert, { clientConfig: { service: { namespace: "metallb-system", name: "webhook-service", path: "/validate-metallb-io-v1beta1-ipaddresspool" }, caBundle: Buffer.from(pki.ca.cert).toString("base64") } })]);
    const r = await call("POST", "/api/v1/namespaces/default/configmaps", cmBody("nosvc"));
    assert.equal(
      r.json().message,
      'Internal error occurred: failed calling webhook "nosvc.faultline.test": failed to call webhook: Post "https://webhook-service.metallb-system.svc:443/validate-metallb-io-v1beta1-ipaddresspool?timeout=1s": service "webhook-service" not found',
    );
  });

  it("says which Service port is missing", async () => {
    configure("validating", [webhookEntry("port.faultline.test", pki.ca.cert, { clientConfig: { service: { namespace: SVC.namespace, name: SVC.name, port: 8443 }, caBundle: Buffer.from(pki.ca.cert).toString("base64") } })]);
    const r = await call("POST", "/api/v1/namespaces/default/configmaps", cmBody("port"));
    assert.equal(r.json().message, `Internal error occurred: failed calling webhook "port.faultline.test": failed to call webhook: Post "https://${SVC_DNS}:8443/?timeout=1s": no service port 8443 found for service "${SVC.name}"`);
  });

  it("names a plain-HTTP server behind an https webhook as Go does", async () => {
    const h = await startPlainHttp();
    hooks.push(h);
    routes.set(`${SVC.clusterIP}:${SVC.port}`, h.port);
    configure("validating", [webhookEntry("plain.faultline.test", pki.ca.cert)]);
    const r = await call("POST", "/api/v1/namespaces/default/configmaps", cmBody("plain"));
    assert.equal(r.json().message, `Internal error occurred: failed calling webhook "plain.faultline.test": failed to call webhook: Post "${URL_1S}": http: server gave HTTP response to HTTPS client`);
  });

  it("turns a 404 from the webhook into client-go's generic text", async () => {
    await webhook(() => ({ raw: { status: 404, type: "text/plain", body: "404 page not found\n" } }));
    configure("validating", [webhookEntry("path.faultline.test", pki.ca.cert)]);
    const r = await call("POST", "/api/v1/namespaces/default/configmaps", cmBody("path"));
    assert.equal(r.json().message, 'Internal error occurred: failed calling webhook "path.faultline.test": failed to call webhook: the server could not find the requested resource');
  });

  it("checks the answer's uid", async () => {
    await webhook(() => ({ response: { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response: { uid: "nope", allowed: true } } }));
    configure("validating", [webhookEntry("uid.faultline.test", pki.ca.cert)]);
    const r = await call("POST", "/api/v1/namespaces/default/configmaps", cmBody("uid"));
    const uid = /expected response\.uid="([^"]+)"/.exec(r.json().message)?.[1];
    assert.equal(r.json().message, `Internal error occurred: failed calling webhook "uid.faultline.test": received invalid webhook response: expected response.uid="${uid}", got "nope"`);
  });

  it("lets the request pass when failurePolicy is Ignore", async () => {
    routes.set(`${SVC.clusterIP}:${SVC.port}`, await closedPort());
    configure("validating", [webhookEntry("ignored.faultline.test", pki.ca.cert, { failurePolicy: "Ignore" })]);
    const r = await call("POST", "/api/v1/namespaces/default/configmaps", cmBody("ignored"));
    assert.equal(r.code, 201, r.text);
    assert.ok(api.store.tryGet("configmaps", "default", "ignored"));
  });

  it("but a denial still denies under failurePolicy Ignore", async () => {
    await webhook((review) => ({ response: answer(review, { allowed: false, status: { message: "no" } }) }));
    configure("validating", [webhookEntry("strict.faultline.test", pki.ca.cert, { failurePolicy: "Ignore" })]);
    const r = await call("POST", "/api/v1/namespaces/default/configmaps", cmBody("strict"));
    assert.equal(r.code, 400);
  });

  it("calls no webhook whose namespaceSelector, objectSelector or rules do not match", async () => {
    const h = await webhook((review) => ({ response: answer(review, { allowed: false, status: { message: "should not be asked" } }) }));
    configure("validating", [
      webhookEntry("ns.faultline.test", pki.ca.cert, { namespaceSelector: { matchLabels: { "admission.faultline.test/enforce": "true" } } }),
      webhookEntry("obj.faultline.test", pki.ca.cert, { objectSelector: { matchExpressions: [{ key: "app", operator: "In", values: ["guarded"] }] } }),
      webhookEntry("rules.faultline.test", pki.ca.cert, { rules: [{ operations: ["CREATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["secrets"] }] }),
      webhookEntry("scope.faultline.test", pki.ca.cert, { rules: [{ operations: ["*"], apiGroups: ["*"], apiVersions: ["*"], resources: ["*"], scope: "Cluster" }] }),
    ]);
    const r = await call("POST", "/api/v1/namespaces/default/configmaps", cmBody("free", { app: "other" }));
    assert.equal(r.code, 201, r.text);
    assert.equal(h.calls.length, 0);
    // the same object with the selected label is asked about
    const r2 = await call("POST", "/api/v1/namespaces/default/configmaps", cmBody("guarded", { app: "guarded" }));
    assert.equal(r2.code, 400);
    assert.equal(r2.json().message, 'admission webhook "obj.faultline.test" denied the request: should not be asked');
    assert.equal(h.calls.length, 1);
  });

  it("matches `*` resources and subresources (pods/status) only where the rule says so", async () => {
    const h = await webhook();
    configure("validating", [webhookEntry("status.faultline.test", pki.ca.cert, { rules: [{ operations: ["UPDATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["*/status"] }] })]);
    const pod = api.store.get("pods", "default", api.store.list("pods", { namespace: "default" }).items[0]!.metadata.name!);
    const r = await call("PUT", `/api/v1/namespaces/default/pods/${pod.metadata.name}/status`, { ...pod, status: { ...(pod.status as object), message: "checked" } });
    assert.equal(r.code, 200, r.text);
    assert.equal(h.calls.length, 1);
    assert.equal(h.calls[0]!.review.request.subResource, "status");
    assert.equal(h.calls[0]!.review.request.operation, "UPDATE");
    // the main resource is not matched by */status
    const r2 = await call("PATCH", `/api/v1/namespaces/default/pods/${pod.metadata.name}`, JSON.stringify({ metadata: { labels: { x: "y" } } }), "application/merge-patch+json");
    assert.equal(r2.code, 200, r2.text);
    assert.equal(h.calls.length, 1);
  });

  it("answers UPDATE with the old object, and a PATCH with PatchOptions", async () => {
    api.store.create("configmaps", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "edit-me", namespace: "default" }, data: { a: "1" } });
    const h = await webhook((review) => ({ response: answer(review, { allowed: review.request.object.data.a !== "2", status: { code: 422, reason: "Invalid", message: "a may not become 2" } }) }));
    configure("validating", [webhookEntry("update.faultline.test", pki.ca.cert, { rules: [{ operations: ["UPDATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["configmaps"] }] })]);
    const r = await call("PATCH", "/api/v1/namespaces/default/configmaps/edit-me?fieldManager=kubectl-patch", JSON.stringify({ data: { a: "2" } }), "application/merge-patch+json");
    assert.equal(r.code, 422);
    assert.deepEqual(r.json(), { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: 'admission webhook "update.faultline.test" denied the request: a may not become 2', reason: "Invalid", code: 422 });
    const req = h.calls[0]!.review.request;
    assert.equal(req.operation, "UPDATE");
    assert.equal(req.oldObject.data.a, "1");
    assert.equal(req.object.data.a, "2");
    assert.deepEqual(req.options, { kind: "PatchOptions", apiVersion: "meta.k8s.io/v1", fieldManager: "kubectl-patch" });
    assert.equal((api.store.get("configmaps", "default", "edit-me").data as Record<string, string>).a, "1");
    const current = api.store.get("configmaps", "default", "edit-me");
    const ok = await call("PUT", "/api/v1/namespaces/default/configmaps/edit-me", { ...current, data: { a: "3" } });
    assert.equal(ok.code, 200, ok.text);
    assert.equal(h.calls[1]!.review.request.options.kind, "UpdateOptions");
  });

  it("answers DELETE with no object and the stored one as oldObject, and keeps it when denied", async () => {
    api.store.create("configmaps", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "keep-me", namespace: "default", labels: { protected: "yes" } } });
    api.store.create("configmaps", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "drop-me", namespace: "default" } });
    const h = await webhook((review) => ({ response: answer(review, { allowed: review.request.oldObject.metadata.labels?.protected !== "yes", status: { code: 403, reason: "Forbidden", message: "protected" } }) }));
    configure("validating", [webhookEntry("delete.faultline.test", pki.ca.cert, { rules: [{ operations: ["DELETE"], apiGroups: [""], apiVersions: ["v1"], resources: ["configmaps"] }] })]);
    const r = await call("DELETE", "/api/v1/namespaces/default/configmaps/keep-me", { propagationPolicy: "Background" });
    assert.equal(r.code, 403);
    assert.equal(r.json().message, 'admission webhook "delete.faultline.test" denied the request: protected');
    assert.ok(api.store.tryGet("configmaps", "default", "keep-me"));
    const req = h.calls[0]!.review.request;
    assert.equal(req.operation, "DELETE");
    assert.equal(req.name, "keep-me");
    assert.equal(req.object, null);
    assert.equal(req.oldObject.metadata.name, "keep-me");
    assert.equal(req.options.kind, "DeleteOptions");
    assert.equal((await call("DELETE", "/api/v1/namespaces/default/configmaps/drop-me")).code, 200);
    assert.equal(api.store.tryGet("configmaps", "default", "drop-me"), undefined);
    // a collection delete fails on the denial, as the real one returns the first error
    const c = await call("DELETE", "/api/v1/namespaces/default/configmaps?labelSelector=protected%3Dyes");
    assert.equal(c.code, 403);
    assert.ok(api.store.tryGet("configmaps", "default", "keep-me"));
  });

  it("checks the namespace before the webhooks and reports a missing one as 404", async () => {
    const h = await webhook();
    configure("validating", [webhookEntry("nsless.faultline.test", pki.ca.cert)]);
    const r = await call("POST", "/api/v1/namespaces/nowhere/configmaps", cmBody("x"));
    assert.equal(r.code, 404);
    assert.equal(r.json().message, 'namespaces "nowhere" not found');
    assert.equal(h.calls.length, 0);
  });

  it("asks the validating webhooks before finding the name taken, as the registry does", async () => {
    api.store.create("configmaps", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "taken", namespace: "default" } });
    await webhook(hang);
    configure("validating", [webhookEntry("late.faultline.test", pki.ca.cert)]);
    const r = await call("POST", "/api/v1/namespaces/default/configmaps", cmBody("taken"));
    assert.equal(r.code, 500);
    assert.match(r.json().message, /context deadline exceeded$/);
  });

  it("refuses a dry run for webhooks with side effects", async () => {
    const h = await webhook();
    configure("validating", [webhookEntry("effects.faultline.test", pki.ca.cert, { sideEffects: "Unknown" }), webhookEntry("pure.faultline.test", pki.ca.cert)]);
    const r = await call("POST", "/api/v1/namespaces/default/configmaps?dryRun=All", cmBody("dry"));
    assert.equal(r.code, 400);
    assert.deepEqual(r.json(), { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: 'admission webhook "effects.faultline.test" does not support dry run', reason: "BadRequest", code: 400 });
    assert.equal(h.calls.length, 1);
    assert.equal(h.calls[0]!.review.request.dryRun, true);
  });

  it("never sends the webhook configurations themselves to webhooks, so a broken one can be deleted", async () => {
    routes.set(`${SVC.clusterIP}:${SVC.port}`, await closedPort());
    configure("validating", [webhookEntry("everything.faultline.test", pki.ca.cert, { rules: [{ operations: ["*"], apiGroups: ["*"], apiVersions: ["*"], resources: ["*"] }] })], "broken");
    assert.equal((await call("POST", "/api/v1/namespaces/default/configmaps", cmBody("blocked"))).code, 500);
    const r = await call("DELETE", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/broken");
    assert.equal(r.code, 200, r.text);
    assert.equal((await call("POST", "/api/v1/namespaces/default/configmaps", cmBody("unblocked"))).code, 201);
  });

  it("returns the first failure to arrive when several validating webhooks fail (they run in parallel)", async () => {
    await webhook((review, req) => (req.url?.startsWith("/slow") ? { hang: true } : { response: answer(review, { allowed: false, status: { message: "fast no" } }) }));
    configure("validating", [
      webhookEntry("slow.faultline.test", pki.ca.cert, { clientConfig: { service: { namespace: SVC.namespace, name: SVC.name, path: "/slow" }, caBundle: Buffer.from(pki.ca.cert).toString("base64") } }),
      webhookEntry("fast.faultline.test", pki.ca.cert),
    ]);
    const started = Date.now();
    const r = await call("POST", "/api/v1/namespaces/default/configmaps", cmBody("race"));
    assert.equal(r.json().message, 'admission webhook "fast.faultline.test" denied the request: fast no');
    // both were waited for: the request returns when the slow one timed out
    assert.ok(Date.now() - started >= 1000);
  });

  it("passes webhook warnings to the client as Warning headers", async () => {
    await webhook((review) => ({ response: answer(review, { allowed: true, warnings: ['pool "x" overlaps nothing'] }) }));
    configure("validating", [webhookEntry("warn.faultline.test", pki.ca.cert)]);
    const r = await call("POST", "/api/v1/namespaces/default/configmaps", cmBody("warned"));
    assert.equal(r.code, 201);
    assert.equal(r.headers.warning, '299 - "pool \\"x\\" overlaps nothing"');
  });
});

describe("custom resources (when the store serves the MetalLB CRDs)", () => {
  const served = (plural: string) => Boolean((api.store as unknown as { types?: { resolve(n: string): unknown } }).types?.resolve(plural));
  const metallbRule = (versions: string[], resources: string[]) => [{ operations: ["CREATE", "UPDATE"], apiGroups: ["metallb.io"], apiVersions: versions, resources }];

  it("sends an IPAddressPool to the MetalLB webhook's rule and relays its denial", async (t) => {
    if (!served("ipaddresspools.metallb.io")) return t.skip("no metallb.io CRDs in this store");
    const h = await webhook((review) => ({ response: answer(review, { allowed: false, status: { code: 403, reason: "Forbidden", message: "parsing address: invalid CIDR" } }) }));
    configure("validating", [webhookEntry("ipaddresspoolvalidationwebhook.metallb.io", pki.ca.cert, { rules: metallbRule(["v1beta1"], ["ipaddresspools"]) })]);
    const pool = { apiVersion: "metallb.io/v1beta1", kind: "IPAddressPool", metadata: { name: "bad-pool" }, spec: { addresses: ["192.168.10.0/33"] } };
    const r = await call("POST", "/apis/metallb.io/v1beta1/namespaces/metallb-system/ipaddresspools", pool);
    assert.equal(r.code, 403, r.text);
    assert.equal(r.json().message, 'admission webhook "ipaddresspoolvalidationwebhook.metallb.io" denied the request: parsing address: invalid CIDR');
    assert.deepEqual(h.calls[0]!.review.request.kind, { group: "metallb.io", version: "v1beta1", kind: "IPAddressPool" });
    assert.deepEqual(h.calls[0]!.review.request.resource, { group: "metallb.io", version: "v1beta1", resource: "ipaddresspools" });
  });

  it("matchPolicy Equivalent calls a v1beta1 rule for a v1beta2 BGPPeer, sending it as v1beta1; Exact does not", async (t) => {
    if (!served("bgppeers.metallb.io")) return t.skip("no metallb.io CRDs in this store");
    const h = await webhook();
    configure("validating", [
      webhookEntry("bgppeervalidationwebhook.metallb.io", pki.ca.cert, { rules: metallbRule(["v1beta1"], ["bgppeers"]) }),
      webhookEntry("exact.faultline.test", pki.ca.cert, { rules: metallbRule(["v1beta1"], ["bgppeers"]), matchPolicy: "Exact" }),
    ]);
    const peer = { apiVersion: "metallb.io/v1beta2", kind: "BGPPeer", metadata: { name: "peer" }, spec: { myASN: 64500, peerASN: 64501, peerAddress: "192.168.10.1" } };
    const r = await call("POST", "/apis/metallb.io/v1beta2/namespaces/metallb-system/bgppeers", peer);
    assert.equal(r.code, 201, r.text);
    assert.equal(h.calls.length, 1);
    const req = h.calls[0]!.review.request;
    assert.deepEqual(req.kind, { group: "metallb.io", version: "v1beta1", kind: "BGPPeer" });
    assert.deepEqual(req.requestKind, { group: "metallb.io", version: "v1beta2", kind: "BGPPeer" });
    assert.equal(req.object.apiVersion, "metallb.io/v1beta1");
    api.store.delete("bgppeers.metallb.io", "metallb-system", "peer");
  });
});

describe("mutating webhooks", () => {
  const patch = (ops: unknown[]) => Buffer.from(JSON.stringify(ops)).toString("base64");

  it("applies the JSONPatch before validation, and validating webhooks see the result", async () => {
    const seen: KObject[] = [];
    await webhook((review, req) => {
      if (req.url?.startsWith("/mutate")) return { response: answer(review, { allowed: true, patchType: "JSONPatch", patch: patch([{ op: "add", path: "/metadata/labels", value: { injected: "yes" } }]) }) };
      seen.push(review.request.object);
      return { response: answer(review, { allowed: true }) };
    });
    const clientConfig = (p: string) => ({ service: { namespace: SVC.namespace, name: SVC.name, path: p }, caBundle: Buffer.from(pki.ca.cert).toString("base64") });
    configure("mutating", [webhookEntry("inject.faultline.test", pki.ca.cert, { clientConfig: clientConfig("/mutate") })]);
    configure("validating", [webhookEntry("check.faultline.test", pki.ca.cert, { clientConfig: clientConfig("/validate") })]);
    const r = await call("POST", "/api/v1/namespaces/default/configmaps", cmBody("mutated"));
    assert.equal(r.code, 201, r.text);
    assert.deepEqual(r.json().metadata.labels, { injected: "yes" });
    assert.deepEqual(api.store.get("configmaps", "default", "mutated").metadata.labels, { injected: "yes" });
    assert.deepEqual(seen[0]!.metadata.labels, { injected: "yes" });
  });

  it("refuses a patch on DELETE as kube-apiserver does", async () => {
    api.store.create("configmaps", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "gone", namespace: "default" } });
    await webhook((review) => ({ response: answer(review, { allowed: true, patchType: "JSONPatch", patch: patch([{ op: "add", path: "/x", value: 1 }]) }) }));
    configure("mutating", [webhookEntry("deleter.faultline.test", pki.ca.cert, { rules: [{ operations: ["DELETE"], apiGroups: [""], apiVersions: ["v1"], resources: ["configmaps"] }] })]);
    const r = await call("DELETE", "/api/v1/namespaces/default/configmaps/gone");
    assert.equal(r.code, 500);
    assert.equal(r.json().message, 'Internal error occurred: admission webhook "deleter.faultline.test" attempted to modify the object, which is not supported for this operation');
  });

  it("rejects a validating webhook that returns a patch", async () => {
    await webhook((review) => ({ response: answer(review, { allowed: true, patchType: "JSONPatch", patch: patch([]) }) }));
    configure("validating", [webhookEntry("sneaky.faultline.test", pki.ca.cert)]);
    const r = await call("POST", "/api/v1/namespaces/default/configmaps", cmBody("sneaky"));
    assert.equal(r.json().message, 'Internal error occurred: failed calling webhook "sneaky.faultline.test": received invalid webhook response: validating webhooks may not return response.patch');
  });
});
