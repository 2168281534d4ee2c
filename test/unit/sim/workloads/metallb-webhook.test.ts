/**
 * The webhook's request handling without a network: routing, controller-runtime's request checks,
 * the AdmissionReview answers byte for byte, and the log lines MetalLB writes.
 */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { createCa } from "../../../../server/sim/apiserver/pki.js";
import { GoLogger } from "../../../../server/sim/workloads/golog.js";
import type { IPAddressPool } from "../../../../server/sim/workloads/metallb-config.js";
import { ensureWebhookCert, handleWebhookRequest, webhookDnsNames, type ClusterPools, type WebhookContext } from "../../../../server/sim/workloads/metallb-webhook.js";

const POOL_PATH = "/validate-metallb-io-v1beta1-ipaddresspool";
const T0 = new Date("2024-05-01T10:00:00.123Z");

function context(pools: IPAddressPool[] | Error = [], level: "debug" | "info" = "info", release: "v0.13" | "v0.14" = "v0.13"): { ctx: WebhookContext; lines: string[] } {
  const lines: string[] = [];
  const listPools = async (): Promise<ClusterPools> => {
    if (pools instanceof Error) throw pools;
    return { pools, legacy: [] };
  };
  return { ctx: { namespace: "metallb-system", listPools, release, log: new GoLogger((l) => lines.push(l), level, () => T0, release === "v0.14") }, lines };
}

function reviewBody(request: Record<string, unknown>, apiVersion = "admission.k8s.io/v1"): Buffer {
  return Buffer.from(JSON.stringify({ kind: "AdmissionReview", apiVersion, request }));
}

function poolRequest(name: string, addresses: unknown, opts: { operation?: string; namespace?: string; uid?: string } = {}): Record<string, unknown> {
  const namespace = opts.namespace ?? "metallb-system";
  return {
    uid: opts.uid ?? "705ab4f5-6393-11e8-b7cc-42010a800002",
    kind: { group: "metallb.io", version: "v1beta1", kind: "IPAddressPool" },
    resource: { group: "metallb.io", version: "v1beta1", resource: "ipaddresspools" },
    name,
    namespace,
    operation: opts.operation ?? "CREATE",
    object: { apiVersion: "metallb.io/v1beta1", kind: "IPAddressPool", metadata: { name, namespace }, spec: { addresses } },
  };
}

const existing: IPAddressPool[] = [{ metadata: { name: "lab-pool", namespace: "metallb-system" }, spec: { addresses: ["192.168.10.200-192.168.10.220"] } }];

