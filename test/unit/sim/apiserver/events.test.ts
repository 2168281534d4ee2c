import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KObject } from "../../../../server/sim/apiserver/objects.js";
import { seedFromPlan } from "../../../../server/sim/apiserver/seed.js";
import { parseFieldSelector } from "../../../../server/sim/apiserver/selectors.js";
import { Store } from "../../../../server/sim/apiserver/store.js";
import { mustResourceType } from "../../../../server/sim/apiserver/resources.js";
import { flagshipPlan } from "./fixtures.js";

function seeded() {
  const plan = flagshipPlan();
  const store = new Store({ serviceCidr: plan.serviceCidr });
  seedFromPlan(store, plan, { kubeVersion: "v1.24.6", caCert: "PEM", createdAt: new Date("2024-05-01T12:00:00Z") });
  return { plan, store };
}

type Ev = KObject & { reason: string; message: string; type: string; involvedObject: Record<string, string>; source: { component?: string; host?: string }; reportingComponent?: string };
const events = (store: Store, selector: string, namespace?: string) =>
  store.list("events", { ...(namespace ? { namespace } : {}), fieldSelector: parseFieldSelector(selector, mustResourceType("events")) }).items as Ev[];

describe("start-up events", () => {
  it("answer kubectl describe's field selector for a pod: Scheduled, Pulled, Created, Started", () => {
    const { store } = seeded();
    const pod = store.get("pods", "default", "netshoot");
    const got = events(store, `involvedObject.name=netshoot,involvedObject.namespace=default,involvedObject.kind=Pod,involvedObject.uid=${pod.metadata.uid}`, "default");
    assert.deepEqual(got.map((e) => e.reason), ["Scheduled", "Pulled", "Created", "Started"]);
    const [scheduled, pulled, created, started] = got as [Ev, Ev, Ev, Ev];
    assert.equal(scheduled.message, "Successfully assigned default/netshoot to worker-6");
    assert.equal(scheduled.reportingComponent, "default-scheduler");
    assert.equal(pulled.message, 'Container image "nicolaka/netshoot:v0.8" already present on machine');
    assert.equal(created.message, "Created container netshoot");
    assert.equal(started.message, "Started container netshoot");
    for (const e of [pulled, created, started]) {
      assert.deepEqual(e.source, { component: "kubelet", host: "worker-6" });
      assert.equal(e.involvedObject.fieldPath, "spec.containers{netshoot}");
    }
    for (const e of got) {
      assert.equal(e.type, "Normal");
      assert.equal(e.metadata.namespace, "default");
      assert.equal(e.involvedObject.apiVersion, "v1");
      assert.equal(e.involvedObject.uid, pod.metadata.uid);
      assert.match(e.metadata.name!, /^netshoot\.[0-9a-f]+$/);
    }
  });

  it("are recorded for every lab pod, and only lab pods", () => {
    const { plan, store } = seeded();
    for (const p of plan.pods) {
      const got = events(store, `involvedObject.kind=Pod,involvedObject.name=${p.name}`, p.namespace);
      assert.deepEqual(got.map((e) => e.reason), ["Scheduled", "Pulled", "Created", "Started"], `${p.namespace}/${p.name}`);
    }
    const podEvents = events(store, "involvedObject.kind=Pod");
    assert.equal(podEvents.length, plan.pods.length * 4);
  });

  it("have the kubelet's node events with the node name as uid, as kubectl describe node searches", () => {
    const { plan, store } = seeded();
    for (const n of plan.nodes) {
      const got = events(store, `involvedObject.kind=Node,involvedObject.name=${n.name},involvedObject.namespace=,involvedObject.uid=${n.name}`);
      assert.deepEqual(got.map((e) => e.reason), ["Starting", "NodeHasSufficientMemory", "NodeHasNoDiskPressure", "NodeHasSufficientPID", "NodeAllocatableEnforced", "NodeReady"]);
      assert.equal(got[0]!.message, "Starting kubelet.");
      assert.equal(got[5]!.message, `Node ${n.name} status is now: NodeReady`);
      for (const e of got) {
        assert.equal(e.metadata.namespace, "default");
        assert.deepEqual(e.source, { component: "kubelet", host: n.name });
      }
    }
  });

  it("have unique names", () => {
    const { store } = seeded();
    const names = store.list("events").items.map((e) => `${e.metadata.namespace}/${e.metadata.name}`);
    assert.equal(new Set(names).size, names.length);
  });
});
