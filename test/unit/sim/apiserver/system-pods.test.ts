import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KObject } from "../../../../server/sim/apiserver/objects.js";
import { seedFromPlan } from "../../../../server/sim/apiserver/seed.js";
import { daemonPodName } from "../../../../server/sim/apiserver/seed/system-pods.js";
import { Store } from "../../../../server/sim/apiserver/store.js";
import type { ClusterPlan } from "../../../../server/sim/plan.js";
import { flagshipPlan } from "./fixtures.js";

function seeded(plan: ClusterPlan = flagshipPlan()) {
  const store = new Store({ serviceCidr: plan.serviceCidr });
  seedFromPlan(store, plan, { kubeVersion: "v1.24.6", caCert: "PEM", createdAt: new Date("2024-05-01T12:00:00Z") });
  return { plan, store };
}

type PodSpec = { nodeName: string; hostNetwork?: boolean; containers: Array<{ name: string; image: string }>; initContainers?: Array<{ image: string }> };
type PodStatus = { phase: string; podIP: string; hostIP: string };
const spec = (o: KObject) => o.spec as PodSpec;
const status = (o: KObject) => o.status as PodStatus;

describe("kube-system pods of a kubespray v2.19 cluster with Calico", () => {
  it("runs the control plane's static pods as mirror pods owned by the node, and no etcd pod", () => {
    const { store } = seeded();
    const node = store.get("nodes", undefined, "cp-1");
    for (const [component, image] of [["kube-apiserver", "kube-apiserver"], ["kube-controller-manager", "kube-controller-manager"], ["kube-scheduler", "kube-scheduler"]] as const) {
      const pod = store.get("pods", "kube-system", `${component}-cp-1`);
      const ann = pod.metadata.annotations!;
      assert.equal(ann["kubernetes.io/config.source"], "file");
      assert.ok(ann["kubernetes.io/config.mirror"]);
      assert.equal(ann["kubernetes.io/config.mirror"], ann["kubernetes.io/config.hash"]);
      assert.deepEqual(pod.metadata.ownerReferences?.map((r) => [r.kind, r.name, r.uid, r.controller]), [["Node", "cp-1", node.metadata.uid, true]]);
      assert.equal(pod.metadata.labels?.component, component);
      assert.equal(pod.metadata.labels?.tier, "control-plane");
      assert.equal(spec(pod).hostNetwork, true);
      assert.equal(spec(pod).nodeName, "cp-1");
      assert.equal(spec(pod).containers[0]!.image, `registry.k8s.io/${image}:v1.24.6`);
      assert.equal(status(pod).phase, "Running");
      assert.equal(status(pod).podIP, "192.168.10.10");
      assert.equal(status(pod).hostIP, "192.168.10.10");
    }
    assert.equal(store.get("pods", "kube-system", "kube-apiserver-cp-1").metadata.annotations!["kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint"], "192.168.10.10:6443");
    assert.equal(store.list("pods", { namespace: "kube-system" }).items.filter((p) => p.metadata.name!.startsWith("etcd")).length, 0);
    assert.equal(store.tryGet("pods", "kube-system", "kube-apiserver-worker-1"), undefined);
  });

  it("runs calico-node, kube-proxy and nodelocaldns on every node at the node's address, with predictable names", () => {
    const { plan, store } = seeded();
    const images: Record<string, string> = {
      "calico-node": "quay.io/calico/node:v3.22.3",
      "kube-proxy": "registry.k8s.io/kube-proxy:v1.24.6",
      nodelocaldns: "registry.k8s.io/dns/k8s-dns-node-cache:1.21.1",
    };
    for (const [ds, image] of Object.entries(images)) {
      const daemonSet = store.get("daemonsets.apps", "kube-system", ds);
      for (const n of plan.nodes) {
        const name = daemonPodName(plan.sandbox, ds, n.name);
        assert.match(name, new RegExp(`^${ds}-[bcdfghjklmnpqrstvwxz2456789]{5}$`));
        const pod = store.get("pods", "kube-system", name);
        assert.equal(spec(pod).nodeName, n.name);
        assert.equal(spec(pod).hostNetwork, true);
        assert.equal(spec(pod).containers[0]!.image, image);
        assert.equal(status(pod).podIP, n.address);
        assert.equal(status(pod).hostIP, n.address);
        assert.deepEqual(pod.metadata.ownerReferences?.map((r) => [r.kind, r.name, r.uid]), [["DaemonSet", ds, daemonSet.metadata.uid]]);
      }
      const pods = store.list("pods", { namespace: "kube-system" }).items.filter((p) => p.metadata.ownerReferences?.[0]?.name === ds);
      assert.equal(pods.length, plan.nodes.length);
    }
    const calico = store.get("pods", "kube-system", daemonPodName(plan.sandbox, "calico-node", "worker-1"));
    assert.deepEqual(spec(calico).initContainers?.map((c) => c.image), ["quay.io/calico/cni:v3.22.3", "quay.io/calico/cni:v3.22.3", "quay.io/calico/pod2daemon-flexvol:v3.22.3"]);
  });

  it("names the pods the same way on every seed, and differently per node", () => {
    const a = seeded().store.list("pods", { namespace: "kube-system" }).items.map((p) => p.metadata.name);
    const b = seeded().store.list("pods", { namespace: "kube-system" }).items.map((p) => p.metadata.name);
    assert.deepEqual(a, b);
    assert.equal(new Set(a).size, a.length);
    assert.notEqual(daemonPodName("s", "kube-proxy", "worker-1"), daemonPodName("s", "kube-proxy", "worker-2"));
  });

  it("has DaemonSets whose desired, current and ready counts are the node count", () => {
    const { store } = seeded();
    assert.deepEqual(store.list("daemonsets.apps", { namespace: "kube-system" }).items.map((d) => d.metadata.name), ["calico-node", "kube-proxy", "nodelocaldns"]);
    for (const d of store.list("daemonsets.apps").items) {
      const s = d.status as { desiredNumberScheduled: number; currentNumberScheduled: number; numberReady: number; numberAvailable: number; updatedNumberScheduled: number };
      assert.deepEqual([s.desiredNumberScheduled, s.currentNumberScheduled, s.numberReady, s.numberAvailable, s.updatedNumberScheduled], [7, 7, 7, 7, 7]);
    }
  });

  it("keeps a lab pod that has a system pod's name, and the lab's own DaemonSet pod on its node", () => {
    const base = flagshipPlan();
    const proxyName = daemonPodName(base.sandbox, "kube-proxy", "worker-2");
    const lab = { ...base.pods[0]!, namespace: "kube-system", labels: { app: "lab" }, address: "10.233.64.99" };
    const plan: ClusterPlan = {
      ...base,
      pods: [...base.pods, { ...lab, name: "kube-scheduler-cp-1", node: "cp-1" }, { ...lab, name: proxyName, node: "worker-2" }, { ...lab, name: "calico-node-aaaaa", node: "worker-3" }],
    };
    const { store } = seeded(plan);
    assert.equal(store.get("pods", "kube-system", "kube-scheduler-cp-1").metadata.labels?.app, "lab");
    assert.equal(store.get("pods", "kube-system", proxyName).metadata.labels?.app, "lab");
    const onWorker3 = store.list("pods", { namespace: "kube-system" }).items.filter((p) => p.metadata.name!.startsWith("calico-node-") && spec(p).nodeName === "worker-3");
    assert.deepEqual(onWorker3.map((p) => p.metadata.name), ["calico-node-aaaaa"]);
  });
});