describe("AdmissionReview answers", () => {
  it("allows a valid pool with controller-runtime's exact body", async () => {
    const { ctx, lines } = context(existing);
    const r = await handleWebhookRequest(POOL_PATH, "application/json", reviewBody(poolRequest("second", ["192.168.10.221-192.168.10.230"])), ctx);
    assert.equal(r.status, 200);
    assert.equal(r.headers["content-type"], "text/plain; charset=utf-8");
    assert.equal(r.body, '{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","response":{"uid":"705ab4f5-6393-11e8-b7cc-42010a800002","allowed":true,"status":{"metadata":{},"code":200}}}\n');
    assert.deepEqual(lines, [], "at --log-level=info an admitted pool logs nothing");
  });

  it("denies an overlapping pool with code 403 and MetalLB's text in reason, and logs it like go-kit", async () => {
    const { ctx, lines } = context(existing);
    const r = await handleWebhookRequest(POOL_PATH, "application/json", reviewBody(poolRequest("second", ["192.168.10.216/29"])), ctx);
    const msg = 'CIDR "192.168.10.216/29" in pool "second" overlaps with already defined CIDR "192.168.10.216/30"';
    assert.deepEqual(JSON.parse(r.body), { kind: "AdmissionReview", apiVersion: "admission.k8s.io/v1", response: { uid: "705ab4f5-6393-11e8-b7cc-42010a800002", allowed: false, status: { metadata: {}, reason: msg, code: 403 } } });
    assert.deepEqual(lines, [
      `{"action":"create","caller":"ipaddresspool_webhook.go:64","error":${JSON.stringify(msg)},"level":"error","name":"second","namespace":"metallb-system","ts":"2024-05-01T10:00:00Z","webhook":"ipAddress"}`,
    ]);
  });

  it("denies an invalid address with the wrapped parse error", async () => {
    const { ctx } = context();
    const r = await handleWebhookRequest(POOL_PATH, "application/json", reviewBody(poolRequest("lab-pool", ["192.168.10.220-192.168.10.200"])), ctx);
    assert.equal(
      JSON.parse(r.body).response.status.reason,
      'parsing address pool lab-pool: invalid CIDR "192.168.10.220-192.168.10.200" in pool "lab-pool": invalid IP range "192.168.10.220-192.168.10.200": start IP "192.168.10.220" is after the end IP "192.168.10.200"',
    );
  });

  it("refuses pools created outside metallb-system, but not updates there", async () => {
    const { ctx, lines } = context();
    const r = await handleWebhookRequest(POOL_PATH, "application/json", reviewBody(poolRequest("p", ["10.0.0.0/24"], { namespace: "default" })), ctx);
    assert.equal(JSON.parse(r.body).response.status.reason, "resource must be created in metallb-system namespace");
    assert.deepEqual(lines, [], "MetalLB returns before its error log for the namespace check");
    const u = await handleWebhookRequest(POOL_PATH, "application/json", reviewBody(poolRequest("p", ["10.0.0.0/24"], { namespace: "default", operation: "UPDATE" })), ctx);
    assert.equal(JSON.parse(u.body).response.allowed, true);
  });

  it("validates an UPDATE against the other pools only", async () => {
    const { ctx } = context(existing);
    const r = await handleWebhookRequest(POOL_PATH, "application/json", reviewBody(poolRequest("lab-pool", ["192.168.10.200-192.168.10.240"], { operation: "UPDATE" })), ctx);
    assert.equal(JSON.parse(r.body).response.allowed, true);
  });

  it("allows DELETE and operations it has no branch for", async () => {
    const { ctx } = context();
    const del = await handleWebhookRequest(POOL_PATH, "application/json", reviewBody({ uid: "d", operation: "DELETE", oldObject: { metadata: { name: "p" } } }), ctx);
    assert.equal(JSON.parse(del.body).response.allowed, true);
    const none = await handleWebhookRequest(POOL_PATH, "application/json", reviewBody({ uid: "n" }), ctx);
    assert.deepEqual(JSON.parse(none.body).response, { uid: "n", allowed: true, status: { metadata: {}, code: 200 } });
  });

  it("answers a v1beta1 review in v1beta1", async () => {
    const { ctx } = context();
    const r = await handleWebhookRequest(POOL_PATH, "application/json", reviewBody(poolRequest("p", ["10.0.0.0/24"]), "admission.k8s.io/v1beta1"), ctx);
    assert.equal(JSON.parse(r.body).apiVersion, "admission.k8s.io/v1beta1");
  });

  it("denies with the lister's failure when pools cannot be read", async () => {
    const { ctx } = context(new Error("Failed to get existing IPAddressPool objects: Unauthorized"));
    const r = await handleWebhookRequest(POOL_PATH, "application/json", reviewBody(poolRequest("p", ["10.0.0.0/24"])), ctx);
    assert.deepEqual(JSON.parse(r.body).response.status, { metadata: {}, reason: "Failed to get existing IPAddressPool objects: Unauthorized", code: 403 });
  });

  it("escapes <, > and & as Go's encoder does", async () => {
    const { ctx } = context();
    const r = await handleWebhookRequest(POOL_PATH, "application/json", reviewBody(poolRequest("p", ["<a&b>"])), ctx);
    assert.match(r.body, /invalid CIDR \\"\\u003ca\\u0026b\\u003e\\"/);
  });

  it("validates L2Advertisements", async () => {
    const { ctx } = context();
    const body = reviewBody({ uid: "l2", operation: "CREATE", object: { metadata: { name: "l2", namespace: "metallb-system" }, spec: { ipAddressPools: ["a", "a"] } } });
    const r = await handleWebhookRequest("/validate-metallb-io-v1beta1-l2advertisement", "application/json", body, ctx);
    assert.equal(JSON.parse(r.body).response.status.reason, 'duplicate definition of ipAddressPools "a"');
  });

  it("answers like MetalLB v0.14 on request: reason Forbidden, text in message, no AddressPool webhook", async () => {
    const { ctx } = context(existing, "info", "v0.14");
    const r = await handleWebhookRequest(POOL_PATH, "application/json", reviewBody(poolRequest("second", ["192.168.10.216/29"])), ctx);
    assert.deepEqual(JSON.parse(r.body).response.status, {
      metadata: {},
      message: 'CIDR "192.168.10.216/29" in pool "second" overlaps with already defined CIDR "192.168.10.216/30"',
      reason: "Forbidden",
      code: 403,
    });
    assert.equal((await handleWebhookRequest("/validate-metallb-io-v1beta1-addresspool", "application/json", reviewBody({}), ctx)).status, 404);
    assert.equal((await handleWebhookRequest("/validate-metallb-io-v1beta1-addresspool", "application/json", reviewBody({}), context().ctx)).status, 200);
  });

  it("logs the request at --log-level=debug", async () => {
    const { ctx, lines } = context([], "debug");
    await handleWebhookRequest(POOL_PATH, "application/json", reviewBody(poolRequest("p", ["10.0.0.0/24"])), ctx);
    assert.deepEqual(lines, ['{"action":"create","caller":"ipaddresspool_webhook.go:41","level":"debug","name":"p","namespace":"metallb-system","ts":"2024-05-01T10:00:00Z","webhook":"ipaddresspool"}']);
  });
});

