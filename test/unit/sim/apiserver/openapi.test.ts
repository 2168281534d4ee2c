/**
 * OpenAPI generation from the one declaration per kind: what kubectl reads from it (GVK extensions,
 * patch types and fieldValidation on PATCH, merge keys, required fields, closed references), the v2
 * and v3 documents, custom resources' documents, and kube-openapi's HTTP behaviour (406 for protobuf,
 * hash redirects, immutable caching).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { crdObject } from "../../../../server/sim/apiserver/seed/crd-object.js";
import { kindSchemaName, openApiV2, openApiV3 } from "../../../../server/sim/apiserver/openapi/documents.js";
import { expandPackage, parseField } from "../../../../server/sim/apiserver/openapi/schema.js";
import { RESOURCE_TYPES, resourceType } from "../../../../server/sim/apiserver/resources.js";
import { Store } from "../../../../server/sim/apiserver/store.js";
import { startHarness, type Harness } from "./harness.js";

type Doc = { paths: Record<string, Record<string, any>>; components: { schemas: Record<string, any> } };

function v3(group: string, version: string, types = RESOURCE_TYPES): Doc {
  return openApiV3(types, group, version, "v1.24.6") as unknown as Doc;
}

/** Every `$ref` in a document. */
function refs(v: unknown, out: string[] = []): string[] {
  if (Array.isArray(v)) v.forEach((x) => refs(x, out));
  else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) k === "$ref" && typeof x === "string" ? out.push(x) : refs(x, out);
  return out;
}

describe("the compact schema notation", () => {
  it("expands types, lists, maps, references and patch options", () => {
    assert.deepEqual(parseField("[]Container! merge=name strategy=merge -- The containers.", "core"), {
      required: true,
      schema: { type: "array", items: { "x-faultline-ref": "io.k8s.api.core.v1.Container" }, "x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge", description: "The containers." },
    });
    assert.deepEqual(parseField("map<Quantity>", "core").schema, { type: "object", additionalProperties: { "x-faultline-ref": "io.k8s.apimachinery.pkg.api.resource.Quantity" } });
    assert.deepEqual(parseField('string default="TCP"', "core").schema, { type: "string", default: "TCP" });
    assert.deepEqual(parseField("core/PodTemplateSpec", "apps").schema, { "x-faultline-ref": "io.k8s.api.core.v1.PodTemplateSpec" });
  });

  it("refuses a malformed declaration, naming it", () => {
    assert.throws(() => parseField("string bogus=1", "core"), /unknown option "bogus"/);
    assert.throws(() => parseField("nope/Thing", "core"), /unknown package "nope"/);
    assert.throws(() => expandPackage("core", { X: { d: "", f: { a: "string merge" } } }), /bad option "merge"/);
  });
});

describe("OpenAPI v3 documents", () => {
  it("tag every built-in kind and its list with its group, version and kind", () => {
    for (const t of RESOURCE_TYPES) {
      const doc = v3(t.group, t.version);
      const s = doc.components.schemas[kindSchemaName(t)];
      assert.ok(s, kindSchemaName(t));
      assert.deepEqual(s["x-kubernetes-group-version-kind"], [{ group: t.group, kind: t.kind, version: t.version }]);
      assert.deepEqual(Object.keys(s.properties).slice(0, 3), ["apiVersion", "kind", "metadata"]);
      assert.ok(doc.components.schemas[`${kindSchemaName(t)}List`]);
    }
  });

  it("resolve every reference inside the same document", () => {
    for (const gv of [["", "v1"], ["apps", "v1"], ["apiextensions.k8s.io", "v1"], ["admissionregistration.k8s.io", "v1"]] as const) {
      const doc = v3(gv[0], gv[1]);
      for (const r of refs(doc)) assert.ok(doc.components.schemas[r.replace("#/components/schemas/", "")], `${gv.join("/")}: ${r}`);
    }
  });

  it("offer strategic merge patch and fieldValidation on PATCH, as kubectl checks before apply", () => {
    const patch = v3("apps", "v1").paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]!.patch;
    assert.deepEqual(patch["x-kubernetes-group-version-kind"], { group: "apps", kind: "Deployment", version: "v1" });
    assert.equal(patch["x-kubernetes-action"], "patch");
    assert.ok("application/strategic-merge-patch+json" in patch.requestBody.content);
    assert.ok(patch.parameters.some((p: { name: string; in: string }) => p.name === "fieldValidation" && p.in === "query"));
  });

  it("carry the merge keys kubectl computes its patches with", () => {
    const s = v3("", "v1").components.schemas;
    const podSpec = s["io.k8s.api.core.v1.PodSpec"];
    assert.equal(podSpec.properties.containers["x-kubernetes-patch-merge-key"], "name");
    assert.equal(podSpec.properties.volumes["x-kubernetes-patch-strategy"], "merge,retainKeys");
    assert.deepEqual(podSpec.required, ["containers"]);
    assert.equal(s["io.k8s.api.core.v1.Container"].properties.ports["x-kubernetes-patch-merge-key"], "containerPort");
    assert.equal(s["io.k8s.api.core.v1.ServiceSpec"].properties.ports["x-kubernetes-patch-merge-key"], "port");
    // a property with siblings wraps its reference in allOf, as kube-apiserver's v3 documents do
    assert.deepEqual(podSpec.properties.affinity.allOf, [{ $ref: "#/components/schemas/io.k8s.api.core.v1.Affinity" }]);
  });

  it("serve a custom resource from its CRD schema, with ObjectMeta and no strategic merge patch", () => {
    const store = new Store();
    store.create("customresourcedefinitions", crdObject({ group: "example.dev", kind: "Gadget", plural: "gadgets", scope: "Cluster", versions: [{ name: "v1", storage: true, description: "A gadget.", spec: { type: "object", properties: { size: { type: "integer" } } } }] }));
    const t = resourceType("gadgets", store.types.all())!;
    const doc = v3("example.dev", "v1", store.types.all());
    const s = doc.components.schemas["dev.example.v1.Gadget"];
    assert.equal(kindSchemaName(t), "dev.example.v1.Gadget");
    assert.equal(s.description, "A gadget.");
    assert.deepEqual(s.properties.metadata.allOf, [{ $ref: "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" }]);
    assert.equal(s.properties.spec.properties.size.type, "integer");
    const patch = doc.paths["/apis/example.dev/v1/gadgets/{name}"]!.patch;
    assert.deepEqual(Object.keys(patch.requestBody.content), ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"]);
    assert.equal(v3("example.dev", "v2", store.types.all()), undefined);
  });
});

