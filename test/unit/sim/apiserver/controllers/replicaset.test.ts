import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KObject } from "../../../../../server/sim/apiserver/objects.js";
import { cluster, eventsFor, markReady, messages } from "./helpers.js";

function replicaSet(name: string, replicas: number, extra: Record<string, unknown> = {}): KObject {
  return {
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: { name, namespace: "default" },
    spec: { replicas, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name, tier: "web" }, annotations: { note: "n" } }, spec: { containers: [{ name: "c", image: "nginx:1.25" }] } }, ...extra },
  };
}

const status = (rs: KObject) => rs.status as Record<string, number>;

describe("replicaset controller", () => {
  it("creates the missing pods from the template, owned by the ReplicaSet, with SuccessfulCreate events", async () => {
    const c = await cluster({ only: ["replicaset"] });
    try {
      const rs = c.store.create("replicasets.apps", replicaSet("web", 3));
      await c.settled();
      const pods = c.store.list("pods", { namespace: "default", labelSelector: [{ key: "app", op: "=", values: ["web"] }] }).items;
      assert.equal(pods.length, 3);
      for (const p of pods) {
        assert.match(p.metadata.name!, /^web-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
        assert.equal(p.metadata.generateName, "web-");
        assert.deepEqual(p.metadata.labels, { app: "web", tier: "web" });
        assert.deepEqual(p.metadata.annotations, { note: "n" });
        assert.deepEqual(p.metadata.ownerReferences, [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: "web", uid: rs.metadata.uid, controller: true, blockOwnerDeletion: true }]);
        // created through the API: the pod defaults apply, and it waits for a scheduler and a kubelet
        assert.equal((p.status as { phase: string }).phase, "Pending");
        assert.equal((p.spec as { restartPolicy: string }).restartPolicy, "Always");
      }
      const events = eventsFor(c.store, "default", "web");
      assert.deepEqual(messages(events, "SuccessfulCreate").sort(), pods.map((p) => `Created pod: ${p.metadata.name}`).sort());
      assert.deepEqual(events[0]!.source, { component: "replicaset-controller" });
      assert.equal(events[0]!.count, 1);
      assert.deepEqual(status(c.store.get("replicasets.apps", "default", "web")), { replicas: 3, fullyLabeledReplicas: 3, observedGeneration: 1 });

      markReady(c.store, pods[0]!, "10.233.66.200");
      await c.settled();
      assert.deepEqual(status(c.store.get("replicasets.apps", "default", "web")), { replicas: 3, fullyLabeledReplicas: 3, readyReplicas: 1, availableReplicas: 1, observedGeneration: 1 });
    } finally {
      c.stop();
    }
  });

  it("deletes the surplus, unscheduled and not-ready pods first, with SuccessfulDelete events", async () => {
    const c = await cluster({ only: ["replicaset", "scheduler"] });
    try {
      c.store.create("replicasets.apps", replicaSet("web", 3));
      await c.settled();
      const [a, b] = c.store.list("pods", { namespace: "default", labelSelector: [{ key: "app", op: "=", values: ["web"] }] }).items;
      markReady(c.store, a!, "10.233.66.201");
      markReady(c.store, b!, "10.233.66.202");
      await c.settled();
      const rs = c.store.get("replicasets.apps", "default", "web");
      c.store.update("replicasets.apps", { ...rs, spec: { ...(rs.spec as object), replicas: 2 } });
      await c.settled();
      const left = c.store.list("pods", { namespace: "default", labelSelector: [{ key: "app", op: "=", values: ["web"] }] }).items.map((p) => p.metadata.name).sort();
      assert.deepEqual(left, [a!.metadata.name, b!.metadata.name].sort());
      const deleted = messages(eventsFor(c.store, "default", "web"), "SuccessfulDelete");
      assert.equal(deleted.length, 1);
      assert.match(deleted[0]!, /^Deleted pod: web-\w{5}$/);
      const after = c.store.get("replicasets.apps", "default", "web");
      assert.deepEqual(status(after), { replicas: 2, fullyLabeledReplicas: 2, readyReplicas: 2, availableReplicas: 2, observedGeneration: 2 });
    } finally {
      c.stop();
    }
  });

  it("adopts a matching orphan instead of creating a pod, and releases a pod whose labels stop matching", async () => {
    const c = await cluster({ only: ["replicaset"] });
    try {
      c.store.create("pods", { apiVersion: "v1", kind: "Pod", metadata: { name: "stray", namespace: "default", labels: { app: "web" } }, spec: { containers: [{ name: "c", image: "nginx" }] } });
      const rs = c.store.create("replicasets.apps", replicaSet("web", 1));
      await c.settled();
      const pods = c.store.list("pods", { namespace: "default", labelSelector: [{ key: "app", op: "=", values: ["web"] }] }).items;
      assert.deepEqual(pods.map((p) => p.metadata.name), ["stray"]);
      assert.equal(pods[0]!.metadata.ownerReferences?.[0]?.uid, rs.metadata.uid);
      // fullyLabeled counts only pods carrying every template label
      assert.deepEqual(status(c.store.get("replicasets.apps", "default", "web")), { replicas: 1, observedGeneration: 1 });

      const stray = c.store.get("pods", "default", "stray");
      c.store.update("pods", { ...stray, metadata: { ...stray.metadata, labels: { app: "debug" } } });
      await c.settled();
      assert.equal(c.store.get("pods", "default", "stray").metadata.ownerReferences, undefined);
      const replaced = c.store.list("pods", { namespace: "default", labelSelector: [{ key: "app", op: "=", values: ["web"] }] }).items;
      assert.equal(replaced.length, 1);
      assert.notEqual(replaced[0]!.metadata.name, "stray");
    } finally {
      c.stop();
    }
  });

  it("counts a pod available only after minReadySeconds", async () => {
    const c = await cluster({ only: ["replicaset"] });
    try {
      c.store.create("replicasets.apps", replicaSet("slow", 1, { minReadySeconds: 30 }));
      await c.settled();
      const [p] = c.store.list("pods", { namespace: "default", labelSelector: [{ key: "app", op: "=", values: ["slow"] }] }).items;
      markReady(c.store, p!, "10.233.66.203", c.now);
      await c.settled();
      assert.equal(status(c.store.get("replicasets.apps", "default", "slow")).availableReplicas, undefined);
      assert.equal(status(c.store.get("replicasets.apps", "default", "slow")).readyReplicas, 1);
      c.advance(31);
      const rs = c.store.get("replicasets.apps", "default", "slow");
      c.store.update("replicasets.apps", { ...rs, metadata: { ...rs.metadata, labels: { touched: "yes" } } });
      await c.settled();
      assert.equal(status(c.store.get("replicasets.apps", "default", "slow")).availableReplicas, 1);
    } finally {
      c.stop();
    }
  });
});
