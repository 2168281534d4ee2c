import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KObject } from "../../../../server/sim/apiserver/objects.js";
import { parseFieldSelector, parseLabelSelector } from "../../../../server/sim/apiserver/selectors.js";
import { mustResourceType } from "../../../../server/sim/apiserver/resources.js";
import { Store } from "../../../../server/sim/apiserver/store.js";
import { cm, ns, statusOf } from "./fixtures.js";

function storeWith(...namespaces: string[]): Store {
  const s = new Store({ serviceCidr: "10.233.0.0/18" });
  for (const n of namespaces) s.create("namespaces", ns(n));
  return s;
}

describe("Store: create and get", () => {
  it("assigns uid, creationTimestamp and resourceVersion from one global counter", () => {
    const s = storeWith("default");
    const a = s.create("configmaps", cm("default", "a"));
    const b = s.create("cm", cm("default", "b"));
    assert.match(a.metadata.uid!, /^[0-9a-f-]{36}$/);
    assert.notEqual(a.metadata.uid, b.metadata.uid);
    assert.match(String(a.metadata.creationTimestamp), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(Number(b.metadata.resourceVersion), Number(a.metadata.resourceVersion) + 1);
    assert.equal(s.resourceVersion(), b.metadata.resourceVersion);
    assert.deepEqual(s.get("configmaps", "default", "a"), a);
  });

  it("gives the real NotFound and AlreadyExists texts, group-qualified outside the core group", () => {
    const s = storeWith("default");
    assert.deepEqual(statusOf(() => s.get("pods", "default", "nope")), { code: 404, reason: "NotFound", message: 'pods "nope" not found' });
    assert.deepEqual(statusOf(() => s.get("deploy", "default", "web")), { code: 404, reason: "NotFound", message: 'deployments.apps "web" not found' });
    s.create("configmaps", cm("default", "c"));
    assert.deepEqual(statusOf(() => s.create("configmaps", cm("default", "c"))), { code: 409, reason: "AlreadyExists", message: 'configmaps "c" already exists' });
  });

  it("refuses namespaced objects in a namespace that does not exist", () => {
    const s = storeWith();
    assert.deepEqual(statusOf(() => s.create("configmaps", cm("ghost", "c"))), { code: 404, reason: "NotFound", message: 'namespaces "ghost" not found' });
  });

  it("validates names with the apimachinery wording (422 Invalid)", () => {
    const s = storeWith("default");
    const st = statusOf(() => s.create("namespaces", ns("Bad_Name")));
    assert.equal(st.code, 422);
    assert.equal(st.reason, "Invalid");
    assert.match(st.message!, /^Namespace "Bad_Name" is invalid: metadata\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 label must consist of/);
    assert.match(statusOf(() => s.create("configmaps", { apiVersion: "v1", kind: "ConfigMap", metadata: { namespace: "default" } })).message!, /metadata\.name: Required value: name or generateName is required/);
  });

  it("names from generateName get a 5-character suffix", () => {
    const s = storeWith("default");
    const o = s.create("configmaps", { apiVersion: "v1", kind: "ConfigMap", metadata: { generateName: "gen-", namespace: "default" } });
    assert.match(o.metadata.name!, /^gen-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  });

  it("applies create strategies: namespace label and phase, service ClusterIP from the service CIDR", () => {
    const s = storeWith("default");
    const n = s.get("namespaces", undefined, "default");
    assert.equal(n.metadata.labels?.["kubernetes.io/metadata.name"], "default");
    assert.deepEqual(n.status, { phase: "Active" });
    const svc = s.create("services", { apiVersion: "v1", kind: "Service", metadata: { name: "web", namespace: "default" }, spec: { ports: [{ port: 80 }] } });
    const spec = svc.spec as { clusterIP: string; type: string; ports: Array<Record<string, unknown>> };
    assert.match(spec.clusterIP, /^10\.233\.\d+\.\d+$/);
    assert.equal(spec.type, "ClusterIP");
    assert.deepEqual(spec.ports[0], { port: 80, protocol: "TCP", targetPort: 80 });
  });

  it("hands out copies: mutating a returned object does not change the store", () => {
    const s = storeWith("default");
    const o = s.create("configmaps", cm("default", "c", { a: "1" }));
    (o.data as Record<string, string>).a = "2";
    assert.equal((s.get("configmaps", "default", "c").data as Record<string, string>).a, "1");
  });
});

describe("Store: update", () => {
  it("rejects a stale resourceVersion with the real Conflict text", () => {
    const s = storeWith("default");
    const o = s.create("configmaps", cm("default", "c", { a: "1" }));
    s.update("configmaps", { ...o, data: { a: "2" } });
    const st = statusOf(() => s.update("configmaps", { ...o, data: { a: "3" } }));
    assert.deepEqual(st, {
      code: 409,
      reason: "Conflict",
      message: 'Operation cannot be fulfilled on configmaps "c": the object has been modified; please apply your changes to the latest version and try again',
    });
  });

  it("allows an unconditional update (no resourceVersion) and keeps server-owned metadata", () => {
    const s = storeWith("default");
    const o = s.create("configmaps", cm("default", "c"));
    const u = s.update("configmaps", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: "default", uid: o.metadata.uid! }, data: { x: "y" } });
    assert.equal(u.metadata.uid, o.metadata.uid);
    assert.equal(u.metadata.creationTimestamp, o.metadata.creationTimestamp);
    assert.ok(Number(u.metadata.resourceVersion) > Number(o.metadata.resourceVersion));
  });

  it("counts generation only on spec changes, and not for label edits", () => {
    const s = storeWith("default");
    const d: KObject = { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web", namespace: "default" }, spec: { replicas: 1, selector: { matchLabels: { app: "web" } }, template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "c", image: "nginx" }] } } } };
    const v1 = s.create("deployments", d);
    assert.equal(v1.metadata.generation, 1);
    const v2 = s.update("deployments", { ...v1, metadata: { ...v1.metadata, labels: { x: "y" } } });
    assert.equal(v2.metadata.generation, 1);
    const v3 = s.update("deployments", { ...v2, spec: { ...(v2.spec as object), replicas: 3 } });
    assert.equal(v3.metadata.generation, 2);
  });

  it("ignores status on the main resource and spec on /status for types with a status subresource", () => {
    const s = storeWith("default");
    const p = s.create("pods", { apiVersion: "v1", kind: "Pod", metadata: { name: "p", namespace: "default" }, spec: { containers: [{ name: "c", image: "nginx" }] } });
    const u = s.update("pods", { ...p, status: { phase: "Running" } });
    assert.equal((u.status as { phase: string }).phase, "Pending");
    const st = s.update("pods", { ...u, spec: { containers: [] }, status: { phase: "Running" } }, { subresource: "status" });
    assert.equal((st.status as { phase: string }).phase, "Running");
    assert.equal((st.spec as { containers: unknown[] }).containers.length, 1);
  });

  it("treats an identical update as a no-op: same resourceVersion, no event", () => {
    const s = storeWith("default");
    const o = s.create("configmaps", cm("default", "c", { a: "1" }));
    const events: string[] = [];
    s.subscribe((e) => events.push(e.type));
    const u = s.update("configmaps", o);
    assert.equal(u.metadata.resourceVersion, o.metadata.resourceVersion);
    assert.deepEqual(events, []);
  });

  it("creates on update only for types that allow it", () => {
    const s = storeWith("default");
    assert.equal(statusOf(() => s.update("configmaps", cm("default", "ghost"))).code, 404);
    const ep = s.update("endpoints", { apiVersion: "v1", kind: "Endpoints", metadata: { name: "e", namespace: "default" } });
    assert.ok(ep.metadata.uid);
  });
});

describe("Store: delete", () => {
  it("returns the deleted object and deletes a namespace's objects with it", () => {
    const s = storeWith("default", "team");
    s.create("configmaps", cm("team", "a"));
    s.create("configmaps", cm("default", "b"));
    const gone = s.delete("namespaces", undefined, "team");
    assert.equal(gone.metadata.name, "team");
    assert.equal(s.tryGet("configmaps", "team", "a"), undefined);
    assert.ok(s.tryGet("configmaps", "default", "b"));
    assert.equal(statusOf(() => s.delete("namespaces", undefined, "team")).message, 'namespaces "team" not found');
  });

  it("checks preconditions", () => {
    const s = storeWith("default");
    const o = s.create("configmaps", cm("default", "c"));
    const st = statusOf(() => s.delete("configmaps", "default", "c", { preconditions: { uid: "other" } }));
    assert.equal(st.code, 409);
    assert.match(st.message!, /Precondition failed: UID in precondition: other, UID in object meta: /);
    assert.equal(s.delete("configmaps", "default", "c", { preconditions: { uid: o.metadata.uid! } }).metadata.name, "c");
  });
});

describe("Store: list", () => {
  it("orders by namespace then name, filters by namespace, label and field selectors", () => {
    const s = storeWith("b", "a");
    s.create("configmaps", cm("b", "x", {}, { app: "web" }));
    s.create("configmaps", cm("a", "z", {}, { app: "db" }));
    s.create("configmaps", cm("a", "y", {}, { app: "web", tier: "front" }));
    const t = mustResourceType("configmaps");
    const names = (opts: Parameters<Store["list"]>[1]) => s.list(t, opts).items.map((o) => `${o.metadata.namespace}/${o.metadata.name}`);
    assert.deepEqual(names({}), ["a/y", "a/z", "b/x"]);
    assert.deepEqual(names({ namespace: "a" }), ["a/y", "a/z"]);
    assert.deepEqual(names({ labelSelector: parseLabelSelector("app=web") }), ["a/y", "b/x"]);
    assert.deepEqual(names({ labelSelector: parseLabelSelector("app=web,!tier") }), ["b/x"]);
    assert.deepEqual(names({ fieldSelector: parseFieldSelector("metadata.namespace!=a", t) }), ["b/x"]);
  });

  it("pages with limit and continue, reporting what remains", () => {
    const s = storeWith("default");
    for (const n of ["a", "b", "c", "d", "e"]) s.create("configmaps", cm("default", n));
    const first = s.list("configmaps", { namespace: "default", limit: 2 });
    assert.deepEqual(first.items.map((o) => o.metadata.name), ["a", "b"]);
    assert.equal(first.remainingItemCount, 3);
    const second = s.list("configmaps", { namespace: "default", limit: 2, continue: first.continue! });
    assert.deepEqual(second.items.map((o) => o.metadata.name), ["c", "d"]);
    const third = s.list("configmaps", { namespace: "default", limit: 2, continue: second.continue! });
    assert.deepEqual(third.items.map((o) => o.metadata.name), ["e"]);
    assert.equal(third.continue, undefined);
    assert.equal(statusOf(() => s.list("configmaps", { continue: "%%%" })).code, 400);
  });
});

describe("Store: watch", () => {
  it("replays from a resourceVersion, then delivers live changes in order", () => {
    const s = storeWith("default");
    const a = s.create("configmaps", cm("default", "a"));
    s.create("configmaps", cm("default", "b"));
    const seen: string[] = [];
    const stop = s.watch("configmaps", { resourceVersion: a.metadata.resourceVersion! }, (type, o) => seen.push(`${type} ${o.metadata.name}`));
    s.update("configmaps", { ...a, data: { k: "v" } });
    s.delete("configmaps", "default", "b");
    stop();
    s.create("configmaps", cm("default", "c"));
    assert.deepEqual(seen, ["ADDED b", "MODIFIED a", "DELETED b"]);
  });

  it("starts with ADDED for every object when no resourceVersion is given", () => {
    const s = storeWith("default");
    s.create("configmaps", cm("default", "a"));
    const seen: string[] = [];
    s.watch("configmaps", {}, (type, o) => seen.push(`${type} ${o.metadata.name}`))();
    assert.deepEqual(seen, ["ADDED a"]);
  });

  it("turns selector transitions into ADDED and DELETED, as the watch cache does", () => {
    const s = storeWith("default");
    const o = s.create("configmaps", cm("default", "c", {}, { app: "a" }));
    const seen: string[] = [];
    s.watch("configmaps", { resourceVersion: s.resourceVersion(), labelSelector: parseLabelSelector("app=b") }, (type) => seen.push(type));
    const u = s.update("configmaps", { ...o, metadata: { ...o.metadata, labels: { app: "b" } } });
    const v = s.update("configmaps", { ...u, data: { x: "1" } });
    s.update("configmaps", { ...v, metadata: { ...v.metadata, labels: { app: "c" } } });
    assert.deepEqual(seen, ["ADDED", "MODIFIED", "DELETED"]);
  });

  it("answers 410 Expired for a resourceVersion older than the history", () => {
    const s = new Store({ historyLimit: 3 });
    s.create("namespaces", ns("default"));
    for (const n of ["a", "b", "c", "d"]) s.create("configmaps", cm("default", n));
    const st = statusOf(() => s.watch("configmaps", { resourceVersion: "1" }, () => {}));
    assert.equal(st.code, 410);
    assert.match(st.message!, /^too old resource version: 1 \(\d+\)$/);
    assert.equal(statusOf(() => s.watch("configmaps", { resourceVersion: "abc" }, () => {})).code, 400);
  });
});

describe("Store: finalizers (basic)", () => {
  it("a delete marks an object with finalizers and keeps it; removing the last finalizer deletes it", () => {
    const s = storeWith("default");
    s.create("configmaps", { ...cm("default", "held"), metadata: { name: "held", namespace: "default", finalizers: ["example.com/hold"] } });
    const events: string[] = [];
    s.subscribe((e) => events.push(`${e.type} ${e.object.metadata.name}`));
    const marked = s.delete("configmaps", "default", "held");
    assert.match(String(marked.metadata.deletionTimestamp), /^\d{4}-\d\d-\d\dT/);
    assert.deepEqual(s.get("configmaps", "default", "held").metadata.finalizers, ["example.com/hold"]);
    assert.equal(s.delete("configmaps", "default", "held").metadata.resourceVersion, marked.metadata.resourceVersion, "a second delete changes nothing");
    const current = s.get("configmaps", "default", "held");
    s.update("configmaps", { ...current, metadata: { ...current.metadata, finalizers: [] } });
    assert.equal(s.tryGet("configmaps", "default", "held"), undefined);
    assert.deepEqual(events, ["MODIFIED held", "DELETED held"]);
  });
});
