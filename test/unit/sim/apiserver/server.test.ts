/**
 * The HTTP surface without kubectl: exact Status bodies, authentication outcomes, decoding of hostile
 * input, watch framing.
 */
import assert from "node:assert/strict";
import { request as httpsRequest } from "node:https";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { createLogger } from "../../../../server/log.js";
import { startApiServer } from "../../../../server/sim/apiserver/index.js";
import { fixture, flagshipPlan } from "./fixtures.js";
import { startHarness, type Harness } from "./harness.js";

let h: Harness;
const call: Harness["call"] = (...args) => h.call(...args);

before(async () => {
  h = await startHarness();
});

after(() => h?.close());

describe("authentication", () => {
  it("answers a certificate from another CA with exactly kube-apiserver's 401 body", async () => {
    const r = await call("GET", "/api/v1/pods", { as: "stranger" });
    assert.equal(r.code, 401);
    assert.deepEqual(r.json(), { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: "Unauthorized", reason: "Unauthorized", code: 401 });
    assert.equal((await call("GET", "/version", { as: "stranger" })).code, 401);
  });

  it("lets anonymous clients read /version and health, nothing else", async () => {
    assert.equal((await call("GET", "/version", { as: "anonymous" })).json().gitVersion, "v1.24.6");
    assert.equal((await call("GET", "/healthz", { as: "anonymous" })).text, "ok");
    assert.equal((await call("GET", "/api", { as: "anonymous" })).code, 401);
  });

  it("reuses the PKI of an existing certDir", async () => {
    const again = await startApiServer({ host: "127.0.0.1", port: 0, plan: flagshipPlan(), certDir: path.join(h.dir, "pki"), log: createLogger({}, { level: "error" }) });
    try {
      assert.equal(again.caCert, h.api.caCert);
    } finally {
      await again.close();
    }
  });
});

