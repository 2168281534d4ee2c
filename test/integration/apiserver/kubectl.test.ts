/**
 * The real kubectl (/usr/bin/kubectl, v1.32) against the API server on 127.0.0.1:0, seeded from the
 * flagship plan: every entry of compat.ts, `get -w` seeing changes, and the plain-discovery fallback.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { createLogger } from "../../../server/log.js";
import { projectRoot } from "../../../server/paths.js";
import { startApiServer, type ApiServer } from "../../../server/sim/apiserver/index.js";
import { createCa, issue } from "../../../server/sim/apiserver/pki.js";
import type { ClusterPlan } from "../../../server/sim/plan.js";
import { COMPAT, NETSHOOT_LOG, type CompatCase } from "./compat.js";
import { KUBECTL, kubectl, type Run } from "./kubectl-run.js";

const plan = JSON.parse(readFileSync(path.join(projectRoot, "test", "fixtures", "apiserver", "flagship-plan.json"), "utf8")) as ClusterPlan;

function check(c: CompatCase, r: Run): string[] {
  const problems: string[] = [];
  if (r.code !== (c.exit ?? 0)) problems.push(`exit ${r.code}, expected ${c.exit ?? 0}`);
  for (const re of c.expect) if (!re.test(r.out)) problems.push(`no match for ${re}`);
  for (const re of c.reject ?? []) if (re.test(r.out)) problems.push(`unexpected match for ${re}`);
  return problems;
}

describe("kubectl against the sim API server", { timeout: 300_000 }, () => {
  let api: ApiServer;
  let dir: string;
  const kc = { admin: "", stranger: "" };

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "faultline-kubectl-"));
    // no sandbox here, so no workloads: the log file a workload would have written stands in for one
    mkdirSync(path.join(dir, "logs"));
    writeFileSync(path.join(dir, "logs", "default_netshoot.log"), NETSHOOT_LOG);
    api = await startApiServer({ host: "127.0.0.1", port: 0, plan, certDir: path.join(dir, "pki"), log: createLogger({ test: "kubectl" }, { level: "warn" }), kubeVersion: "v1.24.6", logsDir: path.join(dir, "logs") });
    const server = `https://127.0.0.1:${api.port}`;
    kc.admin = path.join(dir, "admin.conf");
    writeFileSync(kc.admin, api.kubeconfig(server), { mode: 0o600 });
    // a certificate with the admin's name from a CA the server does not trust
    const other = path.join(dir, "other");
    await createCa(other, "ca", "kubernetes");
    const pair = await issue(other, "ca", "admin", "/O=system:masters/CN=kubernetes-admin");
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    kc.stranger = path.join(dir, "stranger.conf");
    writeFileSync(kc.stranger, api.kubeconfig(server).replace(/client-certificate-data: .*/, `client-certificate-data: ${b64(pair.cert)}`).replace(/client-key-data: .*/, `client-key-data: ${b64(pair.key)}`), { mode: 0o600 });
  });

  after(async () => {
    await api?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe("compatibility list (compat.ts)", () => {
    const results: Array<{ args: string; ok: boolean; pending: boolean }> = [];
    for (const c of COMPAT) {
      const label = `kubectl ${c.args.join(" ")}${c.as === "stranger" ? " (foreign client certificate)" : ""}`;
      it(label, c.pending ? { todo: c.pending } : {}, async () => {
        const r = await kubectl(c.as === "stranger" ? kc.stranger : kc.admin, dir, c.args, c.stdin);
        const problems = check(c, r);
        results.push({ args: label, ok: problems.length === 0, pending: Boolean(c.pending) });
        assert.deepEqual(problems, [], `output was:\n${r.out}`);
      });
    }
    it("pass ratio", (t) => {
      const passed = results.filter((r) => r.ok).length;
      t.diagnostic(`kubectl compatibility: ${passed}/${COMPAT.length} pass (${COMPAT.filter((c) => c.pending).length} pending)`);
      for (const r of results.filter((x) => !x.ok)) t.diagnostic(`${r.pending ? "pending" : "FAILED"}: ${r.args}`);
      assert.equal(results.filter((r) => !r.ok && !r.pending).length, 0);
    });
  });

  it("kubectl get pods -w shows a pod being added and becoming Running", async () => {
    const child = spawn(KUBECTL, ["get", "pods", "-n", "default", "-w"], { env: { PATH: process.env.PATH ?? "", HOME: dir, KUBECONFIG: kc.admin } });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (out += c.toString()));
    const waitFor = async (re: RegExp, ms: number) => {
      const end = Date.now() + ms;
      while (!re.test(out)) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${re}; output so far:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    try {
      await waitFor(/^netshoot\s+1\/1\s+Running/m, 10_000);
      const created = api.store.create("pods", { apiVersion: "v1", kind: "Pod", metadata: { name: "watched", namespace: "default" }, spec: { nodeName: "worker-2", containers: [{ name: "c", image: "nginx:1.25" }] } });
      await waitFor(/^watched\s+0\/1\s+Pending\s+0\s+\S+$/m, 10_000);
      api.store.update("pods", { ...created, status: { phase: "Running", podIP: "10.233.65.9", containerStatuses: [{ name: "c", ready: true, restartCount: 0, state: { running: { startedAt: new Date().toISOString() } } }] } }, { subresource: "status" });
      await waitFor(/^watched\s+1\/1\s+Running\s+0\s+\S+$/m, 10_000);
      // the header is printed once
      assert.equal(out.match(/^NAME\s+READY/gm)?.length, 1);
    } finally {
      child.kill();
      api.store.delete("pods", "default", "watched");
    }
  });

  it("falls back to plain discovery when aggregated discovery is not served", async () => {
    const plain = await startApiServer({ host: "127.0.0.1", port: 0, plan, certDir: path.join(dir, "pki"), log: createLogger({}, { level: "warn" }), aggregatedDiscovery: false, kubeVersion: "v1.24.6" });
    try {
      const conf = path.join(dir, "plain.conf");
      writeFileSync(conf, plain.kubeconfig(`https://127.0.0.1:${plain.port}`), { mode: 0o600 });
      const home = mkdtempSync(path.join(dir, "home-"));
      const r = await kubectl(conf, home, ["api-resources"]);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /^deployments\s+deploy\s+apps\/v1\s+true\s+Deployment$/m);
      const g = await kubectl(conf, home, ["get", "deploy", "-n", "metallb-system"]);
      assert.match(g.out, /^controller\s+1\/1\s+1\s+1\s+\S+$/m);
    } finally {
      await plain.close();
    }
  });
});
