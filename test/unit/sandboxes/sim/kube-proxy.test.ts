import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { routeDiff } from "../../../../server/sandboxes/sim/kubelet.js";
import { servicesFromApi, syncOps } from "../../../../server/sandboxes/sim/kube-proxy.js";
import type { KubeObject } from "../../../../server/sim/workloads/informer.js";
import type { ClusterPlan } from "../../../../server/sim/plan.js";

const svc = (name: string, spec: Record<string, unknown>): KubeObject => ({ metadata: { name, namespace: "default" }, spec });
const eps = (name: string, subsets: unknown[]): [string, KubeObject] => [`default/${name}`, { metadata: { name, namespace: "default" }, subsets }];
const plan = { nodes: [{ name: "n1", netns: "n1" }] } as unknown as ClusterPlan;

describe("kube-proxy: Services and Endpoints from the API", () => {
  it("resolves each port's targetPort from the endpoint port of the same name (named targetPorts included)", () => {
    const out = servicesFromApi(
      [svc("web", { clusterIP: "10.233.0.20", ports: [{ name: "http", port: 80, targetPort: "web" }, { name: "metrics", port: 9000, targetPort: 9100 }] })],
      new Map([eps("web", [{ addresses: [{ ip: "10.233.64.5" }, { ip: "10.233.64.6" }], ports: [{ name: "http", port: 8080 }, { name: "metrics", port: 9100 }] }])]),
    );
    assert.deepEqual(out[0]!.ports.map((p) => [p.port, p.targetPort]), [[80, 8080], [9000, 9100]]);
    assert.deepEqual(out[0]!.endpoints, ["10.233.64.5", "10.233.64.6"]);
  });

  it("skips headless and ExternalName Services; a Service without Endpoints has no endpoints (kube-proxy REJECTs)", () => {
    const out = servicesFromApi(
      [svc("headless", { clusterIP: "None", ports: [{ port: 80 }] }), svc("ext", { type: "ExternalName" }), svc("lonely", { clusterIP: "10.233.0.30", ports: [{ port: 80, targetPort: 8080 }] })],
      new Map(),
    );
    assert.deepEqual(out.map((s) => [s.name, s.endpoints, s.ports[0]!.targetPort]), [["lonely", [], 8080]]);
  });

  it("a re-sync flushes KUBE-SERVICES, adds no second jump from the built-in chains, and deletes chains no longer used", () => {
    const before = servicesFromApi([svc("web", { clusterIP: "10.233.0.20", ports: [{ port: 80 }] })], new Map([eps("web", [{ addresses: [{ ip: "10.233.64.5" }], ports: [{ port: 80 }] }])]));
    const after = servicesFromApi([svc("web", { clusterIP: "10.233.0.20", ports: [{ port: 80 }] })], new Map([eps("web", [{ addresses: [{ ip: "10.233.64.9" }], ports: [{ port: 80 }] }])]));
    const rules = syncOps(plan, before, after).flatMap((o) => (o.kind === "iptables" ? [`${o.table} ${o.rule}`] : []));
    assert.ok(rules.includes("nat :KUBE-SERVICES - [0:0]"));
    assert.ok(!rules.some((r) => r.includes("-A PREROUTING") || r.includes("-A OUTPUT")), "hooks are added once, at build time");
    const stale = rules.filter((r) => r.startsWith("nat -X "));
    assert.equal(stale.length, 1, "the old endpoint's KUBE-SEP chain");
    assert.ok(rules.some((r) => r.includes("--to-destination 10.233.64.9:80")));
    assert.ok(rules.indexOf(`nat :${stale[0]!.slice(7)} - [0:0]`) < rules.indexOf(stale[0]!), "flushed before it is deleted");
  });
});

describe("kubelet: route reconcile", () => {
  it("deletes stale routes and replaces in new ones, leaving unchanged ones alone", () => {
    const ops = routeDiff(
      "n1",
      [{ dst: "10.0.0.0/24", type: "blackhole", proto: "80" }, { dst: "10.0.1.0/24", via: "192.168.10.12", dev: "eth0", proto: "80" }],
      [{ dst: "10.0.0.0/24", type: "blackhole", proto: "80" }, { dst: "10.0.1.7/32", via: "192.168.10.13", dev: "eth0", proto: "80" }],
    );
    assert.deepEqual(ops.map((o) => (o.kind === "ip" ? o.line : "")), ["route del 10.0.1.0/24", "route replace 10.0.1.7/32 via 192.168.10.13 dev eth0 proto 80"]);
  });
});
