/**
 * The kube check against the real API server module (test/unit/sim/apiserver/harness.ts, seeded with
 * the flagship's plan), through @kubernetes/client-node: named objects, selectors with counts, the
 * subset match rule, absent, kinds the server does not serve (until their CRD is installed), an
 * unreachable or silent API server (could not check), and objects read from an evaluator's watch.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer, type AddressInfo, type Server } from "node:net";
import { after, before, describe, it } from "node:test";
import { parse as parseYaml } from "yaml";
import { runCheck } from "../../../server/checks/kinds/index.js";
import { subsetMismatch } from "../../../server/checks/kinds/kube.js";
import { kubeHandleFromString } from "../../../server/checks/kube-client.js";
import { kubeCheckSchema, type CheckSpec } from "../../../server/checks/schema.js";
import type { CheckContext } from "../../../server/checks/types.js";
import type { KObject } from "../../../server/sim/apiserver/objects.js";
import { cm, FIXTURES } from "../sim/apiserver/fixtures.js";
import { startHarness, type Harness } from "../sim/apiserver/harness.js";
import { fakeContext, harnessKube } from "./support.js";

const kube = (spec: Record<string, unknown>): CheckSpec => ({ kube: kubeCheckSchema.parse(spec) });

describe("subsetMismatch: the match rule", () => {
  it("objects: every expected key matches, other keys are ignored", () => {
    assert.equal(subsetMismatch({ spec: { a: 1 } }, { spec: { a: 1, b: 2 }, status: {} }), null);
    assert.equal(subsetMismatch({ spec: { a: 1 } }, { spec: { a: 2 } }), "spec.a is 2, expected 1");
    assert.equal(subsetMismatch({ spec: { c: 1 } }, { spec: {} }), "spec.c is not set, expected 1");
    assert.equal(subsetMismatch({ spec: { a: { b: 1 } } }, { spec: { a: "x" } }), 'spec.a is "x", expected an object');
  });

  it("arrays: each expected element matches some actual element, in any order; actual may hold more", () => {
    const actual = { ports: [{ port: 80, name: "http" }, { port: 443, name: "https" }] };
    assert.equal(subsetMismatch({ ports: [{ port: 443 }, { port: 80 }] }, actual), null);
    assert.equal(subsetMismatch({ ports: [{ port: 443 }, { port: 443 }] }, actual), null, "one actual element may serve twice");
    assert.match(subsetMismatch({ ports: [{ port: 8080 }] }, actual)!, /^ports: no element matches \{"port":8080\}/);
    assert.equal(subsetMismatch({ ports: [] }, actual), null);
    assert.equal(subsetMismatch({ ports: [1] }, { ports: "1" }), 'ports is "1", expected a list');
  });

  it("scalars: identical values only (types count); null matches null or a missing key", () => {
    assert.equal(subsetMismatch({ port: "443" }, { port: 443 }), 'port is 443, expected "443"');
    assert.equal(subsetMismatch({ x: null }, {}), null);
    assert.equal(subsetMismatch({ x: null }, { x: null }), null);
    assert.equal(subsetMismatch({ x: null }, { x: 0 }), "x is 0, expected null");
    assert.equal(subsetMismatch(true, true), null);
  });
});

describe("kube check against the API server", () => {
  let h: Harness;
  let ctx: CheckContext;

  before(async () => {
    h = await startHarness();
    const handle = harnessKube(h);
    ctx = fakeContext({ kube: () => handle });
    h.api.store.create("configmaps", cm("default", "app-config", { mode: "debug" }, { app: "web", tier: "front" }));
    h.api.store.create("configmaps", cm("default", "app-extra", { mode: "prod" }, { app: "web", tier: "back" }));
  });
  after(() => h.close());

  it("a named object that exists passes; one that does not is 'not yet', with where it was looked for", async () => {
    assert.deepEqual(await runCheck(kube({ apiVersion: "v1", kind: "ConfigMap", namespace: "default", name: "app-config" }), ctx), {
      status: "pass",
      detail: "ConfigMap default/app-config: exists",
    });
    assert.deepEqual(await runCheck(kube({ apiVersion: "v1", kind: "ConfigMap", namespace: "kube-system", name: "app-config" }), ctx), {
      status: "fail",
      detail: "ConfigMap app-config not found in kube-system",
    });
  });

  it("match: the named object must contain the partial object; the detail names the first difference", async () => {
    const spec = { apiVersion: "v1", kind: "ConfigMap", namespace: "default", name: "app-config" };
    assert.equal((await runCheck(kube({ ...spec, match: { data: { mode: "debug" }, metadata: { labels: { app: "web" } } } }), ctx)).status, "pass");
    assert.deepEqual(await runCheck(kube({ ...spec, match: { data: { mode: "prod" } } }), ctx), {
      status: "fail",
      detail: 'ConfigMap default/app-config: data.mode is "debug", expected "prod"',
    });
  });

  it("a selector: every selected object matches, and their number is within count (default: at least one)", async () => {
    const sel = { apiVersion: "v1", kind: "ConfigMap", namespace: "default", labelSelector: "app=web" };
    assert.deepEqual(await runCheck(kube(sel), ctx), { status: "pass", detail: "ConfigMap app=web in default: 2 objects" });
    assert.deepEqual(await runCheck(kube({ ...sel, count: { max: 1 } }), ctx), { status: "fail", detail: "ConfigMap app=web in default: 2 objects, expected at most 1" });
    assert.deepEqual(await runCheck(kube({ ...sel, labelSelector: "app=db" }), ctx), { status: "fail", detail: "ConfigMap app=db in default: 0 objects, expected at least 1" });
    assert.equal((await runCheck(kube({ ...sel, labelSelector: "app=db", count: { min: 0 } }), ctx)).status, "pass");
    assert.deepEqual(await runCheck(kube({ ...sel, match: { data: { mode: "debug" } } }), ctx), {
      status: "fail",
      detail: 'ConfigMap default/app-extra: data.mode is "prod", expected "debug"',
    });
  });

  it("without a namespace, a selector lists every namespace (the seeded pods of the flagship)", async () => {
    const r = await runCheck(kube({ apiVersion: "v1", kind: "Pod", labelSelector: "component=controller", count: { min: 1, max: 1 }, match: { spec: { nodeName: "worker-3" } } }), ctx);
    assert.deepEqual(r, { status: "pass", detail: "Pod component=controller in every namespace: 1 object, all matching" });
  });

  it("absent: passes while nothing selected (and matching) exists", async () => {
    const base = { apiVersion: "v1", kind: "ConfigMap", namespace: "default", absent: true };
    assert.deepEqual(await runCheck(kube({ ...base, name: "gone" }), ctx), { status: "pass", detail: "ConfigMap default/gone: does not exist" });
    assert.deepEqual(await runCheck(kube({ ...base, name: "app-config" }), ctx), { status: "fail", detail: "ConfigMap default/app-config still exists" });
    assert.equal((await runCheck(kube({ ...base, name: "app-config", match: { data: { mode: "prod" } } }), ctx)).status, "pass", "exists, but does not match");
    assert.deepEqual(await runCheck(kube({ ...base, labelSelector: "tier=back" }), ctx), { status: "fail", detail: "ConfigMap default/app-extra still exists" });
  });

  it("a kind the server does not serve fails (its CRD can be installed); once installed, its objects are found", async () => {
    const widget = kube({ apiVersion: "example.faultline.dev/v1", kind: "Widget", namespace: "default", name: "w1" });
    assert.deepEqual(await runCheck(widget, ctx), { status: "fail", detail: "the API server does not serve Widget (example.faultline.dev/v1): is its CRD installed?" });
    h.api.store.create("customresourcedefinitions.apiextensions.k8s.io", parseYaml(readFileSync(`${FIXTURES}/crd-widget.yaml`, "utf8")) as KObject);
    assert.deepEqual(await runCheck(widget, ctx), { status: "fail", detail: "Widget w1 not found in default" });
    await harnessKube(h).objects.create({ apiVersion: "example.faultline.dev/v1", kind: "Widget", metadata: { name: "w1", namespace: "default" }, spec: { size: 3 } } as never);
    assert.equal((await runCheck(widget, ctx)).status, "pass");
  });

  it("objects the evaluator's watch holds are read from there, not from the API server", async () => {
    const watched = fakeContext({
      watched: { get: (_v, kind, ns, name) => (kind === "ConfigMap" && ns === "default" ? (name === "cached" ? { metadata: { name, namespace: ns }, data: { x: "1" } } : null) : undefined) },
    });
    assert.deepEqual(await runCheck(kube({ apiVersion: "v1", kind: "ConfigMap", namespace: "default", name: "cached", match: { data: { x: "1" } } }), watched), {
      status: "pass",
      detail: "ConfigMap default/cached: exists and matches",
    });
    assert.deepEqual(await runCheck(kube({ apiVersion: "v1", kind: "ConfigMap", namespace: "default", name: "app-config" }), watched), {
      status: "fail",
      detail: "ConfigMap app-config not found in default",
    });
  });
});

describe("kube check: an API server that cannot answer is 'could not check'", () => {
  it("refused: the system error is named", async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const h = await startHarness();
    const conf = h.api.kubeconfig(`https://127.0.0.1:${port}`);
    await h.close();
    const ctx = fakeContext({ kube: (() => { const k = kubeHandleFromString(conf); return () => k; })() });
    assert.deepEqual(await runCheck(kube({ apiVersion: "v1", kind: "ConfigMap", namespace: "default", name: "x" }), ctx), {
      status: "error",
      detail: "could not check: API server unreachable (ECONNREFUSED)",
    });
  });

  it("silent: a server that accepts and never answers runs into the check's 5 s limit", { timeout: 15_000 }, async () => {
    const held: Array<{ destroy(): void }> = [];
    const silent: Server = createServer((sock) => void held.push(sock));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const h = await startHarness();
    const conf = h.api.kubeconfig(`https://127.0.0.1:${(silent.address() as AddressInfo).port}`);
    await h.close();
    const handle = kubeHandleFromString(conf);
    const started = Date.now();
    const r = await runCheck(kube({ apiVersion: "v1", kind: "ConfigMap", namespace: "default", name: "x" }), fakeContext({ kube: () => handle }));
    assert.deepEqual(r, { status: "error", detail: "could not check: no answer within 5 s" });
    assert.ok(Date.now() - started < 6000);
    for (const s of held) s.destroy();
    silent.close();
  });
});
