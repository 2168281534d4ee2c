/**
 * The workloads as the supervisor runs them: main.js as a child process, the webhook verified over
 * TLS against a throwaway sandbox CA with the Service's DNS name, pools read from an API server that
 * demands the admin client certificate, and http-echo over plain HTTP. Traffic stays on 127.0.0.1.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { createServer as createHttpsServer, request as httpsRequest, type Server } from "node:https";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TLSSocket } from "node:tls";
import { after, before, describe, it } from "node:test";
import { kubeconfigYaml } from "../../../server/sim/apiserver/kubeconfig.js";
import { createCa, issue, type KeyPair } from "../../../server/sim/apiserver/pki.js";
import { WORKLOAD_MAIN } from "../../../server/sim/workloads/select.js";

interface Child {
  proc: ChildProcessWithoutNullStreams;
  port: number;
  lines: string[];
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts main.js and resolves on its ready line; every later stdout line is collected. */
function startChild(args: string[]): Promise<Child> {
  const proc = spawn(process.execPath, [WORKLOAD_MAIN, ...args], { stdio: ["pipe", "pipe", "pipe"] });
  const lines: string[] = [];
  let stderr = "";
  proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on("exit", (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    let buf = "";
    let ready = false;
    proc.stdout.on("data", (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (ready) {
          lines.push(line);
          continue;
        }
        ready = true;
        const msg = JSON.parse(line) as { ready: boolean; port?: number; error?: string };
        if (msg.ready && msg.port) resolve({ proc, port: msg.port, lines, exit });
        else reject(new Error(`not ready: ${msg.error} ${stderr}`));
      }
    });
    void exit.then(({ code }) => reject(new Error(`exited ${code} before ready: ${stderr}`)));
  });
}

async function stop(c: Child): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  c.proc.kill("SIGTERM");
  return c.exit;
}

/** Polls until `pred` holds (log lines arrive asynchronously). */
async function until(pred: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 100 && !pred(); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(pred(), what);
}

interface Reply {
  status: number;
  type: string | undefined;
  text: string;
}

function postReview(port: number, caPem: string, body: unknown, opts: { servername?: string; path?: string } = {}): Promise<Reply> {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: "127.0.0.1",
        port,
        method: "POST",
        path: opts.path ?? "/validate-metallb-io-v1beta1-ipaddresspool?timeout=10s",
        // what kube-apiserver does: dial the ClusterIP, verify the certificate for the Service's DNS name
        servername: opts.servername ?? "metallb-webhook-service.metallb-system.svc",
        ca: caPem,
        headers: { "content-type": "application/json", accept: "application/json, */*", "content-length": String(Buffer.byteLength(data)) },
        agent: false,
      },
      (res) => {
        let text = "";
        res.on("data", (d: Buffer) => (text += d.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, type: res.headers["content-type"], text }));
      },
    );
    req.on("error", reject);
    req.end(data);
  });
}

function review(uid: string, name: string, addresses: string[], opts: { namespace?: string; operation?: string } = {}): unknown {
  const namespace = opts.namespace ?? "metallb-system";
  return {
    kind: "AdmissionReview",
    apiVersion: "admission.k8s.io/v1",
    request: {
      uid,
      kind: { group: "metallb.io", version: "v1beta1", kind: "IPAddressPool" },
      resource: { group: "metallb.io", version: "v1beta1", resource: "ipaddresspools" },
      requestKind: { group: "metallb.io", version: "v1beta1", kind: "IPAddressPool" },
      requestResource: { group: "metallb.io", version: "v1beta1", resource: "ipaddresspools" },
      name,
      namespace,
      operation: opts.operation ?? "CREATE",
      userInfo: { username: "kubernetes-admin", groups: ["system:masters", "system:authenticated"] },
      object: { apiVersion: "metallb.io/v1beta1", kind: "IPAddressPool", metadata: { name, namespace, uid: "c6b5e7a1-0000-4000-8000-000000000001", creationTimestamp: "2024-05-01T10:00:00Z" }, spec: { addresses, autoAssign: true, avoidBuggyIPs: false } },
      oldObject: null,
      dryRun: false,
      options: { kind: "CreateOptions", apiVersion: "meta.k8s.io/v1", fieldManager: "kubectl-client-side-apply" },
    },
  };
}

/**
 * A stand-in API server serving only what the webhook reads: the pool list of metallb-system (or a
 * 404, as before the MetalLB CRDs exist), with client certificates required and verified.
 */
