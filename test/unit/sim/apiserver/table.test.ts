import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KObject } from "../../../../server/sim/apiserver/objects.js";
import { nodePrinter } from "../../../../server/sim/apiserver/printers/nodes.js";
import { humanDuration } from "../../../../server/sim/apiserver/printers/printer.js";
import { podPrinter } from "../../../../server/sim/apiserver/printers/pods.js";
import { endpointsPrinter, servicePrinter } from "../../../../server/sim/apiserver/printers/services.js";
import { mustResourceType } from "../../../../server/sim/apiserver/resources.js";
import { toTable } from "../../../../server/sim/apiserver/table.js";

const NOW = new Date("2024-05-01T12:00:00Z");
const ago = (s: number) => new Date(NOW.getTime() - s * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");

describe("humanDuration (apimachinery duration.HumanDuration)", () => {
  const cases: Array<[number, string]> = [
    [-5, "<invalid>"],
    [-1, "0s"],
    [0, "0s"],
    [45, "45s"],
    [119, "119s"],
    [120, "2m"],
    [200, "3m20s"],
    [25 * 60, "25m"],
    [179 * 60, "179m"],
    [3 * 3600, "3h"],
    [5 * 3600 + 12 * 60, "5h12m"],
    [20 * 3600, "20h"],
    [2 * 86400 + 3 * 3600, "2d3h"],
    [120 * 86400, "120d"],
    [3 * 365 * 86400 + 20 * 86400, "3y20d"],
    [9 * 365 * 86400, "9y"],
  ];
  for (const [s, want] of cases) it(`${s}s -> ${want}`, () => assert.equal(humanDuration(s * 1000), want));
});

function pod(status: Record<string, unknown>, extra: Partial<KObject> = {}): KObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "p", namespace: "default", creationTimestamp: ago(90) },
    spec: { nodeName: "worker-1", containers: [{ name: "a" }, { name: "b" }] },
    status,
    ...extra,
  };
}

describe("pod printer", () => {
  it("prints READY, STATUS, RESTARTS with the last restart, AGE and the wide columns", () => {
    const cells = podPrinter.cells(
      pod({
        phase: "Running",
        podIP: "10.0.0.5",
        podIPs: [{ ip: "10.0.0.5" }],
        containerStatuses: [
          { name: "a", ready: true, restartCount: 2, state: { running: {} }, lastState: { terminated: { finishedAt: ago(300) } } },
          { name: "b", ready: true, restartCount: 1, state: { running: {} } },
        ],
      }),
      NOW,
    );
    assert.deepEqual(cells, ["p", "2/2", "Running", "3 (5m ago)", "90s", "10.0.0.5", "worker-1", "<none>", "<none>"]);
  });

  it("shows the waiting reason of a container (ImagePullBackOff) and Terminating on deletion", () => {
    const waiting = pod({ phase: "Pending", containerStatuses: [{ name: "a", ready: false, restartCount: 0, state: { waiting: { reason: "ImagePullBackOff" } } }] });
    assert.equal(podPrinter.cells(waiting, NOW)[2], "ImagePullBackOff");
    assert.equal(podPrinter.cells(waiting, NOW)[1], "0/2");
    const deleting = pod({ phase: "Running" }, { metadata: { name: "p", deletionTimestamp: ago(1) } });
    assert.equal(podPrinter.cells(deleting, NOW)[2], "Terminating");
    const init = pod({ phase: "Pending", initContainerStatuses: [{ name: "i", state: { waiting: { reason: "PodInitializing" } } }] }, { spec: { initContainers: [{ name: "i" }], containers: [] } });
    assert.equal(podPrinter.cells(init, NOW)[2], "Init:0/1");
  });
});