describe("REST", () => {
  it("creates from JSON and from kubectl's protobuf, then reports AlreadyExists", async () => {
    const created = await call("POST", "/api/v1/namespaces", { body: fixture("protobuf", "namespace-team-a.pb"), headers: { "content-type": "application/vnd.kubernetes.protobuf" } });
    assert.equal(created.code, 201);
    assert.equal(created.json().metadata.labels["kubernetes.io/metadata.name"], "team-a");
    const cm = await call("POST", "/api/v1/namespaces/team-a/configmaps", { body: JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" }, data: { a: "b" } }) });
    assert.equal(cm.code, 201);
    const dup = await call("POST", "/api/v1/namespaces/team-a/configmaps", { body: JSON.stringify({ metadata: { name: "c" } }) });
    assert.equal(dup.code, 409);
    assert.deepEqual(dup.json(), { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: 'configmaps "c" already exists', reason: "AlreadyExists", details: { name: "c", kind: "configmaps" }, code: 409 });
  });

  it("gives NotFound with details, group-qualified for apps", async () => {
    const r = await call("GET", "/apis/apps/v1/namespaces/default/deployments/nope");
    assert.deepEqual(r.json(), { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: 'deployments.apps "nope" not found', reason: "NotFound", details: { name: "nope", group: "apps", kind: "deployments" }, code: 404 });
  });

  it("rejects a stale update with Conflict and accepts the current resourceVersion", async () => {
    const cur = (await call("GET", "/api/v1/namespaces/default/pods/netshoot")).json();
    const ok = await call("PUT", "/api/v1/namespaces/default/pods/netshoot", { body: JSON.stringify({ ...cur, metadata: { ...cur.metadata, labels: { app: "netshoot", x: "1" } } }) });
    assert.equal(ok.code, 200);
    const stale = await call("PUT", "/api/v1/namespaces/default/pods/netshoot", { body: JSON.stringify(cur) });
    assert.equal(stale.code, 409);
    assert.equal(stale.json().message, 'Operation cannot be fulfilled on pods "netshoot": the object has been modified; please apply your changes to the latest version and try again');
  });

  it("lists items without TypeMeta, as typed lists are encoded", async () => {
    const r = (await call("GET", "/api/v1/nodes")).json();
    assert.equal(r.kind, "NodeList");
    assert.equal(r.items.length, 7);
    assert.equal(r.items[0].kind, undefined);
    assert.match(r.metadata.resourceVersion, /^\d+$/);
  });

  it("deletes: Status for most types, the marked object for pods", async () => {
    await call("POST", "/api/v1/namespaces/default/configmaps", { body: JSON.stringify({ metadata: { name: "gone" } }) });
    const d = (await call("DELETE", "/api/v1/namespaces/default/configmaps/gone")).json();
    assert.equal(d.kind, "Status");
    assert.equal(d.status, "Success");
    assert.equal(d.details.name, "gone");
    const p = (await call("DELETE", "/api/v1/namespaces/default/pods/hello-world-6d4b8c7f9-abcde", { body: '{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Background"}' })).json();
    assert.equal(p.kind, "Pod");
    assert.ok(p.metadata.deletionTimestamp);
  });

  it("patches (strategic, with a resourceVersion precondition) and scales through /scale", async () => {
    const p = "/api/v1/namespaces/metallb-system/pods/speaker-test";
    const ok = await call("PATCH", p, { body: '{"metadata":{"labels":{"x":"y"}}}', headers: { "content-type": "application/strategic-merge-patch+json" } });
    assert.equal(ok.code, 200);
    assert.equal(ok.json().metadata.labels.x, "y");
    const stale = await call("PATCH", p, { body: '{"metadata":{"resourceVersion":"1","labels":{"x":"z"}}}', headers: { "content-type": "application/merge-patch+json" } });
    assert.equal(stale.code, 409);
    assert.equal((await call("PATCH", p, { body: "{}", headers: { "content-type": "application/apply-patch+yaml" } })).code, 415);
    const scaleUrl = "/apis/apps/v1/namespaces/kube-system/deployments/coredns/scale";
    const sc = (await call("GET", scaleUrl)).json();
    assert.deepEqual([sc.kind, sc.apiVersion, sc.spec.replicas, sc.status.selector], ["Scale", "autoscaling/v1", 2, "k8s-app=kube-dns"]);
    const scaled = await call("PATCH", scaleUrl, { body: '{"spec":{"replicas":4}}', headers: { "content-type": "application/merge-patch+json" } });
    assert.equal(scaled.json().spec.replicas, 4);
    assert.equal((await call("GET", "/apis/apps/v1/namespaces/kube-system/deployments/coredns")).json().spec.replicas, 4);
    assert.equal((await call("PATCH", scaleUrl, { body: '{"spec":{"replicas":-1}}', headers: { "content-type": "application/merge-patch+json" } })).code, 422);
  });

  it("answers kubectl get with a Table", async () => {
    const r = await call("GET", "/api/v1/namespaces/metallb-system/services", { headers: { accept: "application/json;as=Table;v=v1;g=meta.k8s.io,application/json" } });
    assert.equal(r.type, "application/json;as=Table;v=v1;g=meta.k8s.io");
    const t = r.json();
    assert.deepEqual(t.columnDefinitions.map((c: { name: string }) => c.name), ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"]);
    assert.deepEqual(t.rows[0].cells.slice(0, 5), ["metallb-webhook-service", "ClusterIP", "10.233.0.10", "<none>", "443/TCP"]);
  });
});

describe("bad input", () => {
  it("malformed JSON is BadRequest with the decoder's wording", async () => {
    const r = await call("POST", "/api/v1/namespaces/default/configmaps", { body: "{not json" });
    assert.equal(r.code, 400);
    assert.equal(r.json().reason, "BadRequest");
    assert.match(r.json().message, /^the object provided is unrecognized \(must be of type ConfigMap\): couldn't get version\/kind; json parse error: /);
  });

  it("wrong apiVersion, wrong kind, mismatched name or namespace are BadRequest", async () => {
    const base = "/api/v1/namespaces/default/configmaps";
    assert.match((await call("POST", base, { body: '{"apiVersion":"apps/v1","metadata":{"name":"x"}}' })).json().message, /^the API version in the data \(apps\/v1\) does not match the expected API version \(v1\)$/);
    assert.match((await call("POST", base, { body: '{"kind":"Pod","metadata":{"name":"x"}}' })).json().message, /^Pod in version "v1" cannot be handled as a ConfigMap/);
    assert.equal((await call("POST", base, { body: '{"metadata":{"name":"x","namespace":"kube-system"}}' })).json().message, "the namespace of the provided object does not match the namespace sent on the request");
    assert.equal((await call("PUT", `${base}/a`, { body: '{"metadata":{"name":"b"}}' })).json().message, "the name of the object (b) does not match the name on the URL (a)");
    assert.equal((await call("POST", base, { body: '{"metadata":{"name":"x","labels":{"a":1}}}' })).code, 400);
  });

  it("unknown paths, unsupported media types, oversize bodies", async () => {
    assert.equal((await call("GET", "/api/v1/bogus")).json().message, "the server could not find the requested resource");
    assert.equal((await call("GET", "/apis/apps/v1/pods")).code, 404);
    assert.equal((await call("POST", "/api/v1/namespaces/default/configmaps", { body: "x", headers: { "content-type": "text/plain" } })).code, 415);
    assert.equal((await call("POST", "/api/v1/namespaces/default/configmaps", { body: Buffer.alloc(3 * 1024 * 1024 + 10, 0x20) })).code, 413);
    assert.equal((await call("POST", "/api/v1/namespaces/default/configmaps/x")).code, 405);
  });

});

describe("watch", () => {
  it("streams newline-delimited events from a resourceVersion, including selector transitions", async () => {
    const rv = (await call("GET", "/api/v1/namespaces/default/configmaps")).json().metadata.resourceVersion as string;
    const events: Array<{ type: string; object: { metadata: { name: string } } }> = [];
    const done = new Promise<void>((resolve, reject) => {
      const req = httpsRequest({ host: "127.0.0.1", port: h.api.port, path: `/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=${rv}&allowWatchBookmarks=true&timeoutSeconds=3`, ca: h.api.caCert, ...h.admin }, (res) => {
        assert.equal(res.statusCode, 200);
        let buf = "";
        res.on("data", (c: Buffer) => {
          buf += c.toString();
          let nl;
          while ((nl = buf.indexOf("\n")) >= 0) {
            events.push(JSON.parse(buf.slice(0, nl)));
            buf = buf.slice(nl + 1);
            if (events.length === 3) req.destroy();
          }
        });
        res.on("close", () => resolve());
      });
      req.on("error", (e) => (events.length === 3 ? resolve() : reject(e)));
      req.end();
    });
    await call("POST", "/api/v1/namespaces/default/configmaps", { body: '{"metadata":{"name":"w"}}' });
    const cur = (await call("GET", "/api/v1/namespaces/default/configmaps/w")).json();
    await call("PUT", "/api/v1/namespaces/default/configmaps/w", { body: JSON.stringify({ ...cur, data: { a: "1" } }) });
    await call("DELETE", "/api/v1/namespaces/default/configmaps/w");
    await done;
    assert.deepEqual(events.map((e) => `${e.type} ${e.object.metadata.name}`), ["ADDED w", "MODIFIED w", "DELETED w"]);
  });

  it("reports an expired resourceVersion in-stream as an ERROR event with 410", async () => {
    const r = await call("GET", "/api/v1/pods?watch=true&resourceVersion=0&timeoutSeconds=1");
    assert.equal(r.code, 200);
    const lines = r.text.trim().split("\n").map((l) => JSON.parse(l));
    assert.ok(lines.every((l) => l.type === "ADDED"));
  });
});