async function fakeApiServer(pki: string, serving: KeyPair, caPem: string): Promise<{ server: Server; port: number; mode: { pools: "served" | "absent" }; seen: Array<{ path: string; user: string }> }> {
  const mode: { pools: "served" | "absent" } = { pools: "served" };
  const seen: Array<{ path: string; user: string }> = [];
  const notFound = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: "the server could not find the requested resource", reason: "NotFound", details: {}, code: 404 };
  const server = createHttpsServer({ key: serving.key, cert: serving.cert, ca: [caPem], requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const peer = (req.socket as TLSSocket).getPeerCertificate();
    seen.push({ path: req.url ?? "", user: String(peer.subject?.CN ?? "") });
    res.setHeader("content-type", "application/json");
    if (req.url === "/apis/metallb.io/v1beta1/namespaces/metallb-system/ipaddresspools" && mode.pools === "served") {
      res.end(
        JSON.stringify({
          apiVersion: "metallb.io/v1beta1",
          kind: "IPAddressPoolList",
          metadata: { resourceVersion: "1234" },
          items: [{ apiVersion: "metallb.io/v1beta1", kind: "IPAddressPool", metadata: { name: "lab-pool", namespace: "metallb-system" }, spec: { addresses: ["192.168.10.200-192.168.10.220"] } }],
        }),
      );
      return;
    }
    res.statusCode = 404;
    res.end(JSON.stringify(notFound));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const addr = server.address();
  return { server, port: typeof addr === "object" && addr ? addr.port : 0, mode, seen };
}

describe("metallb-webhook process", () => {
  let dir: string;
  let pki: string;
  let ca: KeyPair;
  let api: Awaited<ReturnType<typeof fakeApiServer>>;
  let hook: Child;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "faultline-workloads-"));
    pki = path.join(dir, "pki");
    ca = await createCa(pki, "ca", "kubernetes");
    const serving = await issue(pki, "ca", "apiserver", "/CN=kube-apiserver", ["127.0.0.1"]);
    const admin = await issue(pki, "ca", "admin", "/O=system:masters/CN=kubernetes-admin");
    api = await fakeApiServer(pki, serving, ca.cert);
    const kubeconfig = path.join(dir, "admin.conf");
    writeFileSync(kubeconfig, kubeconfigYaml(`https://127.0.0.1:${api.port}`, ca.cert, admin));
    hook = await startChild(["metallb-webhook", "--pod", "metallb-system/controller-7d9cf7f8b-x2kqv", "--cert-dir", pki, "--kubeconfig", kubeconfig, "--host", "127.0.0.1", "--port", "0"]);
  });

  after(async () => {
    if (hook && hook.proc.exitCode === null) hook.proc.kill("SIGKILL");
    api?.server.close();
    api?.server.closeAllConnections();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("logs MetalLB's start-up lines after the ready line", async () => {
    await until(() => hook.lines.some((l) => l.includes("Serving webhook server")), "start-up lines");
    const first = JSON.parse(hook.lines[0]!) as Record<string, unknown>;
    assert.equal(first.msg, "MetalLB controller starting version 0.13.7 (commit v0.13.7, branch main)");
    assert.equal(first.level, "info");
    assert.match(String(first.ts), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it("admits a pool that overlaps nothing, reading pools with the admin certificate", async () => {
    const r = await postReview(hook.port, ca.cert, review("uid-1", "second", ["192.168.10.221-192.168.10.230"]));
    assert.equal(r.status, 200);
    assert.equal(r.type, "text/plain; charset=utf-8");
    assert.equal(r.text, '{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","response":{"uid":"uid-1","allowed":true,"status":{"metadata":{},"code":200}}}\n');
    assert.deepEqual(api.seen.slice(0, 2), [
      { path: "/apis/metallb.io/v1beta1/namespaces/metallb-system/ipaddresspools", user: "kubernetes-admin" },
      { path: "/apis/metallb.io/v1beta1/namespaces/metallb-system/addresspools", user: "kubernetes-admin" },
    ]);
  });

  it("denies an overlapping pool with MetalLB's text and logs the error", async () => {
    const r = await postReview(hook.port, ca.cert, review("uid-2", "reserved", ["192.168.10.210-192.168.10.215"]));
    const msg = 'CIDR "192.168.10.210/31" in pool "reserved" overlaps with already defined CIDR "192.168.10.208/29"';
    assert.deepEqual(JSON.parse(r.text), { kind: "AdmissionReview", apiVersion: "admission.k8s.io/v1", response: { uid: "uid-2", allowed: false, status: { metadata: {}, reason: msg, code: 403 } } });
    await until(() => hook.lines.some((l) => l.includes('"level":"error"')), "an error log line");
    const line = JSON.parse(hook.lines.find((l) => l.includes('"level":"error"'))!) as Record<string, unknown>;
    assert.deepEqual({ ...line, ts: "T" }, { action: "create", caller: "ipaddresspool_webhook.go:64", error: msg, level: "error", name: "reserved", namespace: "metallb-system", ts: "T", webhook: "ipAddress" });
  });

  it("denies malformed addresses and the wrong namespace", async () => {
    const bad = await postReview(hook.port, ca.cert, review("uid-3", "p", ["192.168.10.0/33"]));
    assert.equal(JSON.parse(bad.text).response.status.reason, 'parsing address pool p: invalid CIDR "192.168.10.0/33" in pool "p": invalid CIDR "192.168.10.0/33"');
    const ns = await postReview(hook.port, ca.cert, review("uid-4", "p", ["10.0.0.0/24"], { namespace: "default" }));
    assert.equal(JSON.parse(ns.text).response.status.reason, "resource must be created in metallb-system namespace");
  });

  it("treats an API without the metallb.io resources (404) as no pools", async () => {
    api.mode.pools = "absent";
    try {
      const r = await postReview(hook.port, ca.cert, review("uid-5", "reserved", ["192.168.10.210-192.168.10.215"]));
      assert.equal(JSON.parse(r.text).response.allowed, true);
    } finally {
      api.mode.pools = "served";
    }
  });

  it("serves a certificate valid for both Service names and nothing else", async () => {
    const v013 = await postReview(hook.port, ca.cert, review("uid-6", "x", ["10.9.0.0/24"]), { servername: "webhook-service.metallb-system.svc" });
    assert.equal(JSON.parse(v013.text).response.allowed, true);
    const fqdn = await postReview(hook.port, ca.cert, review("uid-7", "x", ["10.9.0.0/24"]), { servername: "metallb-webhook-service.metallb-system.svc.cluster.local" });
    assert.equal(JSON.parse(fqdn.text).response.allowed, true);
    await assert.rejects(postReview(hook.port, ca.cert, review("uid-8", "x", ["10.9.0.0/24"]), { servername: "other.metallb-system.svc" }), { code: "ERR_TLS_CERT_ALTNAME_INVALID" });
    const stranger = await createCa(path.join(dir, "stranger"), "ca", "kubernetes");
    await assert.rejects(postReview(hook.port, stranger.cert, review("uid-9", "x", ["10.9.0.0/24"])), { code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" });
  });

  it("answers unknown paths and plain HTTP like Go's net/http", async () => {
    const nf = await postReview(hook.port, ca.cert, {}, { path: "/mutate" });
    assert.equal(nf.status, 404);
    assert.equal(nf.text, "404 page not found\n");
    const plain = await new Promise<string>((resolve, reject) => {
      const s = connect(hook.port, "127.0.0.1", () => s.write("GET /validate-metallb-io-v1beta1-ipaddresspool HTTP/1.1\r\nHost: x\r\n\r\n"));
      let text = "";
      s.on("data", (d: Buffer) => (text += d.toString()));
      s.on("end", () => resolve(text));
      s.on("error", reject);
    });
    assert.equal(plain, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n");
  });

  it("exits 0 on SIGTERM", async () => {
    assert.deepEqual(await stop(hook), { code: 0, signal: null });
  });

  it("answers like MetalLB v0.14 with --release v0.14, reusing its pod's certificate", async () => {
    const v014 = await startChild(["metallb-webhook", "--pod", "metallb-system/controller-7d9cf7f8b-x2kqv", "--cert-dir", pki, "--kubeconfig", path.join(dir, "admin.conf"), "--host", "127.0.0.1", "--port", "0", "--release", "v0.14"]);
    try {
      const r = await postReview(v014.port, ca.cert, review("uid-10", "reserved", ["192.168.10.200/32"]));
      assert.deepEqual(JSON.parse(r.text).response.status, { metadata: {}, message: 'CIDR "192.168.10.200/32" in pool "reserved" overlaps with already defined CIDR "192.168.10.200/29"', reason: "Forbidden", code: 403 });
      assert.match(v014.lines.find((l) => l.includes("Serving webhook server")) ?? "", /"ts":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"/);
    } finally {
      assert.deepEqual(await stop(v014), { code: 0, signal: null });
    }
  });
});

describe("http-echo process", () => {
  it("says which pod answered and echoes the request, then exits 0 on SIGTERM", async () => {
    const echo = await startChild(["http-echo", "--pod", "default/hello-world-5d8f7c-abcde", "--host", "127.0.0.1", "--port", "0"]);
    try {
      const { text, local } = await new Promise<{ text: string; local: number }>((resolve, reject) => {
        const req = httpRequest({ host: "127.0.0.1", port: echo.port, method: "GET", path: "/healthz?probe=1", agent: false }, (res) => {
          let body = "";
          res.on("data", (d: Buffer) => (body += d.toString()));
          res.on("end", () => resolve({ text: body, local: req.socket?.localPort ?? 0 }));
        });
        req.on("error", reject);
        req.end();
      });
      assert.equal(text, `hello world from hello-world-5d8f7c-abcde\nmethod: GET\npath: /healthz?probe=1\nclient: 127.0.0.1:${local}\n`);
      await until(() => echo.lines.some((l) => l.includes("Serving request")), "a request log line");
      assert.match(echo.lines[0]!, /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d Server listening on port \d+$/);
      assert.ok(echo.lines.some((l) => l.endsWith(`Serving request: GET /healthz?probe=1 from 127.0.0.1:${local}`)));
    } finally {
      assert.deepEqual(await stop(echo), { code: 0, signal: null });
    }
  });

  it("reports a taken port on its ready line and exits 1", async () => {
    const first = await startChild(["http-echo", "--pod", "default/a", "--host", "127.0.0.1", "--port", "0"]);
    try {
      await assert.rejects(startChild(["http-echo", "--pod", "default/b", "--host", "127.0.0.1", "--port", String(first.port)]), /not ready: http-echo cannot listen on 127\.0\.0\.1:\d+: listen EADDRINUSE/);
    } finally {
      await stop(first);
    }
  });
});