describe("malformed requests", () => {
  it("answers unknown paths with Go's 404", async () => {
    const r = await handleWebhookRequest("/validate", "application/json", Buffer.from("{}"), context().ctx);
    assert.equal(r.status, 404);
    assert.equal(r.body, "404 page not found\n");
  });

  it("answers an empty body, a wrong content type and bad JSON with a 400 review", async () => {
    const { ctx, lines } = context();
    const empty = await handleWebhookRequest(POOL_PATH, undefined, Buffer.alloc(0), ctx);
    assert.equal(empty.status, 200);
    assert.equal(empty.body, '{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","response":{"uid":"","allowed":false,"status":{"metadata":{},"message":"request body is empty","code":400}}}\n');
    const type = await handleWebhookRequest(POOL_PATH, "application/json; charset=utf-8", Buffer.from("{}"), ctx);
    assert.equal(JSON.parse(type.body).response.status.message, "contentType=application/json; charset=utf-8, expected application/json");
    const bad = await handleWebhookRequest(POOL_PATH, "application/json", Buffer.from("{nope"), ctx);
    assert.match(JSON.parse(bad.body).response.status.message, /^couldn't get version\/kind; json parse error: /);
    assert.equal(lines.length, 3);
    assert.deepEqual(JSON.parse(lines[0]!), { level: "error", ts: T0.getTime() / 1000, logger: "controller-runtime.webhook.webhooks", msg: "bad request", webhook: POOL_PATH, error: "request body is empty" });
  });

  it("answers an object that does not decode with encoding/json's words", async () => {
    const { ctx } = context();
    const r = await handleWebhookRequest(POOL_PATH, "application/json", reviewBody(poolRequest("p", "10.0.0.0/24")), ctx);
    assert.deepEqual(JSON.parse(r.body).response.status, { metadata: {}, message: "json: cannot unmarshal string into Go struct field IPAddressPoolSpec.spec.addresses of type []string", code: 400 });
    const missing = await handleWebhookRequest(POOL_PATH, "application/json", reviewBody({ uid: "x", operation: "CREATE" }), ctx);
    assert.equal(JSON.parse(missing.body).response.status.message, "there is no content to decode");
  });
});

describe("serving certificate", () => {
  let dir: string;
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "faultline-webhook-cert-"));
    await createCa(dir, "ca", "kubernetes");
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("is issued by the CA for every webhook Service name, then reused", async () => {
    const first = await ensureWebhookCert(dir);
    const cert = new X509Certificate(first.cert);
    const ca = new X509Certificate(readFileSync(path.join(dir, "ca.crt")));
    assert.ok(cert.verify(ca.publicKey), "signed by the sandbox CA");
    for (const n of webhookDnsNames()) assert.ok(cert.subjectAltName?.split(", ").includes(`DNS:${n}`), n);
    assert.ok(webhookDnsNames().includes("metallb-webhook-service.metallb-system.svc"));
    assert.ok(webhookDnsNames().includes("webhook-service.metallb-system.svc"));
    const mtime = statSync(first.certFile).mtimeMs;
    const again = await ensureWebhookCert(dir);
    assert.equal(again.cert, first.cert);
    assert.equal(statSync(again.certFile).mtimeMs, mtime);
  });

  it("is re-issued when the CA changed", async () => {
    const before = await ensureWebhookCert(dir);
    await createCa(dir, "ca", "kubernetes");
    const after = await ensureWebhookCert(dir);
    assert.notEqual(after.cert, before.cert);
    assert.ok(new X509Certificate(after.cert).verify(new X509Certificate(readFileSync(path.join(dir, "ca.crt"))).publicKey));
  });

  it("refuses a folder without a CA", async () => {
    await assert.rejects(ensureWebhookCert(path.join(dir, "nowhere")), /no CA ca\.crt\/ca\.key in/);
  });
});
