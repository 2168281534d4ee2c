/**
 * CustomResourceDefinitions: registration of their types in the store's registry (and only that
 * store's), status, pruning/defaulting/validation of custom resources, version conversion, printer
 * columns, deletion taking the custom resources along, and the same over HTTP (discovery, REST,
 * Table).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { parse as parseYaml } from "yaml";
import { validateCrd } from "../../../../server/sim/apiserver/crd.js";
import { evaluateJsonPath, parseJsonPath } from "../../../../server/sim/apiserver/jsonpath.js";
import type { KObject } from "../../../../server/sim/apiserver/objects.js";
import { compareKubeVersions } from "../../../../server/sim/apiserver/resources.js";
import { crdObject } from "../../../../server/sim/apiserver/seed/crd-object.js";
import { Store } from "../../../../server/sim/apiserver/store.js";
import { toTable } from "../../../../server/sim/apiserver/table.js";
import { FIXTURES, ns, statusOf } from "./fixtures.js";
import { startHarness, type Harness } from "./harness.js";

const CRD = "customresourcedefinitions.apiextensions.k8s.io";
const widgetCrd = () => parseYaml(readFileSync(`${FIXTURES}/crd-widget.yaml`, "utf8")) as KObject;
const widget = (name: string, spec: Record<string, unknown>): KObject => ({ apiVersion: "example.faultline.dev/v1", kind: "Widget", metadata: { name, namespace: "default" }, spec });

function storeWithWidgets(): Store {
  const store = new Store();
  store.create("namespaces", ns("default"));
  store.create(CRD, widgetCrd());
  return store;
}

describe("registering a CRD", () => {
  it("serves its type in this store's registry only, by plural, singular, short name and kind", () => {
    const store = storeWithWidgets();
    for (const n of ["widgets", "widget", "wg", "Widget", "widgets.example.faultline.dev"]) assert.equal(store.types.resolve(n)?.kind, "Widget", n);
    const t = store.types.at("example.faultline.dev", "v1", "widgets")!;
    assert.equal(t.namespaced, true);
    assert.deepEqual(t.subresources, ["status"]);
    assert.equal(new Store().types.resolve("widgets"), undefined, "another store never sees it");
  });

  it("marks the CRD Established with its accepted names and stored version", () => {
    const store = storeWithWidgets();
    const status = store.get(CRD, undefined, "widgets.example.faultline.dev").status as { conditions: Array<{ type: string; status: string; reason: string }>; acceptedNames: { kind: string; listKind: string; shortNames: string[] }; storedVersions: string[] };
    assert.deepEqual(status.conditions.map((c) => [c.type, c.status, c.reason]), [["NamesAccepted", "True", "NoConflicts"], ["Established", "True", "InitialNamesAccepted"]]);
    assert.deepEqual(status.acceptedNames, { kind: "Widget", listKind: "WidgetList", plural: "widgets", singular: "widget", shortNames: ["wg"] });
    assert.deepEqual(status.storedVersions, ["v1"]);
  });

  it("refuses an invalid CRD with apiextensions' texts", () => {
    const bad = widgetCrd();
    bad.metadata.name = "gadgets.example.faultline.dev";
    (bad.spec as { versions: Array<{ storage: boolean }> }).versions[0]!.storage = false;
    const s = statusOf(() => new Store().create(CRD, bad));
    assert.equal(s.code, 422);
    assert.match(s.message!, /metadata\.name: Invalid value: "gadgets\.example\.faultline\.dev": must be spec\.names\.plural\+"\."\+spec\.group/);
    assert.match(s.message!, /spec\.versions: Invalid value: .*must have exactly one version marked as storage version/);
    const noDot = widgetCrd();
    (noDot.spec as { group: string }).group = "example";
    assert.ok(validateCrd(noDot).some((e) => e.field === "spec.group" && e.detail === "should be a domain with at least one dot"));
  });
});

describe("custom resources", () => {
  it("are pruned of unknown fields and defaulted from the schema", () => {
    const store = storeWithWidgets();
    const w = store.create("widgets", widget("w", { size: 2, bogus: true }));
    assert.deepEqual(w.spec, { size: 2, color: "red" });
    assert.equal(w.metadata.generation, 1);
  });

  it("are validated with kube-openapi's messages", () => {
    const store = storeWithWidgets();
    assert.equal(statusOf(() => store.create("widgets", widget("a", { size: "big" }))).message, 'Widget "a" is invalid: spec.size: Invalid value: "string": spec.size in body must be of type integer: "string"');
    assert.equal(statusOf(() => store.create("widgets", widget("b", {}))).message, 'Widget "b" is invalid: spec.size: Required value');
    assert.equal(statusOf(() => store.create("widgets", widget("c", { size: 1, color: "green" }))).message, 'Widget "c" is invalid: spec.color: Unsupported value: "green": supported values: "red", "blue"');
  });

  it("keep their status through the main resource when the CRD has a status subresource", () => {
    const store = storeWithWidgets();
    const w = store.create("widgets", widget("w", { size: 2 }));
    const withStatus = store.update("widgets", { ...w, status: { ready: true } }, { subresource: "status" });
    const updated = store.update("widgets", { ...withStatus, spec: { size: 4 }, status: { ready: false } });
    assert.deepEqual(updated.status, { ready: true });
    assert.equal(updated.metadata.generation, 2);
  });

  it("read as any served version, converted by apiVersion (strategy None)", () => {
    const store = new Store();
    store.create("namespaces", ns("default"));
    const spec = { type: "object", properties: { n: { type: "integer" } } };
    store.create(CRD, crdObject({ group: "example.dev", kind: "Peer", plural: "peers", scope: "Namespaced", versions: [{ name: "v1beta1", storage: false, description: "", spec }, { name: "v1beta2", storage: true, description: "", spec }] }));
    const v2 = store.types.at("example.dev", "v1beta2", "peers")!;
    const v1 = store.types.at("example.dev", "v1beta1", "peers")!;
    store.create(v2, { apiVersion: "example.dev/v1beta2", kind: "Peer", metadata: { name: "p", namespace: "default" }, spec: { n: 1 } });
    assert.equal(store.get(v1, "default", "p").apiVersion, "example.dev/v1beta1");
    assert.equal(store.list(v2).items[0]!.apiVersion, "example.dev/v1beta2");
    assert.deepEqual(store.types.groups().find((g) => g.name === "example.dev")?.versions, ["v1beta2", "v1beta1"], "the preferred version first");
  });

  it("go with their CRD: deleted with DELETED events, then the type is gone", () => {
    const store = storeWithWidgets();
    store.create("widgets", widget("w1", { size: 1 }));
    store.create("widgets", widget("w2", { size: 2 }));
    const seen: string[] = [];
    store.watch("widgets", { resourceVersion: store.resourceVersion() }, (type, o) => seen.push(`${type} ${o.metadata.name}`));
    store.delete(CRD, undefined, "widgets.example.faultline.dev");
    assert.deepEqual(seen, ["DELETED w1", "DELETED w2"]);
    assert.equal(store.types.resolve("widgets"), undefined);
    // a new CRD of the same name starts empty
    store.create(CRD, widgetCrd());
    assert.equal(store.list("widgets").items.length, 0);
  });

  it("print their additionalPrinterColumns, with dates as ages and missing values as null", () => {
    const store = storeWithWidgets();
    const t = store.types.resolve("widgets")!;
    const w = store.create("widgets", { ...widget("w", { size: 3 }), metadata: { name: "w", namespace: "default", creationTimestamp: "2024-05-01T12:00:00Z" } }, { keepStatus: true });
    const table = toTable(t, [w, { ...w, spec: {} }], { includeObject: "None", version: "v1", now: new Date("2024-05-03T12:00:00Z") }) as { columnDefinitions: Array<{ name: string; type: string }>; rows: Array<{ cells: unknown[] }> };
    assert.deepEqual(table.columnDefinitions.map((c) => [c.name, c.type]), [["Name", "string"], ["Size", "integer"], ["Color", "string"], ["Age", "date"]]);
    assert.deepEqual(table.rows[0]!.cells, ["w", 3, "red", "2d"]);
    assert.deepEqual(table.rows[1]!.cells, ["w", null, null, "2d"]);
  });
});

describe("the JSONPath subset of printer columns", () => {
  it("walks fields and indexes, and refuses what it does not support", () => {
    const o = { spec: { addresses: ["a", "b"], "x.y": 1 } };
    assert.equal(evaluateJsonPath(o, parseJsonPath(".spec.addresses[1]")!), "b");
    assert.equal(evaluateJsonPath(o, parseJsonPath(".spec.x\\.y")!), 1);
    assert.equal(evaluateJsonPath(o, parseJsonPath(".spec.missing.deeper")!), undefined);
    assert.equal(parseJsonPath(".spec.items[*].name"), undefined);
    assert.equal(parseJsonPath("spec"), undefined);
  });

  it("orders versions as Kubernetes does: GA, beta, alpha, higher first", () => {
    assert.deepEqual(["v1alpha1", "v1beta1", "v2", "v1", "v1beta2", "foo"].sort(compareKubeVersions), ["v2", "v1", "v1beta2", "v1beta1", "v1alpha1", "foo"]);
  });
});

describe("custom resources over HTTP", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
    const r = await h.call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", { body: JSON.stringify(widgetCrd()) });
    assert.equal(r.code, 201, r.text);
  });
  after(() => h?.close());

  it("appear in plain and aggregated discovery", async () => {
    const list = (await h.call("GET", "/apis/example.faultline.dev/v1")).json() as { resources: Array<{ name: string; shortNames?: string[] }> };
    assert.deepEqual(list.resources.map((r) => r.name), ["widgets", "widgets/status"]);
    const agg = (await h.call("GET", "/apis", { headers: { accept: "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList" } })).json() as { items: Array<{ metadata: { name: string } }> };
    assert.ok(agg.items.some((g) => g.metadata.name === "example.faultline.dev"));
    assert.ok((await h.call("GET", "/apis")).json().groups.some((g: { name: string }) => g.name === "metallb.io"));
  });

  it("are created, listed as a Table, merge-patched, and refuse strategic merge patch", async () => {
    const base = "/apis/example.faultline.dev/v1/namespaces/default/widgets";
    assert.equal((await h.call("POST", base, { body: JSON.stringify(widget("w", { size: 1 })) })).code, 201);
    const table = (await h.call("GET", base, { headers: { accept: "application/json;as=Table;v=v1;g=meta.k8s.io" } })).json() as { rows: Array<{ cells: unknown[] }> };
    assert.deepEqual(table.rows[0]!.cells.slice(0, 3), ["w", 1, "red"]);
    const merged = await h.call("PATCH", `${base}/w`, { body: '{"spec":{"size":2}}', headers: { "content-type": "application/merge-patch+json" } });
    assert.equal(merged.json().spec.size, 2);
    const smp = await h.call("PATCH", `${base}/w`, { body: '{"spec":{"size":3}}', headers: { "content-type": "application/strategic-merge-patch+json" } });
    assert.equal(smp.code, 415);
    assert.equal(smp.json().message, "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json");
  });
});
