import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KObject } from "../../../../../server/sim/apiserver/objects.js";
import type { Store } from "../../../../../server/sim/apiserver/store.js";
import { cluster, deployment, eventsFor, labelled, markAllReady, messages } from "./helpers.js";

interface Cond {
  type: string;
  status: string;
  reason: string;
  message: string;
  lastUpdateTime: string;
  lastTransitionTime: string;
}

const replicaSets = (store: Store, app: string) => store.list("replicasets.apps", { namespace: "default", labelSelector: [{ key: "app", op: "=", values: [app] }] }).items;
const replicas = (o: KObject) => (o.spec as { replicas: number }).replicas;
const dstatus = (store: Store, name: string, ns = "default") => store.get("deployments.apps", ns, name).status as Record<string, unknown> & { conditions: Cond[] };
const cond = (store: Store, name: string, type: string) => dstatus(store, name).conditions.find((c) => c.type === type);
const counts = (store: Store, name: string, ns = "default") => {
  const { conditions: _c, ...rest } = dstatus(store, name, ns);
  return rest;
};

/** `kubectl set image`: a new pod template. */
function setImage(store: Store, name: string, image: string): void {
  const d = store.get("deployments.apps", "default", name);
  const spec = structuredClone(d.spec) as { template: { spec: { containers: Array<{ image: string }> } } };
  spec.template.spec.containers[0]!.image = image;
  store.update("deployments.apps", { ...d, spec });
}

/** Marks the pods Ready until nothing changes: each round lets the rollout take its next step. */
async function kubeletLoop(c: Awaited<ReturnType<typeof cluster>>, app: string, rounds = 10): Promise<void> {
  let ip = 100;
  for (let i = 0; i < rounds; i++) {
    const n = markAllReady(c.store, "default", labelled(app), ip);
    ip += n;
    await c.settled();
    if (n === 0) return;
  }
}

