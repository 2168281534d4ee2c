/**
 * CoreDNS as the supervisor runs it, minus the network namespace: the workload on unix sockets, the
 * real socat relays from corednsRelays() (bound to a free loopback port instead of :53), the real
 * `dig` as the client, and the sim API server (flagship plan) as the data source, changed with the
 * real kubectl.
 */
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { corednsRelays, corednsSockets, startCoreDns } from "../../../server/sim/workloads/coredns.js";
import type { RunningWorkload } from "../../../server/sim/workloads/types.js";
import { startHarness, type Harness } from "../../unit/sim/apiserver/harness.js";

const FORWARD_MS = 1500;

/** A port free on 127.0.0.1 for both UDP and TCP. */
async function freePort(): Promise<number> {
  for (;;) {
    const udp = createSocket("udp4");
    const port = await new Promise<number>((resolve) => udp.bind(0, "127.0.0.1", () => resolve(udp.address().port)));
    const tcpFree = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once("error", () => resolve(false));
      srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
    });
    udp.close();
    if (tcpFree) return port;
  }
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : -1) : 0;
      resolve({ code, out: stdout + stderr });
    });
  });
}

describe("CoreDNS behind socat, asked with dig, fed by the API server", { timeout: 120_000 }, () => {
  let h: Harness;
  let dns: RunningWorkload;
  let port: number;
  let kubeconfig: string;
  const relays: ChildProcess[] = [];
  const lines: string[] = [];

  const dig = async (...args: string[]) => (await run("dig", ["@127.0.0.1", "-p", String(port), "+time=3", "+tries=1", ...args])).out;
  /** `+noall +answer` lines as "name ttl class type data" with single spaces. */
  const answer = async (...args: string[]) =>
    (await dig("+noall", "+answer", ...args))
      .split("\n")
      .filter((l) => l && !l.startsWith(";"))
      .map((l) => l.split(/\s+/).join(" "));
  const kubectl = (...args: string[]) => run("kubectl", args, { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: h.dir, KUBECONFIG: kubeconfig });

  before(async () => {
    h = await startHarness();
    kubeconfig = path.join(h.dir, "admin.conf");
    writeFileSync(kubeconfig, h.api.kubeconfig(`https://127.0.0.1:${h.api.port}`), { mode: 0o600 });
    const sockDir = path.join(h.dir, "w");
    mkdirSync(sockDir);
    const sockets = corednsSockets(sockDir, "0");
    dns = await startCoreDns({ sockets, kubeconfig, podIP: "10.233.64.129", upstream: "192.168.10.1", forwardTimeoutMs: FORWARD_MS, loopProbe: false, log: (l) => lines.push(l) });
    port = await freePort();
    // the supervisor's relays, on a loopback port instead of the pod's :53
    for (const r of corednsRelays(sockets).filter((x) => x.port === 53)) {
      const argv = r.argv.map((a) => a.replace(/^(UDP4-RECVFROM|TCP-LISTEN):53,/, `$1:${port},bind=127.0.0.1,`));
      relays.push(spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "ignore", "inherit"] }));
    }
    for (let i = 0; i < 50; i++) {
      const udp = await answer("kubernetes.default.svc.cluster.local");
      const tcp = await answer("+tcp", "kubernetes.default.svc.cluster.local");
      if (udp.length && tcp.length) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.fail("the relays never answered");
  });

  after(async () => {
    for (const r of relays) r.kill("SIGTERM");
    await dns?.close();
    await h?.close();
  });

  it("logs CoreDNS's start-up lines", () => {
    assert.ok(lines.includes(".:53"), lines.join("\n"));
    assert.ok(lines.includes("CoreDNS-1.8.6"));
  });

  it("resolves Services to their ClusterIP, authoritatively, without RA", async () => {
    assert.deepEqual(await answer("kubernetes.default.svc.cluster.local"), ["kubernetes.default.svc.cluster.local. 5 IN A 10.233.0.1"]);
    assert.deepEqual(await answer("coredns.kube-system.svc.cluster.local"), ["coredns.kube-system.svc.cluster.local. 5 IN A 10.233.0.3"]);
    assert.deepEqual(await answer("Hello-World.Default.svc.cluster.local"), ["Hello-World.Default.svc.cluster.local. 5 IN A 10.233.0.11"]);
    const full = await dig("kubernetes.default.svc.cluster.local");
    assert.match(full, /status: NOERROR/);
    assert.match(full, /flags: qr aa rd;/);
    assert.match(full, /WARNING: recursion requested but not available/);
    assert.match(full, /COOKIE: [0-9a-f]+ \(echoed\)/);
  });

  it("resolves pod names (pods insecure)", async () => {
    assert.deepEqual(await answer("10-233-66-3.default.pod.cluster.local"), ["10-233-66-3.default.pod.cluster.local. 5 IN A 10.233.66.3"]);
  });

  it("answers SRV with the port and the target's address", async () => {
    assert.deepEqual(await answer("SRV", "_http._tcp.hello-world.default.svc.cluster.local"), ["_http._tcp.hello-world.default.svc.cluster.local. 5 IN SRV 0 100 80 hello-world.default.svc.cluster.local."]);
    const extra = (await dig("+noall", "+additional", "SRV", "_http._tcp.hello-world.default.svc.cluster.local")).split("\n").filter((l) => l && !l.startsWith(";"));
    assert.deepEqual(extra.map((l) => l.split(/\s+/).join(" ")), ["hello-world.default.svc.cluster.local. 5 IN A 10.233.0.11"]);
  });

  it("answers PTR for a ClusterIP and for an endpoint's pod IP", async () => {
    assert.deepEqual(await answer("-x", "10.233.0.11"), ["11.0.233.10.in-addr.arpa. 5 IN PTR hello-world.default.svc.cluster.local."]);
    assert.deepEqual(await answer("-x", "10.233.66.3"), ["3.66.233.10.in-addr.arpa. 5 IN PTR 10-233-66-3.hello-world.default.svc.cluster.local."]);
  });

  it("says NXDOMAIN with the cluster's SOA for unknown names", async () => {
    const out = await dig("nope.default.svc.cluster.local");
    assert.match(out, /status: NXDOMAIN/);
    assert.match(out, /cluster\.local\.\s+5\s+IN\s+SOA\s+ns\.dns\.cluster\.local\. hostmaster\.cluster\.local\. \d+ 7200 1800 86400 5/);
  });

  it("answers over TCP through the TCP relay", async () => {
    const out = await dig("+tcp", "kubernetes.default.svc.cluster.local");
    assert.match(out, /kubernetes\.default\.svc\.cluster\.local\.\s+5\s+IN\s+A\s+10\.233\.0\.1/);
    assert.match(out, /SERVER: 127\.0\.0\.1#\d+\(127\.0\.0\.1\) \(TCP\)/);
  });

  it("answers SERVFAIL for names outside the cluster once forward gives up, later than socat's default 0.5 s", async () => {
    const t0 = Date.now();
    const out = await dig("example.com");
    const took = Date.now() - t0;
    assert.match(out, /status: SERVFAIL/);
    assert.ok(took >= FORWARD_MS - 50, `${took} ms`);
    assert.ok(lines.some((l) => /^\[ERROR\] plugin\/errors: 2 example\.com\. A: read udp 10\.233\.64\.129:\d+->192\.168\.10\.1:53: i\/o timeout$/.test(l)), lines.join("\n"));
  });

  it("resolves a Service created with kubectl within about a second, and forgets it once deleted", async () => {
    const name = "dns-probe.default.svc.cluster.local";
    // let the view age a little, so the next query would not re-list on its own
    await answer(name);
    const created = await kubectl("create", "service", "clusterip", "dns-probe", "--tcp=80:8080");
    assert.equal(created.code, 0, created.out);
    const t0 = Date.now();
    const ip = (await kubectl("get", "service", "dns-probe", "-o", "jsonpath={.spec.clusterIP}")).out.trim();
    assert.match(ip, /^10\.233\.\d+\.\d+$/);
    let got: string[] = [];
    while (Date.now() - t0 < 5000) {
      got = await answer(name);
      if (got.length) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const took = Date.now() - t0;
    assert.deepEqual(got, [`${name}. 5 IN A ${ip}`]);
    assert.ok(took < 2000, `resolved after ${took} ms`);

    assert.equal((await kubectl("delete", "service", "dns-probe")).code, 0);
    const t1 = Date.now();
    let status = "";
    while (Date.now() - t1 < 5000) {
      status = /status: (\w+)/.exec(await dig(name))?.[1] ?? "";
      if (status === "NXDOMAIN") break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(status, "NXDOMAIN");
  });
});
