/**
 * The sandbox's Kubernetes client over real TLS (a throwaway CA, client certificates required), on
 * 127.0.0.1: requests share kept-alive connections, and a watch with nothing to say stays open. Node's
 * global agent used to close every connection after 5 s without traffic, which ended each quiet watch
 * of the kubelet, kube-proxy and Felix every 5 s (a re-list and a new handshake each time).
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { kubeconfigYaml } from "../../../server/sim/apiserver/kubeconfig.js";
import { createCa, issue } from "../../../server/sim/apiserver/pki.js";
import { kubeClient } from "../../../server/sim/workloads/kubeclient.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("kubeClient connections", () => {
  let dir = "";
  let server: Server;
  let kubeconfig = "";
  /** TLS connections the server accepted, and watch requests it saw end. */
  const counts = { connections: 0, watchesClosed: 0 };

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "faultline-kubeclient-"));
    const pki = path.join(dir, "pki");
    const ca = await createCa(pki, "ca", "kubernetes");
    const serving = await issue(pki, "ca", "apiserver", "/CN=kube-apiserver", ["127.0.0.1"]);
    const admin = await issue(pki, "ca", "admin", "/O=system:masters/CN=kubernetes-admin");
    server = createServer({ key: serving.key, cert: serving.cert, ca: [ca.cert], requestCert: true, rejectUnauthorized: true }, (req, res) => {
      res.setHeader("content-type", "application/json");
      if (req.url?.includes("watch=true")) {
        // headers only, as the API server does before the first event; then nothing
        res.writeHead(200);
        res.flushHeaders();
        req.on("close", () => counts.watchesClosed++);
        return;
      }
      res.end(JSON.stringify({ kind: "PodList", apiVersion: "v1", metadata: { resourceVersion: "7" }, items: [] }));
    });
    server.on("secureConnection", () => counts.connections++);
    // as the sandbox's API server (and kube-apiserver) keep idle connections
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    kubeconfig = path.join(dir, "admin.conf");
    writeFileSync(kubeconfig, kubeconfigYaml(`https://127.0.0.1:${port}`, ca.cert, admin));
  });

  after(() => {
    server?.closeAllConnections();
    server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("sequential requests reuse one kept-alive connection", async () => {
    const client = kubeClient(kubeconfig);
    const before = counts.connections;
    for (let i = 0; i < 5; i++) assert.equal((await client.get("/api/v1/pods")).status, 200);
    assert.equal(counts.connections - before, 1);
  });

  it("closeIdle closes the idle kept-alive connection: the next request opens a new one", async () => {
    const client = kubeClient(kubeconfig);
    assert.equal((await client.get("/api/v1/pods")).status, 200);
    const before = counts.connections;
    assert.equal((await client.get("/api/v1/pods")).status, 200);
    assert.equal(counts.connections - before, 0, "kept alive");
    client.closeIdle();
    assert.equal((await client.get("/api/v1/pods")).status, 200);
    assert.equal(counts.connections - before, 1, "a new connection after closeIdle");
  });

  it("verifies the server against the kubeconfig's CA, and follows a rewritten kubeconfig over new connections", async () => {
    const client = kubeClient(kubeconfig);
    assert.equal((await client.get("/api/v1/pods")).status, 200);
    const original = readFileSync(kubeconfig, "utf8");
    // The same server, but a kubeconfig of another cluster: its CA did not sign the server's certificate.
    const other = path.join(dir, "other-pki");
    const otherCa = await createCa(other, "ca", "kubernetes");
    const otherAdmin = await issue(other, "ca", "admin", "/O=system:masters/CN=kubernetes-admin");
    const server = /server: (\S+)/.exec(original)![1]!;
    const rewrite = (text: string, secondsAhead: number) => {
      writeFileSync(kubeconfig, text);
      const t = Date.now() / 1000 + secondsAhead;
      utimesSync(kubeconfig, t, t);
    };
    try {
      rewrite(kubeconfigYaml(server, otherCa.cert, otherAdmin), 1);
      await assert.rejects(client.get("/api/v1/pods"), /self.signed|unable to verify|certificate/i);
      const before = counts.connections;
      rewrite(original, 2);
      assert.equal((await client.get("/api/v1/pods")).status, 200);
      assert.equal(counts.connections - before, 1, "a new connection with the restored credentials");
    } finally {
      rewrite(original, 3);
    }
  });

  it("a watch without events stays open past Node's 5 s keep-alive timeout", { timeout: 20_000 }, async () => {
    const client = kubeClient(kubeconfig);
    let ended: Error | undefined | null = null;
    const lines: string[] = [];
    const abort = client.stream("/api/v1/pods?watch=true", (l) => lines.push(l), (err) => (ended = err));
    await sleep(6500);
    assert.equal(ended, null, `the watch ended: ${String(ended)}`);
    assert.equal(counts.watchesClosed, 0);
    abort();
    await sleep(100);
    assert.equal(counts.watchesClosed, 1);
  });
});
