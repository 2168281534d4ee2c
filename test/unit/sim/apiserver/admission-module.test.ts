/**
 * The admission module without the HTTP server in front: rule and selector matching as
 * k8s.io/apiserver's predicates decide, the Go-version-dependent TLS wording, certificate validity by
 * the injected clock, webhooks by URL, and AdmissionReview v1beta1.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { createLogger } from "../../../../server/log.js";
import { goPathJoin, goQuote, goTlsVerifyPrefix } from "../../../../server/sim/apiserver/admission-client.js";
import { toStatusErr } from "../../../../server/sim/apiserver/admission-review.js";
import { Admission, ruleMatches, webhooksOf, type AdmissionAttributes } from "../../../../server/sim/apiserver/admission.js";
import { selectorMatches } from "../../../../server/sim/apiserver/selectors.js";
import type { KObject } from "../../../../server/sim/apiserver/objects.js";
import { mustResourceType } from "../../../../server/sim/apiserver/resources.js";
import { Store } from "../../../../server/sim/apiserver/store.js";
import { answer, b64, dnatDialer, SVC, SVC_DNS, startWebhook, webhookEntry, webhookPki, type TestWebhook, type WebhookPki } from "./admission-helpers.js";

const configmaps = mustResourceType("configmaps");
const namespaces = mustResourceType("namespaces");
const nodes = mustResourceType("nodes");

function attrs(over: Partial<AdmissionAttributes> = {}): AdmissionAttributes {
  const object: KObject = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: "default" }, data: {} };
  return { operation: "CREATE", type: configmaps, subresource: "", namespace: "default", name: "c", object, oldObject: undefined, dryRun: false, options: undefined, userInfo: { username: "u", groups: [] }, ...over };
}

const rule = (over: Record<string, unknown> = {}) => ({ operations: ["CREATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["configmaps"], scope: "*", ...over }) as Parameters<typeof ruleMatches>[0];

describe("rule matching (rules.Matcher)", () => {
  it("matches operation, group, version and resource, each with `*`", () => {
    assert.equal(ruleMatches(rule(), attrs()), true);
    assert.equal(ruleMatches(rule({ operations: ["UPDATE"] }), attrs()), false);
    assert.equal(ruleMatches(rule({ operations: ["*"], apiGroups: ["*"], apiVersions: ["*"], resources: ["*"] }), attrs()), true);
    assert.equal(ruleMatches(rule({ apiGroups: ["apps"] }), attrs()), false);
    assert.equal(ruleMatches(rule({ apiVersions: ["v1beta1"] }), attrs()), false);
  });

  it("keeps subresources apart: `pods` is not `pods/status`, `*` is not `*/*`, `pods/*` is both", () => {
    const pods = mustResourceType("pods");
    const status = attrs({ type: pods, subresource: "status", operation: "UPDATE" });
    assert.equal(ruleMatches(rule({ operations: ["UPDATE"], resources: ["pods"] }), status), false);
    assert.equal(ruleMatches(rule({ operations: ["UPDATE"], resources: ["pods/status"] }), status), true);
    assert.equal(ruleMatches(rule({ operations: ["UPDATE"], resources: ["*"] }), status), false);
    assert.equal(ruleMatches(rule({ operations: ["UPDATE"], resources: ["*/*"] }), status), true);
    // rules.go compares the subresource part with `*` or equality, so `pods/*` covers pods itself too
    assert.equal(ruleMatches(rule({ operations: ["UPDATE"], resources: ["pods/*"] }), attrs({ type: pods, operation: "UPDATE" })), true);
  });

  it("treats namespaces as cluster-scoped and other cluster objects as outside Namespaced", () => {
    const any = { operations: ["*"], apiGroups: ["*"], apiVersions: ["*"], resources: ["*"] };
    const ns = attrs({ type: namespaces, namespace: "team-a", name: "team-a" });
    assert.equal(ruleMatches(rule({ ...any, scope: "Namespaced" }), ns), false);
    assert.equal(ruleMatches(rule({ ...any, scope: "Cluster" }), ns), true);
    assert.equal(ruleMatches(rule({ ...any, scope: "Cluster" }), attrs({ type: nodes, namespace: "" })), true);
    assert.equal(ruleMatches(rule({ ...any, scope: "Namespaced" }), attrs()), true);
    assert.equal(ruleMatches(rule({ ...any, scope: "Cluster" }), attrs()), false);
  });
});

