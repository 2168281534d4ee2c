import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KObject } from "../../../../../server/sim/apiserver/objects.js";
import type { Store } from "../../../../../server/sim/apiserver/store.js";
import { cluster, markReady } from "./helpers.js";

function pod(name: string, labels: Record<string, string>, ports: Array<{ name: string; containerPort: number }> = []): KObject {
  return { apiVersion: "v1", kind: "Pod", metadata: { name, namespace: "default", labels }, spec: { nodeName: "worker-2", containers: [{ name: "c", image: "nginx", ports }] } };
}

function service(name: string, selector: Record<string, string> | undefined, ports: Array<Record<string, unknown>>): KObject {
  return { apiVersion: "v1", kind: "Service", metadata: { name, namespace: "default", labels: { team: "blue" } }, spec: { ...(selector ? { selector } : {}), ports } };
}

const slicesOf = (store: Store, svc: string) => store.list("endpointslices.discovery.k8s.io", { namespace: "default", labelSelector: [{ key: "kubernetes.io/service-name", op: "=", values: [svc] }] }).items;

describe("endpoints and endpointslice controllers", () => {
  it("list ready pods as addresses and the others as not ready, resolving named target ports, skipping pods without an address", async () => {
    const c = await cluster({ only: ["endpoints", "endpointslice", "garbagecollector"] });
    try {
      const a = c.store.create("pods", pod("a", { app: "api" }, [{ name: "http", containerPort: 8080 }]));
      const b = c.store.create("pods", pod("b", { app: "api" }, [{ name: "http", containerPort: 8081 }]));
      c.store.create("pods", pod("pending", { app: "api" }, [{ name: "http", containerPort: 8080 }]));
      const svc = c.store.create("services", service("api", { app: "api" }, [{ name: "web", port: 80, targetPort: "http", protocol: "TCP" }]));
      markReady(c.store, a, "10.233.65.10");
      c.store.update("pods", { ...b, status: { phase: "Running", podIP: "10.233.65.11", podIPs: [{ ip: "10.233.65.11" }], conditions: [{ type: "Ready", status: "False" }] } }, { subresource: "status" });
      await c.settled();

      const ep = c.store.get("endpoints", "default", "api");
      assert.deepEqual(ep.metadata.labels, { team: "blue" });
      assert.match(ep.metadata.annotations?.["endpoints.kubernetes.io/last-change-trigger-time"] ?? "", /^\d{4}-/);
      const ref = (p: KObject) => ({ kind: "Pod", namespace: "default", name: p.metadata.name, uid: p.metadata.uid });
      // a and b resolve "http" to different numbers: two subsets
      assert.deepEqual(ep.subsets, [
        { addresses: [{ ip: "10.233.65.10", nodeName: "worker-2", targetRef: ref(a) }], ports: [{ name: "web", port: 8080, protocol: "TCP" }] },
        { notReadyAddresses: [{ ip: "10.233.65.11", nodeName: "worker-2", targetRef: ref(b) }], ports: [{ name: "web", port: 8081, protocol: "TCP" }] },
      ]);

      const slices = slicesOf(c.store, "api");
      assert.equal(slices.length, 2);
      for (const s of slices) {
        assert.match(s.metadata.name!, /^api-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
        assert.deepEqual(s.metadata.labels, { team: "blue", "kubernetes.io/service-name": "api", "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io" });
        assert.deepEqual(s.metadata.ownerReferences, [{ apiVersion: "v1", kind: "Service", name: "api", uid: svc.metadata.uid, controller: true, blockOwnerDeletion: true }]);
        assert.equal(s.addressType, "IPv4");
      }
      const byPort = (n: number) => slices.find((s) => (s.ports as Array<{ port: number }>)[0]?.port === n)!;
      assert.deepEqual(byPort(8080).endpoints, [{ addresses: ["10.233.65.10"], conditions: { ready: true, serving: true, terminating: false }, targetRef: ref(a), nodeName: "worker-2" }]);
      assert.deepEqual(byPort(8081).endpoints, [{ addresses: ["10.233.65.11"], conditions: { ready: false, serving: false, terminating: false }, targetRef: ref(b), nodeName: "worker-2" }]);
      assert.deepEqual(byPort(8080).ports, [{ name: "web", port: 8080, protocol: "TCP" }]);
    } finally {
      c.stop();
    }
  });

  it("keep a placeholder slice and no subsets while no pod has an address, and follow a pod becoming ready", async () => {
    const c = await cluster({ only: ["endpoints", "endpointslice"] });
    try {
      c.store.create("services", service("empty", { app: "none-yet" }, [{ port: 80, targetPort: 80, protocol: "TCP" }]));
      await c.settled();
      assert.equal(c.store.get("endpoints", "default", "empty").subsets, undefined);
      const [placeholder] = slicesOf(c.store, "empty");
      assert.equal(placeholder?.endpoints, null);
      assert.equal(placeholder?.ports, null);

      const p = c.store.create("pods", pod("late", { app: "none-yet" }));
      markReady(c.store, p, "10.233.65.12");
      await c.settled();
      assert.deepEqual((c.store.get("endpoints", "default", "empty").subsets as Array<{ addresses: Array<{ ip: string }> }>)[0]!.addresses.map((x) => x.ip), ["10.233.65.12"]);
      const slices = slicesOf(c.store, "empty");
      assert.equal(slices.length, 1);
      assert.notEqual(slices[0]!.metadata.name, placeholder!.metadata.name);
      // an unnamed Service port is named "" in a slice
      assert.deepEqual(slices[0]!.ports, [{ name: "", port: 80, protocol: "TCP" }]);
    } finally {
      c.stop();
    }
  });

  it("leave Services without a selector alone, recreate deleted Endpoints, and go with their Service", async () => {
    const c = await cluster({ only: ["endpoints", "endpointslice", "garbagecollector"] });
    try {
      c.store.create("services", service("external", undefined, [{ port: 5432, protocol: "TCP" }]));
      c.store.create("endpoints", { apiVersion: "v1", kind: "Endpoints", metadata: { name: "external", namespace: "default" }, subsets: [{ addresses: [{ ip: "192.168.10.50" }], ports: [{ port: 5432, protocol: "TCP" }] }] });
      const kubernetesRv = c.store.get("endpoints", "default", "kubernetes").metadata.resourceVersion;
      await c.settled();
      assert.deepEqual((c.store.get("endpoints", "default", "external").subsets as Array<{ addresses: Array<{ ip: string }> }>)[0]!.addresses, [{ ip: "192.168.10.50" }]);
      assert.deepEqual(slicesOf(c.store, "external"), []);
      assert.equal(c.store.get("endpoints", "default", "kubernetes").metadata.resourceVersion, kubernetesRv);

      c.store.delete("endpoints", "default", "hello-world");
      await c.settled();
      assert.deepEqual(
        (c.store.get("endpoints", "default", "hello-world").subsets as Array<{ addresses: Array<{ ip: string }> }>)[0]!.addresses.map((x) => x.ip),
        ["10.233.66.129", "10.233.66.3"],
      );
      c.store.delete("services", "default", "hello-world");
      await c.settled();
      assert.equal(c.store.tryGet("endpoints", "default", "hello-world"), undefined);
      assert.deepEqual(slicesOf(c.store, "hello-world"), []);
    } finally {
      c.stop();
    }
  });
});