describe("node printer", () => {
  it("derives STATUS from Ready and unschedulable, ROLES from labels", () => {
    const node: KObject = {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: "cp-1", creationTimestamp: ago(3 * 86400), labels: { "node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/master": "" } },
      spec: { unschedulable: true },
      status: { conditions: [{ type: "Ready", status: "False" }], addresses: [{ type: "InternalIP", address: "192.168.10.10" }], nodeInfo: { kubeletVersion: "v1.24.6" } },
    };
    assert.deepEqual(nodePrinter.cells(node, NOW), ["cp-1", "NotReady,SchedulingDisabled", "control-plane,master", "3d", "v1.24.6", "192.168.10.10", "<none>", "<unknown>", "<unknown>", "<unknown>"]);
  });
});

describe("service and endpoints printers", () => {
  it("prints ports with node ports, LoadBalancer <pending>, and the selector", () => {
    const svc: KObject = { apiVersion: "v1", kind: "Service", metadata: { name: "s", creationTimestamp: ago(10) }, spec: { type: "LoadBalancer", clusterIP: "10.233.0.5", clusterIPs: ["10.233.0.5"], ports: [{ port: 80, nodePort: 30080, protocol: "TCP" }], selector: { b: "2", a: "1" } } };
    assert.deepEqual(servicePrinter.cells(svc, NOW), ["s", "LoadBalancer", "10.233.0.5", "<pending>", "80:30080/TCP", "10s", "a=1,b=2"]);
  });

  it("lists at most three endpoints, then '+ N more...'", () => {
    const ep: KObject = { apiVersion: "v1", kind: "Endpoints", metadata: { name: "e", creationTimestamp: ago(10) }, subsets: [{ addresses: [{ ip: "10.0.0.1" }, { ip: "10.0.0.2" }], ports: [{ port: 53, name: "dns" }, { port: 53, name: "dns-tcp" }] }] };
    assert.equal(endpointsPrinter.cells(ep, NOW)[1], "10.0.0.1:53,10.0.0.2:53,10.0.0.1:53 + 1 more...");
  });
});

describe("toTable", () => {
  const cm: KObject = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: "x", labels: { a: "b" }, creationTimestamp: ago(5) }, data: { k: "v" } };

  it("builds a meta.k8s.io/v1 Table with PartialObjectMetadata rows by default", () => {
    const t = toTable(mustResourceType("configmaps"), [cm], { includeObject: "Metadata", version: "v1", now: NOW }) as { kind: string; apiVersion: string; columnDefinitions: Array<{ name: string }>; rows: Array<{ cells: unknown[]; object: { kind: string; metadata: unknown } }> };
    assert.equal(t.kind, "Table");
    assert.equal(t.apiVersion, "meta.k8s.io/v1");
    assert.deepEqual(t.columnDefinitions.map((c) => c.name), ["Name", "Data", "Age"]);
    assert.deepEqual(t.rows[0]!.cells, ["c", 1, "5s"]);
    assert.equal(t.rows[0]!.object.kind, "PartialObjectMetadata");
    assert.deepEqual(t.rows[0]!.object.metadata, cm.metadata);
  });

  it("honours includeObject=None and Object, and uses Name/Created At for types without a printer", () => {
    const none = toTable(mustResourceType("configmaps"), [cm], { includeObject: "None", version: "v1" }) as { rows: Array<Record<string, unknown>> };
    assert.equal("object" in none.rows[0]!, false);
    const full = toTable(mustResourceType("configmaps"), [cm], { includeObject: "Object", version: "v1beta1" }) as { apiVersion: string; rows: Array<{ object: unknown }> };
    assert.equal(full.apiVersion, "meta.k8s.io/v1beta1");
    assert.deepEqual(full.rows[0]!.object, cm);
    const crd = toTable(mustResourceType("crd"), [{ ...cm, kind: "CustomResourceDefinition" }], { includeObject: "None", version: "v1" }) as { columnDefinitions: Array<{ name: string }> };
    assert.deepEqual(crd.columnDefinitions.map((c) => c.name), ["Name", "Created At"]);
  });
});