describe("label selectors (metav1.LabelSelectorAsSelector)", () => {
  it("supports matchLabels and the four operators; absent or {} selects everything", () => {
    const l = { app: "web", tier: "front" };
    assert.equal(selectorMatches(undefined, undefined), true);
    assert.equal(selectorMatches({}, l), true);
    assert.equal(selectorMatches({ matchLabels: { app: "web" } }, l), true);
    assert.equal(selectorMatches({ matchLabels: { app: "db" } }, l), false);
    assert.equal(selectorMatches({ matchExpressions: [{ key: "tier", operator: "In", values: ["front", "back"] }] }, l), true);
    assert.equal(selectorMatches({ matchExpressions: [{ key: "tier", operator: "NotIn", values: ["front"] }] }, l), false);
    assert.equal(selectorMatches({ matchExpressions: [{ key: "missing", operator: "NotIn", values: ["x"] }] }, l), true);
    assert.equal(selectorMatches({ matchExpressions: [{ key: "app", operator: "Exists" }] }, l), true);
    assert.equal(selectorMatches({ matchExpressions: [{ key: "app", operator: "DoesNotExist" }] }, l), false);
  });

  it("throws apimachinery's text for an unknown operator", () => {
    assert.throws(() => selectorMatches({ matchExpressions: [{ key: "a", operator: "Like" }] }, {}), { message: '"Like" is not a valid label selector operator' });
  });
});

