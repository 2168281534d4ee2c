import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createLogger } from "../../../../../server/log.js";
import { startControllers } from "../../../../../server/sim/apiserver/controllers/index.js";
import { WorkQueue } from "../../../../../server/sim/apiserver/controllers/queue.js";
import { seedFromPlan } from "../../../../../server/sim/apiserver/seed.js";
import { Store } from "../../../../../server/sim/apiserver/store.js";
import { flagshipPlan } from "../fixtures.js";
import { CREATED_AT, deployment } from "./helpers.js";

const quiet = createLogger({}, { level: "error" });

describe("controllers on the seeded cluster", () => {
  it("change nothing: the flagship seed is already what they would make", async () => {
    const plan = flagshipPlan();
    const store = new Store({ serviceCidr: plan.serviceCidr });
    seedFromPlan(store, plan, { kubeVersion: "v1.24.6", caCert: "PEM", createdAt: CREATED_AT });
    const before = store.resourceVersion();
    const writes: string[] = [];
    store.subscribe((e) => writes.push(`${e.type} ${e.resource.plural} ${e.object.metadata.namespace ?? ""}/${e.object.metadata.name}`));
    const controllers = startControllers(store, { log: quiet });
    await controllers.settled();
    controllers.stop();
    assert.deepEqual(writes, []);
    assert.equal(store.resourceVersion(), before);
  });

  it("with deferResync, handle events at once but reconcile what already exists only at resync()", async () => {
    const plan = flagshipPlan();
    const store = new Store({ serviceCidr: plan.serviceCidr });
    seedFromPlan(store, plan, { kubeVersion: "v1.24.6", caCert: "PEM", createdAt: CREATED_AT });
    // What the seed did not converge: a Deployment stored without its ReplicaSet, before the controllers start.
    store.create("deployments.apps", deployment("before", 1));
    const controllers = startControllers(store, { log: quiet, deferResync: true });
    store.create("deployments.apps", deployment("after", 1));
    await controllers.settled();
    const owned = (name: string) => store.list("replicasets.apps", { namespace: "default" }).items.filter((rs) => rs.metadata.ownerReferences?.[0]?.name === name);
    assert.equal(owned("after").length, 1, "an event is handled before the resync");
    assert.equal(owned("before").length, 0, "what existed waits for the resync");
    controllers.resync();
    await controllers.settled();
    assert.equal(owned("before").length, 1);
    controllers.resync(); // a second call does nothing
    await controllers.settled();
    assert.equal(owned("before").length, 1);
    controllers.stop();
  });

  it("with deferResync, the garbage collector still knows the seeded owners from the start", async () => {
    const plan = flagshipPlan();
    const store = new Store({ serviceCidr: plan.serviceCidr });
    seedFromPlan(store, plan, { kubeVersion: "v1.24.6", caCert: "PEM", createdAt: CREATED_AT });
    const controllers = startControllers(store, { log: quiet, deferResync: true });
    const owned = () => store.list("replicasets.apps", { namespace: "default" }).items.filter((rs) => rs.metadata.ownerReferences?.[0]?.name === "hello-world");
    assert.equal(owned().length, 1, "the seed has hello-world's ReplicaSet");
    store.delete("deployments.apps", "default", "hello-world");
    await controllers.settled();
    assert.equal(owned().length, 0, "deleting the owner took its ReplicaSet, without a resync");
    controllers.stop();
  });

  it("seed an EndpointSlice per Service the way the controller writes them, plus the apiserver's own", () => {
    const plan = flagshipPlan();
    const store = new Store({ serviceCidr: plan.serviceCidr });
    seedFromPlan(store, plan, { kubeVersion: "v1.24.6", caCert: "PEM", createdAt: CREATED_AT });
    const slices = store.list("endpointslices.discovery.k8s.io").items;
    assert.deepEqual(slices.map((s) => s.metadata.labels?.["kubernetes.io/service-name"]).sort(), ["coredns", "hello-world", "kubernetes", "metallb-webhook-service"]);
    const k = slices.find((s) => s.metadata.name === "kubernetes")!;
    assert.deepEqual(k.metadata.labels, { "kubernetes.io/service-name": "kubernetes" });
    assert.deepEqual(k.endpoints, [{ addresses: ["192.168.10.10"], conditions: { ready: true } }]);
    assert.deepEqual(k.ports, [{ name: "https", port: 6443, protocol: "TCP" }]);
    const dns = slices.find((s) => s.metadata.labels?.["kubernetes.io/service-name"] === "coredns")!;
    assert.equal(dns.metadata.creationTimestamp, "2024-05-01T12:00:00Z");
    assert.deepEqual(dns.ports, [{ name: "dns", port: 53, protocol: "UDP" }, { name: "dns-tcp", port: 53, protocol: "TCP" }]);
    assert.deepEqual((dns.endpoints as Array<{ addresses: string[] }>).map((e) => e.addresses[0]), ["10.233.64.129", "10.233.65.1"]);
  });
});

describe("work queue", () => {
  it("coalesces repeated keys into one sync per turn and retries a failing key with backoff", async () => {
    const seen: string[] = [];
    let fail = 2;
    const q = new WorkQueue(
      "test",
      (k) => {
        seen.push(k);
        if (k === "flaky" && fail-- > 0) throw new Error("boom");
      },
      quiet,
    );
    for (let i = 0; i < 5; i++) q.add("a");
    q.add("b");
    assert.equal(q.busy(), true);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(seen, ["a", "b"]);
    q.add("flaky");
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(seen.filter((k) => k === "flaky").length, 3);
    q.stop();
    q.add("late");
    await new Promise((r) => setImmediate(r));
    assert.ok(!seen.includes("late"));
  });

  it("slows a key that keeps coming back instead of spinning", async () => {
    let runs = 0;
    const q: WorkQueue = new WorkQueue(
      "loop",
      (k) => {
        runs++;
        q.add(k);
      },
      quiet,
    );
    q.add("self");
    await new Promise((r) => setTimeout(r, 200));
    q.stop();
    assert.ok(runs <= 101, `ran ${runs} times`);
  });
});
