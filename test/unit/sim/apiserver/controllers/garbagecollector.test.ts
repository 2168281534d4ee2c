import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KObject } from "../../../../../server/sim/apiserver/objects.js";
import { cluster, deployment } from "./helpers.js";

const byApp = (app: string) => [{ key: "app", op: "=" as const, values: [app] }];

function cm(name: string, owners: KObject[]): KObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace: "default", ownerReferences: owners.map((o) => ({ apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name!, uid: o.metadata.uid! })) },
    data: {},
  };
}

describe("garbage collector", () => {
  it("deletes a Deployment's ReplicaSets and their pods with it (background propagation)", async () => {
    const c = await cluster();
    try {
      c.store.create("deployments.apps", deployment("web", 2));
      await c.settled();
      assert.equal(c.store.list("pods", { namespace: "default", labelSelector: byApp("web") }).items.length, 2);
      c.store.delete("deployments.apps", "default", "web", { propagationPolicy: "Background" });
      await c.settled();
      assert.deepEqual(c.store.list("replicasets.apps", { namespace: "default", labelSelector: byApp("web") }).items, []);
      assert.deepEqual(c.store.list("pods", { namespace: "default", labelSelector: byApp("web") }).items, []);
      // a seeded owner chain works the same: no policy means Background
      c.store.delete("deployments.apps", "default", "hello-world");
      await c.settled();
      assert.equal(c.store.tryGet("replicasets.apps", "default", "hello-world-6d4b8c7f9"), undefined);
      assert.equal(c.store.tryGet("pods", "default", "hello-world-6d4b8c7f9-abcde"), undefined);
    } finally {
      c.stop();
    }
  });

  it("orphans the pods of a ReplicaSet deleted with propagationPolicy Orphan", async () => {
    const c = await cluster({ only: ["garbagecollector", "replicaset"] });
    try {
      c.store.delete("replicasets.apps", "metallb-system", "controller-7d9cf7f8b", { propagationPolicy: "Orphan" });
      await c.settled();
      const pod = c.store.get("pods", "metallb-system", "controller-7d9cf7f8b-x2kqv");
      assert.equal(pod.metadata.ownerReferences, undefined);
      // no ReplicaSet is left to claim it: it stays an orphan
      await c.settled();
      assert.equal(c.store.get("pods", "metallb-system", "controller-7d9cf7f8b-x2kqv").metadata.ownerReferences, undefined);
    } finally {
      c.stop();
    }
  });

  it("removes a dangling reference when another owner remains, and deletes a dependent whose owner never existed", async () => {
    const c = await cluster({ only: ["garbagecollector"] });
    try {
      const a = c.store.create("configmaps", cm("owner-a", []));
      const b = c.store.create("configmaps", cm("owner-b", []));
      c.store.create("configmaps", cm("shared", [a, b]));
      c.store.delete("configmaps", "default", "owner-a");
      await c.settled();
      assert.deepEqual(c.store.get("configmaps", "default", "shared").metadata.ownerReferences?.map((r) => r.name), ["owner-b"]);
      c.store.delete("configmaps", "default", "owner-b");
      await c.settled();
      assert.equal(c.store.tryGet("configmaps", "default", "shared"), undefined);

      const ghost = { ...a, metadata: { ...a.metadata, name: "ghost", uid: "00000000-0000-0000-0000-000000000000" } };
      c.store.create("configmaps", cm("haunted", [ghost]));
      // a reference to a kind the server does not serve is left alone
      c.store.create("configmaps", { ...cm("foreign", []), metadata: { name: "foreign", namespace: "default", ownerReferences: [{ apiVersion: "example.com/v1", kind: "Thing", name: "t", uid: "1" }] } });
      await c.settled();
      assert.equal(c.store.tryGet("configmaps", "default", "haunted"), undefined);
      assert.ok(c.store.tryGet("configmaps", "default", "foreign"));
    } finally {
      c.stop();
    }
  });
});