describe("webhook configuration defaults (admissionregistration/v1)", () => {
  it("defaults failurePolicy, matchPolicy, scope, port and timeout, and clamps the timeout to 1..30", () => {
    const [w] = webhooksOf({ apiVersion: "admissionregistration.k8s.io/v1", kind: "ValidatingWebhookConfiguration", metadata: { name: "c" }, webhooks: [{ name: "w", clientConfig: { service: { namespace: "n", name: "s" } }, rules: [{ operations: ["CREATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["pods"] }], timeoutSeconds: 99 }] }, false);
    assert.equal(w!.failurePolicy, "Fail");
    assert.equal(w!.matchPolicy, "Equivalent");
    assert.equal(w!.rules[0]!.scope, "*");
    assert.equal(w!.clientConfig.service!.port, 443);
    assert.equal(w!.timeoutSeconds, 30);
    const [d] = webhooksOf({ apiVersion: "x", kind: "x", metadata: { name: "c" }, webhooks: [{ name: "d" }] }, true);
    assert.equal(d!.timeoutSeconds, 10);
  });
});

describe("wording helpers", () => {
  it("cleans paths as Go's path.Join does", () => {
    assert.equal(goPathJoin("/", ""), "/");
    assert.equal(goPathJoin("/", "/validate/"), "/validate");
    assert.equal(goPathJoin("/", "a//b/../c"), "/a/c");
  });

  it("quotes as Go's %q does", () => {
    assert.equal(goQuote('a "b"\n'), '"a \\"b\\"\\n"');
  });

  it("knows which kube-apiserver builds prefix TLS verification errors (Go 1.20+)", () => {
    assert.equal(goTlsVerifyPrefix("v1.24.6"), false);
    assert.equal(goTlsVerifyPrefix("v1.26.3"), false);
    assert.equal(goTlsVerifyPrefix("v1.27.0"), true);
    assert.equal(goTlsVerifyPrefix("v1.30.2"), true);
  });

  it("turns a denial into ToStatusErr's Status", () => {
    assert.deepEqual(toStatusErr("w", { reason: "NoGood" }).status, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: 'admission webhook "w" denied the request: NoGood', reason: "NoGood", code: 400 });
    assert.equal(toStatusErr("w", { code: 200, message: "x" }).code, 400);
  });
});

describe("calling webhooks", () => {
  let dir: string;
  let pki: WebhookPki;
  let hook: TestWebhook;
  const routes = new Map<string, number>();
  const log = createLogger({}, { level: "error" });

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "faultline-admission-module-"));
    pki = await webhookPki(dir);
  });
  afterEach(async () => {
    await hook?.close();
    routes.clear();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function storeWith(kind: "ValidatingWebhookConfiguration" | "MutatingWebhookConfiguration", webhooks: Array<Record<string, unknown>>): Store {
    const store = new Store();
    store.create("namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: SVC.namespace } });
    store.create("namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: "default" } });
    store.create("services", { apiVersion: "v1", kind: "Service", metadata: { name: SVC.name, namespace: SVC.namespace }, spec: { type: "ClusterIP", clusterIP: SVC.clusterIP, ports: [{ port: 443, targetPort: 9443, protocol: "TCP" }] } }, { keepStatus: true });
    store.create(kind === "ValidatingWebhookConfiguration" ? "validatingwebhookconfigurations" : "mutatingwebhookconfigurations", { apiVersion: "admissionregistration.k8s.io/v1", kind, metadata: { name: "c" }, webhooks });
    return store;
  }

  async function failure(p: Promise<unknown>): Promise<string> {
    try {
      await p;
    } catch (err) {
      return (err as Error).message;
    }
    return "no error";
  }

  it("prefixes x509 errors with `tls: failed to verify certificate:` for a Go 1.20 build (kube 1.28)", async () => {
    hook = await startWebhook(pki.serving);
    routes.set(`${SVC.clusterIP}:443`, hook.port);
    const store = storeWith("ValidatingWebhookConfiguration", [webhookEntry("ipaddresspoolvalidationwebhook.metallb.io", pki.otherCa.cert, { clientConfig: { service: { namespace: SVC.namespace, name: SVC.name, path: "/validate-metallb-io-v1beta1-ipaddresspool" }, caBundle: b64(pki.otherCa.cert) } })]);
    const a = new Admission({ store, log, kubeVersion: "v1.28.4", dial: dnatDialer(routes) });
    assert.equal(
      await failure(a.validate(attrs())),
      `Internal error occurred: failed calling webhook "ipaddresspoolvalidationwebhook.metallb.io": failed to call webhook: Post "https://${SVC_DNS}:443/validate-metallb-io-v1beta1-ipaddresspool?timeout=1s": tls: failed to verify certificate: x509: certificate signed by unknown authority`,
    );
  });

  it("checks the certificate's validity period first, by the given clock", async () => {
    hook = await startWebhook(pki.serving);
    routes.set(`${SVC.clusterIP}:443`, hook.port);
    const store = storeWith("ValidatingWebhookConfiguration", [webhookEntry("old.faultline.test", pki.ca.cert)]);
    const later = new Date(Date.now() + 2 * 365 * 86400_000);
    const a = new Admission({ store, log, kubeVersion: "v1.24.6", dial: dnatDialer(routes), now: () => later });
    const msg = await failure(a.validate(attrs()));
    assert.match(msg, /: x509: certificate has expired or is not yet valid: current time \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ is after \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok(msg.includes(`current time ${later.toISOString().replace(/\.\d{3}Z$/, "Z")}`));
  });

  it("refuses a certificate that names the Service only in its Common Name (Go 1.17+)", async () => {
    hook = await startWebhook(pki.cnOnly);
    routes.set(`${SVC.clusterIP}:443`, hook.port);
    const store = storeWith("ValidatingWebhookConfiguration", [webhookEntry("cn.faultline.test", pki.ca.cert)]);
    const a = new Admission({ store, log, kubeVersion: "v1.24.6", dial: dnatDialer(routes) });
    assert.equal(await failure(a.validate(attrs())), `Internal error occurred: failed calling webhook "cn.faultline.test": failed to call webhook: Post "https://${SVC_DNS}:443/validate?timeout=1s": x509: certificate relies on legacy Common Name field, use SANs instead`);
  });

  it("calls a webhook by url, verifying the certificate against the URL's host", async () => {
    hook = await startWebhook(pki.serving);
    const store = storeWith("ValidatingWebhookConfiguration", [webhookEntry("url.faultline.test", pki.ca.cert, { clientConfig: { url: `https://127.0.0.1:${hook.port}/check/`, caBundle: b64(pki.ca.cert) } })]);
    const a = new Admission({ store, log, kubeVersion: "v1.24.6" });
    assert.equal(
      await failure(a.validate(attrs())),
      `Internal error occurred: failed calling webhook "url.faultline.test": failed to call webhook: Post "https://127.0.0.1:${hook.port}/check?timeout=1s": x509: cannot validate certificate for 127.0.0.1 because it doesn't contain any IP SANs`,
    );
  });

  it("reports a caBundle that is not PEM as client-go does", async () => {
    const store = storeWith("ValidatingWebhookConfiguration", [webhookEntry("pem.faultline.test", "not a certificate")]);
    const a = new Admission({ store, log, kubeVersion: "v1.24.6" });
    assert.equal(await failure(a.validate(attrs())), 'Internal error occurred: failed calling webhook "pem.faultline.test": could not get REST client: unable to load root certificates: unable to parse bytes as PEM block');
  });

  it("speaks AdmissionReview v1beta1 to a webhook that accepts only that", async () => {
    hook = await startWebhook(pki.serving, () => ({ response: { response: { allowed: true } } }));
    routes.set(`${SVC.clusterIP}:443`, hook.port);
    const store = storeWith("ValidatingWebhookConfiguration", [webhookEntry("old-api.faultline.test", pki.ca.cert, { admissionReviewVersions: ["v1beta1"] })]);
    const a = new Admission({ store, log, kubeVersion: "v1.24.6", dial: dnatDialer(routes) });
    await a.validate(attrs());
    assert.equal(hook.calls[0]!.review.apiVersion, "admission.k8s.io/v1beta1");
  });

  it("fails a v1 answer without apiVersion and kind as VerifyAdmissionResponse does", async () => {
    hook = await startWebhook(pki.serving, (review) => ({ response: { response: { uid: review.request.uid, allowed: true } } }));
    routes.set(`${SVC.clusterIP}:443`, hook.port);
    const store = storeWith("ValidatingWebhookConfiguration", [webhookEntry("bare.faultline.test", pki.ca.cert)]);
    const a = new Admission({ store, log, kubeVersion: "v1.24.6", dial: dnatDialer(routes) });
    assert.equal(await failure(a.validate(attrs())), 'Internal error occurred: failed calling webhook "bare.faultline.test": received invalid webhook response: expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got /, Kind=');
  });

  it("applies mutating webhooks in order, each seeing the previous one's patch", async () => {
    const patch = (ops: unknown[]) => Buffer.from(JSON.stringify(ops)).toString("base64");
    hook = await startWebhook(pki.serving, (review, req) => {
      const labels = review.request.object.metadata.labels ?? {};
      const op = req.url!.startsWith("/first") ? { op: "add", path: "/metadata/labels", value: { first: "1" } } : { op: "add", path: "/metadata/labels/second", value: String(Object.keys(labels).length) };
      return { response: answer(review, { allowed: true, patchType: "JSONPatch", patch: patch([op]) }) };
    });
    routes.set(`${SVC.clusterIP}:443`, hook.port);
    const cc = (p: string) => ({ service: { namespace: SVC.namespace, name: SVC.name, path: p }, caBundle: b64(pki.ca.cert) });
    const store = storeWith("MutatingWebhookConfiguration", [webhookEntry("first.faultline.test", pki.ca.cert, { clientConfig: cc("/first") }), webhookEntry("second.faultline.test", pki.ca.cert, { clientConfig: cc("/second") })]);
    const a = new Admission({ store, log, kubeVersion: "v1.24.6", dial: dnatDialer(routes) });
    const out = await a.mutate(attrs());
    assert.deepEqual(out!.metadata.labels, { first: "1", second: "1" });
  });

  it("uses the default ClusterIP resolver when no dialer is injected (nothing listens on 10.233.0.10 here)", async () => {
    const store = storeWith("ValidatingWebhookConfiguration", [webhookEntry("real.faultline.test", pki.ca.cert, { failurePolicy: "Ignore" })]);
    const a = new Admission({ store, log, kubeVersion: "v1.24.6" });
    // Ignore: whatever the host network does with 10.233.0.10 (refuse, drop until the deadline), the request passes
    await a.validate(attrs());
  });
});