describe("the OpenAPI v2 document", () => {
  it("has every kind under definitions, references resolving there, and PATCH consumes", () => {
    const doc = openApiV2(RESOURCE_TYPES, "v1.24.6") as { swagger: string; definitions: Record<string, any>; paths: Record<string, any> };
    assert.equal(doc.swagger, "2.0");
    for (const t of RESOURCE_TYPES) assert.ok(doc.definitions[kindSchemaName(t)], kindSchemaName(t));
    for (const r of refs(doc)) assert.ok(doc.definitions[r.replace("#/definitions/", "")], r);
    assert.ok(doc.paths["/api/v1/namespaces/{namespace}/pods/{name}"].patch.consumes.includes("application/strategic-merge-patch+json"));
  });
});

describe("/openapi over HTTP", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h?.close());

  it("serves v2 as JSON, and 406 with an empty body to a protobuf-only Accept as kube-openapi does", async () => {
    const json = await h.call("GET", "/openapi/v2", { headers: { accept: "application/json" } });
    assert.equal(json.code, 200);
    assert.equal(json.json().swagger, "2.0");
    const pb = await h.call("GET", "/openapi/v2", { headers: { accept: "application/com.github.proto-openapi.spec.v2@v1.0+protobuf" } });
    assert.equal(pb.code, 406);
    assert.equal(pb.text, "");
  });

  it("lists the group versions in /openapi/v3 with hashed URLs, custom groups included", async () => {
    const index = (await h.call("GET", "/openapi/v3")).json() as { paths: Record<string, { serverRelativeURL: string }> };
    assert.match(index.paths["api/v1"]!.serverRelativeURL, /^\/openapi\/v3\/api\/v1\?hash=[0-9A-F]{128}$/);
    assert.ok(index.paths["apis/apps/v1"]);
    assert.ok(index.paths["apis/metallb.io/v1beta1"], "seeded MetalLB CRDs publish their group");
    assert.ok(index.paths["apis/crd.projectcalico.org/v1"]);
  });

  it("serves a hashed document as immutable and redirects a stale hash to the current one", async () => {
    const index = (await h.call("GET", "/openapi/v3")).json() as { paths: Record<string, { serverRelativeURL: string }> };
    const url = index.paths["apis/apps/v1"]!.serverRelativeURL;
    const fresh = await h.call("GET", url);
    assert.equal(fresh.code, 200);
    assert.ok(fresh.json().components.schemas["io.k8s.api.apps.v1.Deployment"]);
    const stale = await h.call("GET", "/openapi/v3/apis/apps/v1?hash=0123");
    assert.equal(stale.code, 301);
    const plain = await h.call("GET", "/openapi/v3/apis/apps/v1");
    assert.equal(plain.code, 200);
    assert.equal((await h.call("GET", "/openapi/v3/apis/nope/v1")).code, 404);
  });

  it("publishes a CRD's group once it is created, and drops it when the CRD is deleted", async () => {
    const crd = crdObject({ group: "gadgets.example.dev", kind: "Gadget", plural: "gadgets", scope: "Namespaced", versions: [{ name: "v1alpha1", storage: true, description: "A gadget.", spec: { type: "object" } }] });
    assert.equal((await h.call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", { body: JSON.stringify(crd) })).code, 201);
    assert.equal((await h.call("GET", "/openapi/v3/apis/gadgets.example.dev/v1alpha1")).code, 200);
    assert.equal((await h.call("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.gadgets.example.dev")).code, 200);
    assert.equal((await h.call("GET", "/openapi/v3/apis/gadgets.example.dev/v1alpha1")).code, 404);
  });
});
