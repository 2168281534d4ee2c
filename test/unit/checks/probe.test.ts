/**
 * The probe check's logic: what nc, curl and ping print for each outcome (fixtures/probe-outcomes.json,
 * captured from the real tools against a kernel set up by fixtures/capture-probe-outcomes.sh) mapped to
 * open / closed / timeout with the reason; the commands it runs; how a destination is resolved (the
 * plan for nodes, the API server or the evaluator's watch for Services and pods); and judging against
 * `expect` and `status`. Runs in a real sandbox are in test/integration/checks.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { runCheck } from "../../../server/checks/kinds/index.js";
import { classifyProbe, probeArgv, type ProbeOutcome } from "../../../server/checks/kinds/probe.js";
import { probeCheckSchema, type CheckSpec, type ProbeCheck } from "../../../server/checks/schema.js";
import type { ExecOutcome } from "../../../server/checks/types.js";
import { projectRoot } from "../../../server/paths.js";
import type { ClusterPlan } from "../../../server/sim/plan.js";
import { fakeContext } from "./support.js";

interface Captured {
  protocol: "tcp" | "http" | "icmp";
  expect: { state: "open" | "closed" | "timeout"; reason: string };
  command: string;
  code: number;
  stdout: string;
  stderr: string;
}

const FIXTURES = path.join(projectRoot, "test", "unit", "checks", "fixtures");
const captured = JSON.parse(readFileSync(path.join(FIXTURES, "probe-outcomes.json"), "utf8")) as Captured[];
const probe = (spec: Record<string, unknown>): ProbeCheck => probeCheckSchema.parse(spec);
const outcome = (code: number, stdout = "", stderr = "", timedOut = false): ExecOutcome => ({ code, stdout, stderr, timedOut });

describe("probe outcomes from the real tools' output", () => {
  for (const c of captured) {
    it(`${c.protocol}: ${c.command} -> ${c.expect.state} (${c.expect.reason})`, () => {
      const o = classifyProbe(c.protocol, outcome(c.code, c.stdout, c.stderr));
      assert.ok(!("error" in o), JSON.stringify(o));
      assert.equal(o.state, c.expect.state);
      assert.equal(o.reason, c.expect.reason);
    });
  }

  it("every outcome is covered for every tool", () => {
    for (const protocol of ["tcp", "http", "icmp"] as const) {
      const states = new Set(captured.filter((c) => c.protocol === protocol).map((c) => c.expect.state));
      assert.deepEqual([...states].sort(), ["closed", "open", "timeout"], protocol);
    }
  });

  it("http: the status comes with an answer", () => {
    const c = captured.find((x) => x.command.endsWith(":82/"))!;
    assert.deepEqual(classifyProbe("http", outcome(c.code, c.stdout, c.stderr)), { state: "open", reason: "answered 503", status: 503 });
  });

  it("a tool that fails for another reason is an error, not an outcome", () => {
    const notFound = classifyProbe("tcp", outcome(127, "", "sh: 1: nc: not found"));
    assert.deepEqual(notFound, { error: "nc exited 127: sh: 1: nc: not found" } satisfies ProbeOutcome);
    assert.ok("error" in classifyProbe("icmp", outcome(2, "", "ping: 10.0.0.300: Name or service not known")));
    assert.ok("error" in classifyProbe("http", outcome(6, "000", "curl: (6) Could not resolve host: x")));
  });
});

describe("probe commands", () => {
  it("tcp: nc -z with the timeout in whole seconds; icmp: one ping; http: curl, https on 443", () => {
    assert.deepEqual(probeArgv(probe({ from: "node/cp-1", to: "10.0.0.1", port: 443, timeout: 1500 }), "10.0.0.1"), ["nc", "-z", "-v", "-n", "-w", "2", "10.0.0.1", "443"]);
    assert.deepEqual(probeArgv(probe({ from: "node/cp-1", to: "10.0.0.1" }), "10.0.0.1"), ["ping", "-c", "1", "-n", "-W", "2", "10.0.0.1"]);
    const http = probeArgv(probe({ from: "node/cp-1", to: "10.0.0.1", protocol: "http", path: "healthz" }), "10.0.0.1");
    assert.equal(http[0], "curl");
    assert.equal(http.at(-1), "http://10.0.0.1:80/healthz");
    assert.equal(probeArgv(probe({ from: "node/cp-1", to: "10.0.0.1", protocol: "http", port: 443 }), "10.0.0.1").at(-1), "https://10.0.0.1:443/");
    assert.equal(probeArgv(probe({ from: "node/cp-1", to: "10.0.0.1", protocol: "http", port: 9443, scheme: "https" }), "10.0.0.1").at(-1), "https://10.0.0.1:9443/");
  });
});

describe("probe check: resolving the destination and judging", () => {
  const plan = { nodes: [{ name: "cp-1", address: "192.168.10.10" }, { name: "worker-3", address: "192.168.10.13" }] } as unknown as ClusterPlan;
  const webhook = { metadata: { name: "metallb-webhook-service", namespace: "metallb-system" }, spec: { clusterIP: "10.233.0.10" } };
  /** A context whose exec records what ran and answers with a fixture's output. */
  const context = (answer: (argv: string[]) => ExecOutcome) => {
    const ran: Array<{ target: string; argv: string[] }> = [];
    const ctx = fakeContext({
      plan: async () => plan,
      watched: { get: (_v, kind, ns, name) => (kind === "Service" && ns === "metallb-system" ? (name === webhook.metadata.name ? webhook : null) : undefined) },
      exec: async (target, argv) => (ran.push({ target, argv }), answer(argv)),
    });
    return { ctx, ran };
  };
  const fixture = (cmd: RegExp) => {
    const c = captured.find((x) => cmd.test(x.command))!;
    return () => outcome(c.code, c.stdout, c.stderr);
  };
  const check = (spec: Record<string, unknown>): CheckSpec => ({ probe: probe(spec) });

  it("svc: the ClusterIP and the Service's port, from the source node; the flagship's symptom is a timeout", async () => {
    const { ctx, ran } = context(fixture(/nc .*10\.9\.0\.2 81$/));
    const r = await runCheck(check({ from: "node/cp-1", to: "svc/metallb-system/metallb-webhook-service", port: 443 }), ctx);
    assert.deepEqual(ran, [{ target: "node/cp-1", argv: ["nc", "-z", "-v", "-n", "-w", "2", "10.233.0.10", "443"] }]);
    assert.deepEqual(r, { status: "fail", detail: "tcp node/cp-1 -> svc/metallb-system/metallb-webhook-service (10.233.0.10:443): timeout (no answer) within 2 s, expected open" });
  });

  it("expect closed or timeout passes on that outcome, and fails when the destination answers", async () => {
    const refused = context(fixture(/nc .*10\.9\.0\.2 83$/)).ctx;
    assert.equal((await runCheck(check({ from: "node/cp-1", to: "10.9.0.2", port: 83, expect: "closed" }), refused)).status, "pass");
    const open = context(fixture(/nc .*10\.9\.0\.2 80$/)).ctx;
    assert.deepEqual(await runCheck(check({ from: "node/cp-1", to: "10.9.0.2", port: 80, expect: "timeout" }), open), {
      status: "fail",
      detail: "tcp node/cp-1 -> 10.9.0.2:80: open (connected), expected timeout",
    });
  });

  it("node: its address from the plan; a node the plan lacks is 'not yet reachable', not an error", async () => {
    const { ctx, ran } = context(fixture(/ping .*10\.8\.1\.5$/));
    const r = await runCheck(check({ from: "node/worker-3", to: "node/cp-1" }), ctx);
    assert.equal(ran[0]!.argv.at(-1), "192.168.10.10");
    assert.deepEqual(r, { status: "fail", detail: "icmp node/worker-3 -> node/cp-1 (192.168.10.10): closed (invalid argument (a blackhole route)), expected open" });
    assert.deepEqual(await runCheck(check({ from: "node/worker-3", to: "node/worker-9" }), ctx), { status: "fail", detail: "cannot probe node/worker-9: node worker-9 does not exist" });
  });

  it("http: the status must be 2xx/3xx, or the one asked for", async () => {
    const unavailable = context(fixture(/:82\/$/)).ctx;
    assert.deepEqual(await runCheck(check({ from: "node/cp-1", to: "10.9.0.2", protocol: "http", port: 82 }), unavailable), {
      status: "fail",
      detail: "http node/cp-1 -> 10.9.0.2:82: answered 503, expected 2xx/3xx",
    });
    assert.equal((await runCheck(check({ from: "node/cp-1", to: "10.9.0.2", protocol: "http", port: 82, status: 503 }), unavailable)).status, "pass");
    const silent = context(fixture(/:84\/$/)).ctx;
    assert.deepEqual(await runCheck(check({ from: "node/cp-1", to: "10.9.0.2", protocol: "http", port: 84 }), silent), {
      status: "fail",
      detail: "http node/cp-1 -> 10.9.0.2:84: connected, but no HTTP answer in time, expected 2xx/3xx",
    });
  });

  it("a destination that does not exist fails; a source that cannot run the tool is could-not-check", async () => {
    const { ctx } = context(fixture(/nc .*80$/));
    assert.deepEqual(await runCheck(check({ from: "node/cp-1", to: "svc/metallb-system/gone", port: 443 }), ctx), {
      status: "fail",
      detail: "cannot probe svc/metallb-system/gone: Service metallb-system/gone does not exist",
    });
    const broken = context(() => outcome(127, "", "sh: 1: nc: not found")).ctx;
    assert.deepEqual(await runCheck(check({ from: "node/cp-1", to: "10.0.0.1", port: 80 }), broken), {
      status: "error",
      detail: "could not check: node/cp-1: nc exited 127: sh: 1: nc: not found",
    });
    assert.deepEqual(await runCheck(check({ from: "pod/default/nope", to: "10.0.0.1", port: 80 }), fakeContext()), {
      status: "error",
      detail: "could not check: no sandbox in this test",
    });
  });
});