describe("deployment controller", () => {
  it("creates <name>-<hash> with the hash label, revision and replica annotations, and reports the rollout", async () => {
    const c = await cluster();
    try {
      const d = c.store.create("deployments.apps", deployment("web", 3));
      await c.settled();
      const [rs] = replicaSets(c.store, "web");
      assert.ok(rs);
      const hash = rs.metadata.labels?.["pod-template-hash"];
      assert.match(hash ?? "", /^[bcdfghjklmnpqrstvwxz2456789]{6,10}$/);
      assert.equal(rs.metadata.name, `web-${hash}`);
      assert.deepEqual(rs.metadata.annotations, { "deployment.kubernetes.io/revision": "1", "deployment.kubernetes.io/desired-replicas": "3", "deployment.kubernetes.io/max-replicas": "4" });
      assert.deepEqual((rs.spec as { selector: unknown }).selector, { matchLabels: { app: "web", "pod-template-hash": hash } });
      assert.deepEqual((rs.spec as { template: { metadata: { labels: unknown } } }).template.metadata.labels, { app: "web", "pod-template-hash": hash });
      assert.deepEqual(rs.metadata.ownerReferences, [{ apiVersion: "apps/v1", kind: "Deployment", name: "web", uid: d.metadata.uid, controller: true, blockOwnerDeletion: true }]);
      assert.equal(replicas(rs), 3);
      assert.equal(c.store.get("deployments.apps", "default", "web").metadata.annotations?.["deployment.kubernetes.io/revision"], "1");
      assert.deepEqual(messages(eventsFor(c.store, "default", "web"), "ScalingReplicaSet"), [`Scaled up replica set web-${hash} to 3`]);

      assert.deepEqual(counts(c.store, "web"), { observedGeneration: 1, replicas: 3, updatedReplicas: 3, unavailableReplicas: 3 });
      assert.equal(cond(c.store, "web", "Available")?.reason, "MinimumReplicasUnavailable");
      assert.equal(cond(c.store, "web", "Available")?.message, "Deployment does not have minimum availability.");
      assert.equal(cond(c.store, "web", "Progressing")?.reason, "ReplicaSetUpdated");
      assert.equal(cond(c.store, "web", "Progressing")?.message, `ReplicaSet "web-${hash}" is progressing.`);

      await kubeletLoop(c, "web");
      assert.deepEqual(counts(c.store, "web"), { observedGeneration: 1, replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3 });
      assert.deepEqual([cond(c.store, "web", "Available")?.status, cond(c.store, "web", "Available")?.reason, cond(c.store, "web", "Available")?.message], ["True", "MinimumReplicasAvailable", "Deployment has minimum availability."]);
      assert.deepEqual([cond(c.store, "web", "Progressing")?.status, cond(c.store, "web", "Progressing")?.reason, cond(c.store, "web", "Progressing")?.message], ["True", "NewReplicaSetAvailable", `ReplicaSet "web-${hash}" has successfully progressed.`]);
    } finally {
      c.stop();
    }
  });

  it("rolls a new template out within maxSurge/maxUnavailable and scales the old ReplicaSet down as new pods become available", async () => {
    const c = await cluster();
    try {
      c.store.create("deployments.apps", deployment("roll", 4));
      await c.settled();
      await kubeletLoop(c, "roll");
      const old = replicaSets(c.store, "roll")[0]!;
      setImage(c.store, "roll", "nginx:1.26");
      await c.settled();
      const fresh = replicaSets(c.store, "roll").find((rs) => rs.metadata.uid !== old.metadata.uid)!;
      assert.equal(fresh.metadata.annotations?.["deployment.kubernetes.io/revision"], "2");
      // 25% of 4: one surge pod, one unavailable allowed
      assert.equal(replicas(fresh), 2);
      assert.equal(replicas(c.store.get("replicasets.apps", "default", old.metadata.name!)), 3);
      assert.equal(c.store.get("deployments.apps", "default", "roll").metadata.annotations?.["deployment.kubernetes.io/revision"], "2");

      await kubeletLoop(c, "roll");
      assert.equal(replicas(c.store.get("replicasets.apps", "default", fresh.metadata.name!)), 4);
      assert.equal(replicas(c.store.get("replicasets.apps", "default", old.metadata.name!)), 0);
      assert.equal(c.store.list("pods", { namespace: "default", labelSelector: [{ key: "pod-template-hash", op: "=", values: [old.metadata.labels!["pod-template-hash"]!] }] }).items.length, 0);
      assert.deepEqual(counts(c.store, "roll"), { observedGeneration: 2, replicas: 4, updatedReplicas: 4, readyReplicas: 4, availableReplicas: 4 });
      assert.equal(cond(c.store, "roll", "Progressing")?.reason, "NewReplicaSetAvailable");
      const scaled = messages(eventsFor(c.store, "default", "roll"), "ScalingReplicaSet");
      assert.ok(scaled.includes(`Scaled down replica set ${old.metadata.name} to 0`));
      assert.ok(scaled.includes(`Scaled up replica set ${fresh.metadata.name} to 4`));
    } finally {
      c.stop();
    }
  });

  it("Recreate scales the old ReplicaSet to zero before the new one comes up", async () => {
    const c = await cluster();
    try {
      c.store.create("deployments.apps", deployment("rec", 2, "nginx:1.25", { strategy: { type: "Recreate" } }));
      await c.settled();
      await kubeletLoop(c, "rec");
      const old = replicaSets(c.store, "rec")[0]!;
      setImage(c.store, "rec", "nginx:1.26");
      await c.settled();
      assert.equal(replicas(c.store.get("replicasets.apps", "default", old.metadata.name!)), 0);
      const fresh = replicaSets(c.store, "rec").find((rs) => rs.metadata.uid !== old.metadata.uid)!;
      assert.equal(replicas(fresh), 2);
      const events = messages(eventsFor(c.store, "default", "rec"), "ScalingReplicaSet");
      assert.ok(events.indexOf(`Scaled down replica set ${old.metadata.name} to 0`) < events.indexOf(`Scaled up replica set ${fresh.metadata.name} to 2`));
    } finally {
      c.stop();
    }
  });

  it("scales the ReplicaSet with spec.replicas and leaves the seeded Deployments as they are", async () => {
    const c = await cluster();
    try {
      const seeded = c.store.get("deployments.apps", "kube-system", "coredns");
      const seededRs = c.store.get("replicasets.apps", "kube-system", "coredns-645b46f4b6");
      assert.equal(seeded.metadata.resourceVersion, c.store.get("deployments.apps", "kube-system", "coredns").metadata.resourceVersion);
      c.store.update("deployments.apps", { ...seeded, spec: { ...(seeded.spec as object), replicas: 1 } });
      await c.settled();
      const rs = c.store.get("replicasets.apps", "kube-system", "coredns-645b46f4b6");
      assert.equal(rs.metadata.uid, seededRs.metadata.uid);
      assert.equal(replicas(rs), 1);
      assert.equal(rs.metadata.annotations?.["deployment.kubernetes.io/desired-replicas"], "1");
      assert.equal(rs.metadata.annotations?.["deployment.kubernetes.io/max-replicas"], "2");
      assert.equal(c.store.list("pods", { namespace: "kube-system", labelSelector: [{ key: "k8s-app", op: "=", values: ["kube-dns"] }] }).items.length, 1);
      assert.deepEqual(messages(eventsFor(c.store, "kube-system", "coredns"), "ScalingReplicaSet"), ["Scaled down replica set coredns-645b46f4b6 to 1"]);
      assert.deepEqual(counts(c.store, "coredns", "kube-system"), { observedGeneration: 2, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 });
    } finally {
      c.stop();
    }
  });

  it("marks a rollout that made no progress for progressDeadlineSeconds, and a paused Deployment", async () => {
    const c = await cluster();
    try {
      c.store.create("deployments.apps", deployment("stuck", 1, "nginx:1.25", { progressDeadlineSeconds: 60 }));
      await c.settled();
      const [rs] = replicaSets(c.store, "stuck");
      c.advance(61);
      const d = c.store.get("deployments.apps", "default", "stuck");
      c.store.update("deployments.apps", { ...d, metadata: { ...d.metadata, labels: { ...d.metadata.labels, poke: "1" } } });
      await c.settled();
      assert.deepEqual([cond(c.store, "stuck", "Progressing")?.status, cond(c.store, "stuck", "Progressing")?.reason, cond(c.store, "stuck", "Progressing")?.message], ["False", "ProgressDeadlineExceeded", `ReplicaSet "${rs!.metadata.name}" has timed out progressing.`]);

      const p = c.store.get("deployments.apps", "default", "stuck");
      c.store.update("deployments.apps", { ...p, spec: { ...(p.spec as object), paused: true } });
      c.store.create("deployments.apps", deployment("paused", 1, "nginx:1.25", { paused: true }));
      await c.settled();
      // a timed-out rollout keeps saying so; a paused one says it is paused and creates nothing
      assert.equal(cond(c.store, "stuck", "Progressing")?.reason, "ProgressDeadlineExceeded");
      assert.deepEqual([cond(c.store, "paused", "Progressing")?.status, cond(c.store, "paused", "Progressing")?.reason, cond(c.store, "paused", "Progressing")?.message], ["Unknown", "DeploymentPaused", "Deployment is paused"]);
      assert.deepEqual(replicaSets(c.store, "paused"), []);
    } finally {
      c.stop();
    }
  });
});
