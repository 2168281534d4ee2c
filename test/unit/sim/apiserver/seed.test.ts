import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { chooseContainer } from "../../../../server/sim/apiserver/images.js";
import { deploymentOf, seedFromPlan, serviceSelector } from "../../../../server/sim/apiserver/seed.js";
import { Store } from "../../../../server/sim/apiserver/store.js";
import { flagshipPlan } from "./fixtures.js";

function seeded() {
  const plan = flagshipPlan();
  const store = new Store({ serviceCidr: plan.serviceCidr });
  seedFromPlan(store, plan, { kubeVersion: "v1.24.6", caCert: "PEM", createdAt: new Date("2024-05-01T12:00:00Z") });
  return { plan, store };
}

describe("seed from the flagship plan", () => {
  it("has the system namespaces plus every pod and service namespace", () => {
    const { store } = seeded();
    assert.deepEqual(store.list("namespaces").items.map((n) => n.metadata.name), ["default", "flux-system", "kube-node-lease", "kube-public", "kube-system", "metallb-system"]);
  });

  it("has 7 Ready nodes with addresses, podCIDR from the first block, and the kubelet version", () => {
    const { plan, store } = seeded();
    const nodes = store.list("nodes").items;
    assert.equal(nodes.length, 7);
    for (const n of nodes) {
      const p = plan.nodes.find((x) => x.name === n.metadata.name)!;
      const status = n.status as { conditions: Array<{ type: string; status: string }>; addresses: Array<{ type: string; address: string }>; nodeInfo: { kubeletVersion: string } };
      assert.equal(status.conditions.find((c) => c.type === "Ready")?.status, "True");
      assert.equal(status.addresses.find((a) => a.type === "InternalIP")?.address, p.address);
      assert.equal(status.nodeInfo.kubeletVersion, "v1.24.6");
      assert.equal((n.spec as { podCIDR?: string }).podCIDR, p.blocks[0]);
      assert.equal(n.metadata.creationTimestamp, "2024-05-01T12:00:00Z");
    }
    assert.ok("node-role.kubernetes.io/control-plane" in store.get("nodes", undefined, "cp-1").metadata.labels!);
  });

  it("runs every plan pod at its address on its node, with an image chosen from its name", () => {
    const { plan, store } = seeded();
    for (const p of plan.pods) {
      const pod = store.get("pods", p.namespace, p.name);
      const status = pod.status as { phase: string; podIP: string; hostIP: string };
      assert.equal(status.phase, "Running");
      assert.equal(status.podIP, p.address);
      assert.equal(status.hostIP, plan.nodes.find((n) => n.name === p.node)!.address);
      assert.equal((pod.spec as { nodeName: string }).nodeName, p.node);
    }
    const controller = store.get("pods", "metallb-system", "controller-7d9cf7f8b-x2kqv");
    assert.equal((controller.spec as { containers: Array<{ image: string }> }).containers[0]!.image, "quay.io/metallb/controller:v0.13.7");
    assert.equal(chooseContainer(plan, { ...plan.pods[0]!, namespace: "kube-system", name: "calico-kube-controllers-x" }).image, `quay.io/calico/kube-controllers:${plan.calicoVersion}`);
  });

  it("derives Deployments and ReplicaSets from pod names and links the owner references", () => {
    const { store } = seeded();
    assert.deepEqual(deploymentOf("coredns-645b46f4b6-7pl9x"), { deployment: "coredns", hash: "645b46f4b6" });
    assert.equal(deploymentOf("netshoot"), undefined);
    const d = store.get("deployments", "kube-system", "coredns");
    assert.equal((d.spec as { replicas: number }).replicas, 2);
    const rs = store.get("replicasets", "kube-system", "coredns-645b46f4b6");
    assert.equal(rs.metadata.ownerReferences?.[0]?.uid, d.metadata.uid);
    const pod = store.get("pods", "kube-system", "coredns-645b46f4b6-7pl9x");
    assert.equal(pod.metadata.ownerReferences?.[0]?.uid, rs.metadata.uid);
    assert.equal(pod.metadata.labels?.["pod-template-hash"], "645b46f4b6");
  });

  it("creates services with their ClusterIPs and endpoints pointing at the pods", () => {
    const { plan, store } = seeded();
    for (const s of plan.services) {
      const svc = store.get("services", s.namespace, s.name);
      assert.equal((svc.spec as { clusterIP: string }).clusterIP, s.clusterIP);
      const ep = store.get("endpoints", s.namespace, s.name);
      const ips = ((ep.subsets as Array<{ addresses: Array<{ ip: string }> }> | undefined) ?? []).flatMap((ss) => ss.addresses.map((a) => a.ip));
      assert.deepEqual(ips.sort(), [...s.endpoints].sort());
    }
    const web = plan.services.find((s) => s.name === "metallb-webhook-service")!;
    assert.deepEqual(serviceSelector(plan, web), { app: "metallb", component: "controller" });
    assert.equal(serviceSelector(plan, plan.services.find((s) => s.name === "kubernetes")!), undefined);
  });
});
