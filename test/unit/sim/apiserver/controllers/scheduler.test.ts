import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { fitErrorMessage, parseQuantity, taintReason } from "../../../../../server/sim/apiserver/controllers/scheduler.js";
import type { KObject } from "../../../../../server/sim/apiserver/objects.js";
import { startHarness } from "../harness.js";
import { cluster, eventsFor, messages } from "./helpers.js";

function pod(name: string, spec: Record<string, unknown> = {}): KObject {
  return { apiVersion: "v1", kind: "Pod", metadata: { name, namespace: "default" }, spec: { containers: [{ name: "c", image: "busybox:1.36" }], ...spec } };
}

const nodeName = (p: KObject) => (p.spec as { nodeName?: string }).nodeName;
const scheduled = (p: KObject) => ((p.status as { conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> }).conditions ?? []).find((c) => c.type === "PodScheduled");

describe("scheduler", () => {
  it("binds a new pod to a worker with the fewest pods, never the tainted control plane, with PodScheduled and a Scheduled event", async () => {
    const c = await cluster();
    try {
      c.store.create("pods", pod("a"));
      await c.settled();
      const a = c.store.get("pods", "default", "a");
      // worker-1..4 and 6 run five pods each, worker-5 six: the tie goes to the first name
      assert.equal(nodeName(a), "worker-1");
      assert.deepEqual({ ...scheduled(a), lastTransitionTime: "x" }, { type: "PodScheduled", status: "True", lastProbeTime: null, lastTransitionTime: "x" });
      const [ev] = eventsFor(c.store, "default", "a");
      assert.equal(ev?.reason, "Scheduled");
      assert.equal(ev?.message, "Successfully assigned default/a to worker-1");
      assert.equal(ev?.type, "Normal");
      assert.equal(ev?.action, "Binding");
      assert.equal(ev?.reportingComponent, "default-scheduler");
      assert.equal(ev?.reportingInstance, "default-scheduler-cp-1");
      assert.match(String(ev?.eventTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      assert.equal(ev?.firstTimestamp, null);

      for (const n of ["b", "c", "d", "e", "f"]) c.store.create("pods", pod(n));
      await c.settled();
      const placed = ["b", "c", "d", "e", "f"].map((n) => nodeName(c.store.get("pods", "default", n)));
      // each goes where the fewest pods are; once all workers but worker-5 are level, the name decides
      assert.deepEqual(placed, ["worker-2", "worker-3", "worker-4", "worker-6", "worker-1"]);
    } finally {
      c.stop();
    }
  });

  it("places a pod that tolerates the control-plane taints and selects the control plane there", async () => {
    const c = await cluster({ only: ["scheduler"] });
    try {
      c.store.create(
        "pods",
        pod("on-cp", {
          nodeSelector: { "node-role.kubernetes.io/control-plane": "" },
          tolerations: [
            { key: "node-role.kubernetes.io/master", operator: "Exists", effect: "NoSchedule" },
            { key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" },
          ],
        }),
      );
      await c.settled();
      assert.equal(nodeName(c.store.get("pods", "default", "on-cp")), "cp-1");
    } finally {
      c.stop();
    }
  });

  it("leaves pods with a nodeName or another schedulerName alone", async () => {
    const c = await cluster({ only: ["scheduler"] });
    try {
      c.store.create("pods", pod("pinned", { nodeName: "worker-4" }));
      c.store.create("pods", pod("other", { schedulerName: "my-scheduler" }));
      await c.settled();
      assert.equal(nodeName(c.store.get("pods", "default", "pinned")), "worker-4");
      assert.equal(nodeName(c.store.get("pods", "default", "other")), undefined);
      assert.equal(scheduled(c.store.get("pods", "default", "other")), undefined);
      assert.deepEqual(eventsFor(c.store, "default", "other"), []);
    } finally {
      c.stop();
    }
  });

  it("reports an unschedulable pod with the scheduler's words and places it once a node matches", async () => {
    const c = await cluster({ only: ["scheduler"] });
    try {
      c.store.create("pods", pod("picky", { nodeSelector: { disktype: "ssd" } }));
      await c.settled();
      const msg =
        "0/7 nodes are available: 1 node(s) had taint {node-role.kubernetes.io/master: }, that the pod didn't tolerate, 6 node(s) didn't match Pod's node affinity/selector. preemption: 0/7 nodes are available: 7 Preemption is not helpful for scheduling.";
      const p = c.store.get("pods", "default", "picky");
      assert.equal(nodeName(p), undefined);
      assert.deepEqual({ ...scheduled(p), lastTransitionTime: "x" }, { type: "PodScheduled", status: "False", lastProbeTime: null, lastTransitionTime: "x", reason: "Unschedulable", message: msg });
      const failed = eventsFor(c.store, "default", "picky").filter((e) => e.reason === "FailedScheduling");
      assert.equal(failed.length, 1);
      assert.equal(failed[0]!.type, "Warning");
      assert.equal(failed[0]!.message, msg);
      assert.equal(failed[0]!.action, "Scheduling");

      // an unrelated node change that does not help: tried again, same event counted as a series
      const w2 = c.store.get("nodes", undefined, "worker-2");
      c.store.update("nodes", { ...w2, metadata: { ...w2.metadata, labels: { ...w2.metadata.labels, zone: "a" } } });
      await c.settled();
      const again = eventsFor(c.store, "default", "picky").filter((e) => e.reason === "FailedScheduling");
      assert.equal(again.length, 1);
      assert.equal((again[0]!.series as { count: number }).count, 2);

      const w4 = c.store.get("nodes", undefined, "worker-4");
      c.store.update("nodes", { ...w4, metadata: { ...w4.metadata, labels: { ...w4.metadata.labels, disktype: "ssd" } } });
      await c.settled();
      const placed = c.store.get("pods", "default", "picky");
      assert.equal(nodeName(placed), "worker-4");
      assert.equal(scheduled(placed)?.status, "True");
      assert.equal(scheduled(placed)?.reason, undefined);
      assert.deepEqual(messages(eventsFor(c.store, "default", "picky"), "Scheduled"), ["Successfully assigned default/picky to worker-4"]);
    } finally {
      c.stop();
    }
  });

  it("names cordoned nodes, host-port clashes and missing cpu, and says when preemption could not help", async () => {
    const c = await cluster({ only: ["scheduler"] });
    try {
      for (const n of ["worker-1", "worker-2", "worker-3"]) {
        const node = c.store.get("nodes", undefined, n);
        c.store.update("nodes", { ...node, spec: { ...(node.spec as object), unschedulable: true } });
      }
      // nodelocaldns holds host port 53/UDP on every node
      c.store.create("pods", pod("dns", { containers: [{ name: "c", image: "x", ports: [{ containerPort: 53, hostPort: 53, protocol: "UDP" }] }] }));
      c.store.create("pods", pod("big", { containers: [{ name: "c", image: "x", resources: { requests: { cpu: "3" } } }] }));
      await c.settled();
      const dns = scheduled(c.store.get("pods", "default", "dns"));
      assert.equal(
        dns?.message,
        "0/7 nodes are available: 1 node(s) had taint {node-role.kubernetes.io/master: }, that the pod didn't tolerate, 3 node(s) didn't have free ports for the requested pod ports, 3 node(s) were unschedulable. preemption: 0/7 nodes are available: 3 No preemption victims found for incoming pod, 4 Preemption is not helpful for scheduling.",
      );
      assert.match(String(scheduled(c.store.get("pods", "default", "big"))?.message), /, 3 Insufficient cpu, 3 node\(s\) were unschedulable\. preemption: 0\/7 nodes are available: 3 No preemption victims found for incoming pod, 4 Preemption is not helpful for scheduling\.$/);
    } finally {
      c.stop();
    }
  });

  it("words the taint reason as the cluster's version does", () => {
    const taint = { key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" };
    assert.equal(taintReason(taint, "v1.24.6"), "node(s) had taint {node-role.kubernetes.io/control-plane: }, that the pod didn't tolerate");
    assert.equal(taintReason(taint, "v1.26.1"), "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }");
    assert.equal(fitErrorMessage([]), "no nodes available to schedule pods");
    assert.equal(parseQuantity("150m"), 0.15);
    assert.equal(parseQuantity("64Mi"), 64 * 2 ** 20);
    assert.equal(parseQuantity("1G"), 1e9);
  });
});

describe("pods/binding and pods/status over HTTP", () => {
  let h: Awaited<ReturnType<typeof startHarness>>;
  after(async () => h?.close());

  it("binds with POST .../binding (201 Success, then 409 once bound) and takes PATCH/PUT .../status", async () => {
    h = await startHarness();
    h.api.store.create("pods", pod("manual", { schedulerName: "none" }));
    const bind = (node: string) => h.call("POST", "/api/v1/namespaces/default/pods/manual/binding", { body: JSON.stringify({ apiVersion: "v1", kind: "Binding", metadata: { name: "manual" }, target: { apiVersion: "v1", kind: "Node", name: node } }) });
    const first = await bind("worker-6");
    assert.equal(first.code, 201);
    assert.deepEqual(first.json(), { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", code: 201 });
    const bound = h.api.store.get("pods", "default", "manual");
    assert.equal(nodeName(bound), "worker-6");
    assert.equal(scheduled(bound)?.status, "True");
    const second = await bind("worker-5");
    assert.equal(second.code, 409);
    assert.equal(second.json().message, 'Operation cannot be fulfilled on pods/binding "manual": pod manual is already assigned to node "worker-6"');
    const missing = await h.call("POST", "/api/v1/namespaces/default/pods/nope/binding", { body: JSON.stringify({ target: { name: "worker-1" } }) });
    assert.equal(missing.code, 404);

    const patched = await h.call("PATCH", "/api/v1/namespaces/default/pods/manual/status", { body: JSON.stringify({ status: { phase: "Running", podIP: "10.233.66.140" } }), headers: { "content-type": "application/merge-patch+json" } });
    assert.equal(patched.code, 200);
    assert.equal(patched.json().status.podIP, "10.233.66.140");
    assert.equal(patched.json().spec.nodeName, "worker-6");
    const current = h.api.store.get("pods", "default", "manual");
    const put = await h.call("PUT", "/api/v1/namespaces/default/pods/manual/status", { body: JSON.stringify({ ...current, spec: { ...(current.spec as object), nodeName: "worker-1" }, status: { ...(current.status as object), phase: "Succeeded" } }) });
    assert.equal(put.code, 200);
    // a status write changes only the status
    assert.equal(put.json().status.phase, "Succeeded");
    assert.equal(put.json().spec.nodeName, "worker-6");
  });
});
