/**
 * The controllers seen through the real kubectl (/usr/bin/kubectl, v1.32) against the API server on
 * 127.0.0.1:0, seeded from the flagship plan: a Deployment created, scheduled onto workers, made ready
 * the way a kubelet reports it (PATCH pods/status), rolled out, exposed, scaled and deleted; an
 * unschedulable pod explained by `kubectl describe`; a ReplicaSet deleted with --cascade=orphan; a
 * namespace deleted with what runs in it. The steps build on each other, in order.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { createLogger } from "../../../server/log.js";
import { projectRoot } from "../../../server/paths.js";
import { startApiServer, type ApiServer } from "../../../server/sim/apiserver/index.js";
import type { ClusterPlan } from "../../../server/sim/plan.js";
import { kubectl, type Run } from "./kubectl-run.js";

const plan = JSON.parse(readFileSync(path.join(projectRoot, "test", "fixtures", "apiserver", "flagship-plan.json"), "utf8")) as ClusterPlan;
const fixture = (name: string) => path.join(projectRoot, "test", "fixtures", "apiserver", name);
const POD = /[bcdfghjklmnpqrstvwxz2456789]{5}/.source;

describe("controllers through kubectl", { timeout: 300_000 }, () => {
  let api: ApiServer;
  let dir: string;
  let conf: string;

  /** kubectl after the controllers have caught up with everything so far. */
  const k = async (...args: string[]): Promise<Run> => {
    await api.settled();
    return kubectl(conf, dir, args);
  };
  const ok = async (...args: string[]): Promise<string> => {
    const r = await k(...args);
    assert.equal(r.code, 0, `kubectl ${args.join(" ")}:\n${r.out}`);
    return r.out;
  };

  /** What the sandbox's kubelet does once a pod runs: phase Running, an address, Ready (PATCH pods/status). */
  async function kubeletReady(ns: string, selector: string): Promise<void> {
    const names = (await ok("get", "pods", "-n", ns, "-l", selector, "-o", "jsonpath={range .items[*]}{.metadata.name}{\"\\n\"}{end}")).trim().split("\n").filter(Boolean);
    let i = 20;
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
    for (const name of names) {
      const cond = (type: string) => ({ type, status: "True", lastProbeTime: null, lastTransitionTime: now });
      const status = { phase: "Running", podIP: `10.233.66.${i}`, podIPs: [{ ip: `10.233.66.${i}` }], conditions: [cond("Initialized"), cond("Ready"), cond("ContainersReady"), cond("PodScheduled")] };
      i++;
      const out = await ok("patch", "pod", name, "-n", ns, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status }));
      assert.match(out, new RegExp(`^pod/${name} patched$`, "m"));
    }
  }

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "faultline-controllers-"));
    api = await startApiServer({ host: "127.0.0.1", port: 0, plan, certDir: path.join(dir, "pki"), log: createLogger({ test: "controllers" }, { level: "warn" }), kubeVersion: "v1.24.6" });
    conf = path.join(dir, "admin.conf");
    writeFileSync(conf, api.kubeconfig(`https://127.0.0.1:${api.port}`), { mode: 0o600 });
  });

  after(async () => {
    await api?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("leaves the seeded cluster as it is", async () => {
    await api.settled();
    const rv = api.store.resourceVersion();
    await new Promise((r) => setTimeout(r, 50));
    await api.settled();
    assert.equal(api.store.resourceVersion(), rv);
    assert.match(await ok("get", "deploy", "-n", "kube-system"), /^coredns\s+2\/2\s+2\s+2\s+\S+$/m);
  });

  it("kubectl create deployment: a ReplicaSet and three pods, scheduled on workers", async () => {
    assert.match(await ok("create", "deployment", "web", "--image=nginx", "--replicas=3"), /^deployment\.apps\/web created$/m);
    const rs = await ok("get", "rs", "-l", "app=web");
    assert.match(rs, /^NAME\s+DESIRED\s+CURRENT\s+READY\s+AGE$/m);
    assert.match(rs, /^web-[bcdfghjklmnpqrstvwxz2456789]{6,10}\s+3\s+3\s+0\s+\S+$/m);
    const pods = await ok("get", "pods", "-l", "app=web", "-o", "wide");
    const rows = pods.split("\n").filter((l) => l.startsWith("web-"));
    assert.equal(rows.length, 3, pods);
    for (const row of rows) {
      assert.match(row, new RegExp(`^web-\\w+-${POD}\\s+0/1\\s+Pending\\s+0\\s+\\S+\\s+<none>\\s+worker-\\d\\s+<none>\\s+<none>$`));
    }
    const desc = await ok("describe", "pod", "-l", "app=web");
    assert.match(desc, /^\s+Normal\s+Scheduled\s+\S+\s+default-scheduler\s+Successfully assigned default\/web-\w+-\w{5} to worker-\d$/m);
    assert.match(desc, /^Controlled By:\s+ReplicaSet\/web-\w+$/m);
  });

  it("kubectl rollout status completes once the kubelet reports the pods ready", async () => {
    await kubeletReady("default", "app=web");
    const r = await k("rollout", "status", "deployment/web", "--timeout=20s");
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /^deployment "web" successfully rolled out$/m);
    assert.match(await ok("get", "deploy", "web"), /^web\s+3\/3\s+3\s+3\s+\S+$/m);
    const conditions = await ok("get", "deploy", "web", "-o", "jsonpath={range .status.conditions[*]}{.type}={.reason}{\"\\n\"}{end}");
    assert.match(conditions, /^Available=MinimumReplicasAvailable$/m);
    assert.match(conditions, /^Progressing=NewReplicaSetAvailable$/m);
  });

  it("kubectl expose: Endpoints and an EndpointSlice with the three pods", async () => {
    assert.match(await ok("expose", "deployment", "web", "--port", "80"), /^service\/web exposed$/m);
    const ep = await ok("get", "endpoints", "web");
    assert.match(ep, /^web\s+10\.233\.66\.\d+:80,10\.233\.66\.\d+:80,10\.233\.66\.\d+:80\s+\S+$/m);
    const slices = await ok("get", "endpointslices", "-l", "kubernetes.io/service-name=web");
    assert.match(slices, /^NAME\s+ADDRESSTYPE\s+PORTS\s+ENDPOINTS\s+AGE$/m);
    assert.match(slices, new RegExp(`^web-${POD}\\s+IPv4\\s+80\\s+10\\.233\\.66\\.\\d+,10\\.233\\.66\\.\\d+,10\\.233\\.66\\.\\d+\\s+\\S+$`, "m"));
    assert.match(await ok("describe", "svc", "web"), /^Endpoints:\s+10\.233\.66\.\d+:80,10\.233\.66\.\d+:80,10\.233\.66\.\d+:80$/m);
  });

  it("kubectl scale: the ReplicaSet and the endpoints follow", async () => {
    assert.match(await ok("scale", "deployment", "web", "--replicas=1"), /^deployment\.apps\/web scaled$/m);
    assert.match(await ok("get", "deploy", "web"), /^web\s+1\/1\s+1\s+1\s+\S+$/m);
    assert.equal((await ok("get", "pods", "-l", "app=web", "-o", "name")).trim().split("\n").length, 1);
    assert.match(await ok("get", "endpoints", "web"), /^web\s+10\.233\.66\.\d+:80\s+\S+$/m);
  });

  it("kubectl get events shows what the scheduler and the controllers did", async () => {
    const ev = await ok("get", "events", "--field-selector", "type=Normal");
    assert.match(ev, /^\S+\s+Normal\s+Scheduled\s+pod\/web-\w+-\w{5}\s+Successfully assigned default\/web-\w+-\w{5} to worker-\d$/m);
    assert.match(ev, /^\S+\s+Normal\s+SuccessfulCreate\s+replicaset\/web-\w+\s+Created pod: web-\w+-\w{5}$/m);
    assert.match(ev, /^\S+\s+Normal\s+SuccessfulDelete\s+replicaset\/web-\w+\s+Deleted pod: web-\w+-\w{5}$/m);
    assert.match(ev, /^\S+\s+Normal\s+ScalingReplicaSet\s+deployment\/web\s+Scaled up replica set web-\w+ to 3$/m);
    assert.match(ev, /^\S+\s+Normal\s+ScalingReplicaSet\s+deployment\/web\s+Scaled down replica set web-\w+ to 1$/m);
    assert.match(await ok("describe", "deploy", "web"), /^\s+Normal\s+ScalingReplicaSet\s+\S+\s+deployment-controller\s+Scaled up replica set web-\w+ to 3$/m);
  });

  it("kubectl delete deployment takes its ReplicaSet and pods along", async () => {
    assert.match(await ok("delete", "deployment", "web"), /^deployment\.apps "web" deleted$/m);
    const left = await k("get", "rs,pods", "-l", "app=web");
    assert.match(left.out, /^No resources found in default namespace\.$/m);
    // the Service stays, with no endpoints left
    assert.match(await ok("get", "endpoints", "web"), /^web\s+<none>\s+\S+$/m);
  });

  it("kubectl describe explains an unschedulable pod with FailedScheduling", async () => {
    assert.match(await ok("run", "x", "--image=busybox", "--overrides", JSON.stringify({ apiVersion: "v1", spec: { nodeSelector: { disktype: "ssd" } } }), "--", "sleep", "3600"), /^pod\/x created$/m);
    const desc = await ok("describe", "pod", "x");
    assert.match(desc, /^Node:\s+<none>$/m);
    assert.match(desc, /^\s+PodScheduled\s+False\s*$/m);
    assert.match(
      desc,
      /^\s+Warning\s+FailedScheduling\s+\S+\s+default-scheduler\s+0\/7 nodes are available: 1 node\(s\) had taint \{node-role\.kubernetes\.io\/master: \}, that the pod didn't tolerate, 6 node\(s\) didn't match Pod's node affinity\/selector\. preemption: 0\/7 nodes are available: 7 Preemption is not helpful for scheduling\.$/m,
    );
    // a node that gets the label takes the pod
    assert.match(await ok("label", "node", "worker-6", "disktype=ssd"), /^node\/worker-6 labeled$/m);
    assert.match(await ok("get", "pod", "x", "-o", "wide"), /^x\s+0\/1\s+Pending\s+0\s+\S+\s+<none>\s+worker-6\s+/m);
    assert.match(await ok("label", "node", "worker-6", "disktype-"), /^node\/worker-6 unlabeled$/m);
    await ok("delete", "pod", "x");
  });

  it("kubectl delete rs --cascade=orphan keeps the pods, without their owner reference", async () => {
    assert.match(await ok("apply", "-f", fixture("replicaset-orphans.yaml")), /^replicaset\.apps\/orphans created$/m);
    const before = (await ok("get", "pods", "-l", "app=orphans", "-o", "name")).trim().split("\n").sort();
    assert.equal(before.length, 2);
    assert.match(await ok("delete", "rs", "orphans", "--cascade=orphan"), /^replicaset\.apps "orphans" deleted$/m);
    const after = (await ok("get", "pods", "-l", "app=orphans", "-o", "name")).trim().split("\n").sort();
    assert.deepEqual(after, before);
    assert.equal((await ok("get", "pods", "-l", "app=orphans", "-o", "jsonpath={.items[*].metadata.ownerReferences}")).trim(), "");
    await ok("delete", "pods", "-l", "app=orphans");
  });

  it("kubectl delete namespace removes what runs in it", async () => {
    await ok("create", "namespace", "scratch");
    await ok("create", "deployment", "tmp", "--image=nginx", "--replicas=2", "-n", "scratch");
    assert.equal((await ok("get", "pods", "-n", "scratch", "-o", "name")).trim().split("\n").length, 2);
    assert.match(await ok("delete", "namespace", "scratch"), /^namespace "scratch" deleted$/m);
    const r = await k("get", "deploy,rs,pods", "-n", "scratch");
    assert.match(r.out, /^No resources found in scratch namespace\.$/m);
  });
});
