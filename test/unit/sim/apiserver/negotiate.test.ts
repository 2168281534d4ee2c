import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { aggregatedDiscovery, apiGroupList, resourceList, versionInfo } from "../../../../server/sim/apiserver/discovery.js";
import { contentTypeOf, negotiate } from "../../../../server/sim/apiserver/negotiate.js";
import { RESOURCE_TYPES, resourceType } from "../../../../server/sim/apiserver/resources.js";
import { statusOf } from "./fixtures.js";

/** The Accept headers kubectl v1.32 sends, copied from `kubectl -v=8`. */
const KUBECTL_GET = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
const KUBECTL_DISCOVERY = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";

describe("negotiate", () => {
  it("gives kubectl get a v1 Table, and plain JSON where transforms are not offered", () => {
    assert.deepEqual(negotiate(KUBECTL_GET, { transforms: true }), { as: "Table", version: "v1", format: "json" });
    assert.deepEqual(negotiate(KUBECTL_GET, {}), { as: "object", format: "json" });
  });

  it("serves aggregated discovery only where enabled, falling back to the plain JSON entry", () => {
    const agg = negotiate(KUBECTL_DISCOVERY, { aggregatedDiscovery: true });
    assert.deepEqual(agg, { as: "APIGroupDiscoveryList", version: "v2", format: "json" });
    assert.equal(contentTypeOf(agg), "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList");
    assert.deepEqual(negotiate(KUBECTL_DISCOVERY, { aggregatedDiscovery: false }), { as: "object", format: "json" });
  });

  it("prefers JSON for typed clients that list protobuf first, and 406 when nothing is servable", () => {
    assert.deepEqual(negotiate("application/vnd.kubernetes.protobuf,application/json", { transforms: true }), { as: "object", format: "json" });
    assert.deepEqual(negotiate(undefined), { as: "object", format: "json" });
    assert.deepEqual(negotiate("application/yaml"), { as: "object", format: "yaml" });
    assert.equal(statusOf(() => negotiate("application/vnd.kubernetes.protobuf")).code, 406);
    assert.equal(statusOf(() => negotiate("text/html")).code, 406);
  });
});

describe("registry and discovery", () => {
  it("resolves names the way kubectl's RESTMapper does", () => {
    for (const n of ["po", "pod", "pods", "Pod", "svc", "deploy", "deployments.apps", "netpol", "crd", "ns", "ep", "cm", "sa", "ev", "ds", "rs"]) assert.ok(resourceType(n), n);
    assert.equal(resourceType("deployments.networking.k8s.io"), undefined);
    assert.equal(resourceType("bogus"), undefined);
  });

  it("lists every registered type in plain and aggregated discovery with the same facts", () => {
    const agg = [...(aggregatedDiscovery(true, "v2").items as Array<{ versions: Array<{ resources: unknown[] }> }>), ...(aggregatedDiscovery(false, "v2").items as Array<{ versions: Array<{ resources: unknown[] }> }>)];
    const fromAgg = agg.flatMap((g) => g.versions.flatMap((v) => v.resources as Array<{ resource: string; shortNames?: string[]; scope: string }>));
    assert.equal(fromAgg.length, RESOURCE_TYPES.length);
    for (const t of RESOURCE_TYPES) {
      const a = fromAgg.find((r) => r.resource === t.plural)!;
      assert.equal(a.scope, t.namespaced ? "Namespaced" : "Cluster");
      assert.deepEqual(a.shortNames ?? [], t.shortNames);
      const plain = resourceList(t.group, t.version)!.resources as Array<{ name: string; namespaced: boolean }>;
      assert.equal(plain.find((r) => r.name === t.plural)?.namespaced, t.namespaced);
    }
    const groups = (apiGroupList().groups as Array<{ name: string }>).map((g) => g.name);
    assert.deepEqual(groups, ["apps", "networking.k8s.io", "admissionregistration.k8s.io", "apiextensions.k8s.io", "coordination.k8s.io", "discovery.k8s.io"]);
    assert.equal(resourceList("apps", "v2"), undefined);
  });

  it("reports the flagship's kube_version in /version", () => {
    const v = versionInfo("v1.24.6");
    assert.equal(v.gitVersion, "v1.24.6");
    assert.equal(v.major, "1");
    assert.equal(v.minor, "24");
  });
});
