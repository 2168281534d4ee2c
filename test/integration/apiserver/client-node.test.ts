/**
 * The official JavaScript client (@kubernetes/client-node) against a sim sandbox, from the host through
 * the loopback relay with the sandbox's admin kubeconfig: it lists nodes and pods, watches ConfigMaps
 * appear and disappear, and execs in a pod over the WebSocket channel protocol — what any tool built on
 * the official client would do.
 */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import * as k8s from "@kubernetes/client-node";
import { cleanup, testDriver, uniqueName } from "../../support/sandbox.js";

const driver = testDriver();
const name = uniqueName("kcn");

/** Collects what the exec streams write. */
function sink(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
      cb();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString("utf8") };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

describe("@kubernetes/client-node against the sim API server", { timeout: 180_000 }, () => {
  let kc: k8s.KubeConfig;
  let core: k8s.CoreV1Api;

  before(async () => {
    await driver.up({ lab: "webhook-to-kernel", name });
    kc = new k8s.KubeConfig();
    kc.loadFromString(driver.kubeconfig(name));
    core = kc.makeApiClient(k8s.CoreV1Api);
  });
  after(() => cleanup(driver));

  it("listNode: seven nodes, all Ready", async () => {
    const list = await core.listNode();
    assert.equal(list.items.length, 7, list.items.map((n) => n.metadata?.name).join(", "));
    for (const n of list.items) {
      const ready = n.status?.conditions?.find((c) => c.type === "Ready");
      assert.equal(ready?.status, "True", `node ${n.metadata?.name} is not Ready: ${JSON.stringify(ready)}`);
    }
  });

  it("listPodForAllNamespaces: the MetalLB controller with its planned pod IP", async () => {
    const planned = driver.plan(name).pods.find((p) => p.namespace === "metallb-system" && p.name.startsWith("controller-"));
    assert.ok(planned, "the plan has a MetalLB controller pod");
    const list = await core.listPodForAllNamespaces();
    const pod = list.items.find((p) => p.metadata?.namespace === "metallb-system" && p.metadata?.name === planned.name);
    assert.ok(pod, `pod metallb-system/${planned.name} listed among ${list.items.length} pods`);
    assert.equal(pod.status?.podIP, planned.address);
  });

  it("Watch: ADDED and DELETED for a ConfigMap created and deleted through the API", async () => {
    const cmName = `kcn-watch-${process.pid}`;
    const seen: Array<{ type: string; name: string | undefined }> = [];
    const waiters: Array<{ type: string; resolve: () => void }> = [];
    const waitFor = (type: string) =>
      withTimeout(
        new Promise<void>((resolve) => {
          if (seen.some((e) => e.type === type && e.name === cmName)) resolve();
          else waiters.push({ type, resolve });
        }),
        15_000,
        `${type} of configmap ${cmName} (seen: ${JSON.stringify(seen)})`,
      );
    let doneErr: unknown = "not done";
    const watch = new k8s.Watch(kc);
    const controller = await watch.watch(
      "/api/v1/namespaces/default/configmaps",
      {},
      (type, obj: k8s.V1ConfigMap) => {
        seen.push({ type, name: obj.metadata?.name });
        if (obj.metadata?.name !== cmName) return;
        for (const w of waiters.filter((w) => w.type === type)) w.resolve();
      },
      (err) => {
        doneErr = err;
      },
    );
    try {
      // the watch request is answered before the first event; give the stream a moment to be registered
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(doneErr, "not done", `the watch ended early: ${String(doneErr)}`);
      const added = waitFor("ADDED");
      const created = await core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: cmName }, data: { from: "client-node" } } });
      assert.equal(created.metadata?.name, cmName);
      await added;
      const deleted = waitFor("DELETED");
      await core.deleteNamespacedConfigMap({ namespace: "default", name: cmName });
      await deleted;
    } finally {
      controller.abort();
    }
  });

  /** Runs a command in default/netshoot with client-node's Exec; resolves with the Status from the error channel. */
  async function podExec(command: string[]): Promise<{ stdout: string; stderr: string; status: k8s.V1Status }> {
    const out = sink();
    const err = sink();
    // client-node always sends a container name: take the pod's only container, as kubectl would
    const pod = await core.readNamespacedPod({ namespace: "default", name: "netshoot" });
    const container = pod.spec?.containers[0]?.name;
    assert.ok(container, "netshoot has a container");
    const exec = new k8s.Exec(kc);
    let socket: { close(): void } | undefined;
    const status = new Promise<k8s.V1Status>((resolve, reject) => {
      exec.exec("default", "netshoot", container, command, out.stream, err.stream, null, false, resolve).then((ws) => (socket = ws), reject);
    });
    try {
      const s = await withTimeout(status, 30_000, `the exec status of ${JSON.stringify(command)}`);
      return { stdout: out.text(), stderr: err.text(), status: s };
    } finally {
      socket?.close();
    }
  }

  it("Exec: hostname runs in the pod, with a Success status", async () => {
    const r = await podExec(["hostname"]);
    assert.equal(r.status.status, "Success", JSON.stringify(r.status));
    assert.equal(r.stdout.trim(), "netshoot");
    assert.equal(r.stderr, "");
  });

  it("Exec: a non-zero exit is a Failure status carrying the exit code", async () => {
    const r = await podExec(["sh", "-c", "exit 3"]);
    assert.equal(r.status.status, "Failure", JSON.stringify(r.status));
    assert.equal(r.status.reason, "NonZeroExitCode");
    const exitCode = r.status.details?.causes?.find((c) => c.reason === "ExitCode")?.message;
    assert.equal(exitCode, "3", JSON.stringify(r.status));
  });
});
