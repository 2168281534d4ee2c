import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { daemonPodName } from "../../../../../server/sim/apiserver/seed/system-pods.js";
import type { KObject } from "../../../../../server/sim/apiserver/objects.js";
import type { Store } from "../../../../../server/sim/apiserver/store.js";
import { flagshipPlan } from "../fixtures.js";
import { cluster, eventsFor, markReady, messages } from "./helpers.js";

const dsPods = (store: Store, ns: string, key: string, value: string) => store.list("pods", { namespace: ns, labelSelector: [{ key, op: "=", values: [value] }] }).items;
const nodeOf = (p: KObject) => (p.spec as { nodeName?: string }).nodeName;

function daemonSet(name: string, extra: Record<string, unknown> = {}): KObject {
  return {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: { name, namespace: "default" },
    spec: { selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: "agent", image: "busybox:1.36" }], ...extra } } },
  };
}

describe("daemonset controller", () => {
  it("replaces a deleted seeded pod on its node: created with node affinity, bound by the scheduler", async () => {
    const c = await cluster();
    try {
      const gone = daemonPodName(flagshipPlan().sandbox, "kube-proxy", "worker-3");
      c.store.delete("pods", "kube-system", gone);
      await c.settled();
      const onWorker3 = dsPods(c.store, "kube-system", "k8s-app", "kube-proxy").filter((p) => nodeOf(p) === "worker-3");
      assert.equal(onWorker3.length, 1);
      const p = onWorker3[0]!;
      assert.match(p.metadata.name!, /^kube-proxy-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
      assert.notEqual(p.metadata.name, gone);
      const seededSibling = c.store.get("pods", "kube-system", daemonPodName(flagshipPlan().sandbox, "kube-proxy", "worker-2"));
      // the same revision hash and generation as the seeded pods: the controller sees them as up to date
      assert.equal(p.metadata.labels?.["controller-revision-hash"], seededSibling.metadata.labels?.["controller-revision-hash"]);
      assert.equal(p.metadata.labels?.["pod-template-generation"], "1");
      const spec = p.spec as { affinity: unknown; tolerations: Array<{ key?: string; effect?: string }> };
      assert.deepEqual(spec.affinity, { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: ["worker-3"] }] }] } } });
      for (const k of ["not-ready", "unreachable", "disk-pressure", "memory-pressure", "pid-pressure", "unschedulable", "network-unavailable"]) assert.ok(spec.tolerations.some((t) => t.key === `node.kubernetes.io/${k}`), k);
      assert.deepEqual(messages(eventsFor(c.store, "kube-system", "kube-proxy"), "SuccessfulCreate"), [`Created pod: ${p.metadata.name}`]);
      assert.deepEqual(messages(eventsFor(c.store, "kube-system", p.metadata.name!), "Scheduled"), [`Successfully assigned kube-system/${p.metadata.name} to worker-3`]);
      const st = c.store.get("daemonsets.apps", "kube-system", "kube-proxy").status as Record<string, number>;
      assert.deepEqual(st, { currentNumberScheduled: 7, numberMisscheduled: 0, desiredNumberScheduled: 7, numberReady: 6, observedGeneration: 1, updatedNumberScheduled: 7, numberAvailable: 6, numberUnavailable: 1 });

      markReady(c.store, c.store.get("pods", "kube-system", p.metadata.name!), "192.168.10.13");
      await c.settled();
      assert.deepEqual(c.store.get("daemonsets.apps", "kube-system", "kube-proxy").status, { currentNumberScheduled: 7, numberMisscheduled: 0, desiredNumberScheduled: 7, numberReady: 7, observedGeneration: 1, updatedNumberScheduled: 7, numberAvailable: 7 });
    } finally {
      c.stop();
    }
  });

  it("runs on the nodes its selector and the taints allow, follows node labels, and deletes what no longer belongs", async () => {
    const c = await cluster();
    try {
      c.store.create("daemonsets.apps", daemonSet("agent", { nodeSelector: { pool: "blue" } }));
      for (const n of ["worker-1", "worker-2", "cp-1"]) {
        const node = c.store.get("nodes", undefined, n);
        c.store.update("nodes", { ...node, metadata: { ...node.metadata, labels: { ...node.metadata.labels, pool: "blue" } } });
      }
      await c.settled();
      // cp-1 is tainted and the template does not tolerate it
      assert.deepEqual(dsPods(c.store, "default", "app", "agent").map(nodeOf).sort(), ["worker-1", "worker-2"]);
      const ds = c.store.get("daemonsets.apps", "default", "agent");
      assert.equal(ds.metadata.annotations?.["deprecated.daemonset.template.generation"], "1");
      assert.deepEqual(ds.status, { currentNumberScheduled: 2, numberMisscheduled: 0, desiredNumberScheduled: 2, numberReady: 0, observedGeneration: 1, updatedNumberScheduled: 2, numberUnavailable: 2 });

      const w2 = c.store.get("nodes", undefined, "worker-2");
      const { pool: _p, ...labels } = w2.metadata.labels!;
      c.store.update("nodes", { ...w2, metadata: { ...w2.metadata, labels } });
      await c.settled();
      assert.deepEqual(dsPods(c.store, "default", "app", "agent").map(nodeOf), ["worker-1"]);
      assert.equal(messages(eventsFor(c.store, "default", "agent"), "SuccessfulDelete").length, 1);
    } finally {
      c.stop();
    }
  });

  it("rolls a template change out one unavailable pod at a time and bumps the template generation", async () => {
    const c = await cluster();
    try {
      c.store.create("daemonsets.apps", daemonSet("roll", { tolerations: [{ operator: "Exists" }] }));
      await c.settled();
      let ip = 50;
      for (const p of dsPods(c.store, "default", "app", "roll")) markReady(c.store, p, `10.233.66.${ip++}`);
      await c.settled();
      const before = new Set(dsPods(c.store, "default", "app", "roll").map((p) => p.metadata.name));
      assert.equal(before.size, 7);
      const ds = c.store.get("daemonsets.apps", "default", "roll");
      const spec = structuredClone(ds.spec) as { template: { spec: { containers: Array<{ image: string }> } } };
      spec.template.spec.containers[0]!.image = "busybox:1.37";
      c.store.update("daemonsets.apps", { ...ds, spec });
      await c.settled();
      const after = dsPods(c.store, "default", "app", "roll");
      const replaced = after.filter((p) => !before.has(p.metadata.name));
      assert.equal(replaced.length, 1);
      assert.equal(replaced[0]!.metadata.labels?.["pod-template-generation"], "2");
      assert.equal(c.store.get("daemonsets.apps", "default", "roll").metadata.annotations?.["deprecated.daemonset.template.generation"], "2");
      // the new pod is not ready yet: the budget of one unavailable pod is spent, nothing else goes
      await c.settled();
      assert.equal(dsPods(c.store, "default", "app", "roll").filter((p) => !before.has(p.metadata.name)).length, 1);
      const st = c.store.get("daemonsets.apps", "default", "roll").status as Record<string, number>;
      assert.equal(st.updatedNumberScheduled, 1);
      markReady(c.store, replaced[0]!, "10.233.66.90");
      await c.settled();
      assert.equal(dsPods(c.store, "default", "app", "roll").filter((p) => !before.has(p.metadata.name)).length, 2);
    } finally {
      c.stop();
    }
  });
});
