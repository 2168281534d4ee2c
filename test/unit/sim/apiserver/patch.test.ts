import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { patchSchemaFor } from "../../../../server/sim/apiserver/openapi/patch-meta.js";
import { jsonPatch, mergePatch, strategicMergePatch } from "../../../../server/sim/apiserver/patch.js";
import { mustResourceType } from "../../../../server/sim/apiserver/resources.js";
import { statusOf } from "./fixtures.js";

const pod = {
  metadata: { name: "p", labels: { a: "1", b: "2" }, finalizers: ["x"] },
  spec: {
    containers: [
      { name: "app", image: "nginx:1.25", ports: [{ containerPort: 80 }], env: [{ name: "A", value: "1" }] },
      { name: "side", image: "busybox" },
    ],
    tolerations: [{ key: "t" }],
  },
};

describe("JSON merge patch (RFC 7386)", () => {
  it("merges objects, deletes with null, replaces lists", () => {
    assert.deepEqual(mergePatch(pod, { metadata: { labels: { a: null, c: "3" } }, spec: { tolerations: [] } }), {
      metadata: { name: "p", labels: { b: "2", c: "3" }, finalizers: ["x"] },
      spec: { containers: pod.spec.containers, tolerations: [] },
    });
  });

  it("stores a __proto__ key as data, never as a prototype", () => {
    const out = mergePatch({}, JSON.parse('{"__proto__":{"polluted":true}}')) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assert.deepEqual(Object.keys(out), ["__proto__"]);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

describe("JSON patch (RFC 6902)", () => {
  it("applies add, replace, remove, move, copy and test in order", () => {
    const out = jsonPatch(pod, [
      { op: "test", path: "/metadata/name", value: "p" },
      { op: "replace", path: "/spec/containers/0/image", value: "nginx:1.26" },
      { op: "add", path: "/metadata/labels/c", value: "3" },
      { op: "remove", path: "/metadata/labels/a" },
      { op: "add", path: "/spec/tolerations/-", value: { key: "u" } },
      { op: "copy", from: "/metadata/labels/b", path: "/metadata/labels/d" },
      { op: "move", from: "/metadata/labels/c", path: "/metadata/labels/e" },
    ]) as typeof pod & { metadata: { labels: Record<string, string> } };
    assert.equal(out.spec.containers[0]!.image, "nginx:1.26");
    assert.deepEqual(out.metadata.labels, { b: "2", d: "2", e: "3" });
    assert.deepEqual(out.spec.tolerations, [{ key: "t" }, { key: "u" }]);
    assert.equal(pod.spec.containers[0]!.image, "nginx:1.25", "the input is not modified");
  });

  it("fails with BadRequest on a missing path, a failed test, or a bad document", () => {
    assert.equal(statusOf(() => jsonPatch(pod, [{ op: "remove", path: "/nope/x" }])).code, 400);
    assert.equal(statusOf(() => jsonPatch(pod, [{ op: "test", path: "/metadata/name", value: "q" }])).code, 400);
    assert.equal(statusOf(() => jsonPatch(pod, { op: "add" })).code, 400);
    assert.equal(statusOf(() => jsonPatch(pod, [{ op: "add", path: "/spec/containers/9", value: 1 }])).code, 400);
  });
});

describe("strategic merge patch", () => {
  it("merges containers by name and their ports by containerPort, keeping the others", () => {
    const out = strategicMergePatch(pod, { spec: { containers: [{ name: "app", image: "nginx:1.26", ports: [{ containerPort: 443 }] }] } }) as typeof pod;
    assert.equal(out.spec.containers.length, 2);
    assert.equal(out.spec.containers[0]!.image, "nginx:1.26");
    assert.deepEqual(out.spec.containers[0]!.ports, [{ containerPort: 80 }, { containerPort: 443 }]);
    assert.deepEqual(out.spec.containers[0]!.env, [{ name: "A", value: "1" }]);
  });

  it("honours $patch delete/replace and $deleteFromPrimitiveList; lists without a merge key are replaced", () => {
    const del = strategicMergePatch(pod, { spec: { containers: [{ name: "side", $patch: "delete" }] } }) as typeof pod;
    assert.deepEqual(del.spec.containers.map((c) => c.name), ["app"]);
    const rep = strategicMergePatch(pod, { spec: { containers: [{ name: "only", image: "x" }, { $patch: "replace" }] } }) as typeof pod;
    assert.deepEqual(rep.spec.containers, [{ name: "only", image: "x" }]);
    const fin = strategicMergePatch(pod, { metadata: { "$deleteFromPrimitiveList/finalizers": ["x"] } }) as typeof pod;
    assert.deepEqual(fin.metadata.finalizers, []);
    const tol = strategicMergePatch(pod, { spec: { tolerations: [{ key: "new" }] } }) as typeof pod;
    assert.deepEqual(tol.spec.tolerations, [{ key: "new" }]);
  });
});

describe("strategic merge patch with the merge keys of the kind's schema", () => {
  const deployment = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", finalizers: ["a"] },
    spec: {
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1 } },
      template: {
        spec: {
          containers: [{ name: "nginx", image: "nginx:1.25", ports: [{ containerPort: 80, name: "http" }], env: [{ name: "MODE", value: "blue" }], args: ["-a"] }],
          volumes: [{ name: "cache", emptyDir: {} }],
        },
      },
    },
  };
  const schema = patchSchemaFor(mustResourceType("deployments"));
  type D = typeof deployment;

  it("merges containers by name, ports by containerPort, env by name, and replaces lists without a key", () => {
    const out = strategicMergePatch(deployment, { spec: { template: { spec: { containers: [{ name: "nginx", ports: [{ containerPort: 443, name: "https" }], env: [{ name: "MODE", value: "green" }], args: ["-b"] }] } } } }, schema) as D;
    const c = out.spec.template.spec.containers[0]!;
    assert.deepEqual(c.ports, [{ containerPort: 80, name: "http" }, { containerPort: 443, name: "https" }]);
    assert.deepEqual(c.env, [{ name: "MODE", value: "green" }]);
    assert.deepEqual(c.args, ["-b"], "args has no patch strategy: replaced");
    assert.equal(c.image, "nginx:1.25");
  });

  it("orders merged lists by $setElementOrder and drops keys $retainKeys does not list", () => {
    const out = strategicMergePatch(
      deployment,
      {
        spec: {
          strategy: { $retainKeys: ["type"], type: "Recreate", rollingUpdate: null },
          template: { spec: { containers: [{ name: "nginx", env: [{ name: "TIER", value: "web" }], "$setElementOrder/env": [{ name: "TIER" }, { name: "MODE" }] }], "$setElementOrder/containers": [{ name: "nginx" }] } },
        },
      },
      schema,
    ) as D;
    assert.deepEqual(out.spec.strategy, { type: "Recreate" });
    assert.deepEqual(out.spec.template.spec.containers[0]!.env, [{ name: "TIER", value: "web" }, { name: "MODE", value: "blue" }]);
  });

  it("merges metadata lists by their declared strategy (finalizers as a set, ownerReferences by uid)", () => {
    const out = strategicMergePatch(deployment, { metadata: { finalizers: ["b", "a"], ownerReferences: [{ uid: "1", name: "x" }] } }, schema) as D & { metadata: { ownerReferences: unknown[] } };
    assert.deepEqual(out.metadata.finalizers, ["a", "b"]);
    assert.deepEqual(out.metadata.ownerReferences, [{ uid: "1", name: "x" }]);
  });

  it("follows the schema where the field-name table would guess: Endpoints ports are replaced, not merged", () => {
    const ep = { subsets: [{ addresses: [{ ip: "10.0.0.1" }], ports: [{ port: 53, name: "dns" }] }] };
    const patch = { subsets: [{ addresses: [{ ip: "10.0.0.2" }], ports: [{ port: 54, name: "dns" }] }] };
    assert.deepEqual(strategicMergePatch(ep, patch, patchSchemaFor(mustResourceType("endpoints"))), patch);
    const svc = { spec: { ports: [{ port: 80, name: "http" }] } };
    assert.deepEqual(strategicMergePatch(svc, { spec: { ports: [{ port: 443, name: "https" }] } }, patchSchemaFor(mustResourceType("services"))), { spec: { ports: [{ port: 80, name: "http" }, { port: 443, name: "https" }] } });
  });

  it("has no patch schema for custom resources (they take JSON merge patch)", () => {
    assert.equal(patchSchemaFor({ ...mustResourceType("configmaps"), custom: { crd: "x.y", columns: [], schema: undefined } }), undefined);
  });
});
