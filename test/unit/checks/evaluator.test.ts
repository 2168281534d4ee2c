/**
 * The evaluator with real triggers and no sandbox: a workspace folder (fs.watch), the API server module
 * on 127.0.0.1 (client-node list + watch, restarted under the evaluator), commands on this host for the
 * timer; and coalescing, transitions only, hints, the solution, and a clean stop.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Evaluator, type TimelineEvent, type Transition } from "../../../server/checks/evaluator.js";
import { objectiveSchema, type Objective } from "../../../server/checks/schema.js";
import { readConfined } from "../../../server/checks/sim-context.js";
import type { CheckContext } from "../../../server/checks/types.js";
import { createLogger } from "../../../server/log.js";
import { startApiServer, type ApiServer } from "../../../server/sim/apiserver/index.js";
import type { KObject } from "../../../server/sim/apiserver/objects.js";
import { parse as parseYaml } from "yaml";
import { cm, FIXTURES, flagshipPlan } from "../sim/apiserver/fixtures.js";
import { fakeContext, harnessKube, localExec } from "./support.js";

const objective = (id: string, check: unknown): Objective => objectiveSchema.parse({ id, title: id, check });

/** Every evaluator a test makes, stopped at the end whatever happened (a failed assertion must not leave timers running). */
const made: Evaluator[] = [];
function evaluator(opts: ConstructorParameters<typeof Evaluator>[0]): Evaluator {
  const ev = new Evaluator(opts);
  made.push(ev);
  return ev;
}
after(() => Promise.all(made.map((e) => e.stop())));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves with the first transition of `id` to `to` recorded from index `from` on. */
async function transition(events: TimelineEvent[], id: string, to: string, from = 0, ms = 5000): Promise<Transition> {
  const end = Date.now() + ms;
  for (;;) {
    const t = events.slice(from).find((e): e is Transition => e.type === "transition" && e.objective === id && e.to === to);
    if (t) return t;
    if (Date.now() > end) throw new Error(`${id} did not turn ${to} within ${ms} ms: ${JSON.stringify(events)}`);
    await sleep(5);
  }
}

function workspace(): { dir: string; ctx: CheckContext } {
  const dir = mkdtempSync(path.join(tmpdir(), "faultline-evaluator-"));
  return { dir, ctx: fakeContext({ workspaceDir: dir, readWorkspaceFile: (rel) => readConfined(dir, rel) }) };
}

describe("evaluator: transitions, the workspace, the timer", () => {
  it("the first result of each objective is a transition from pending; then only changes are emitted", async () => {
    const { dir, ctx } = workspace();
    writeFileSync(path.join(dir, "a.txt"), "x");
    const events: TimelineEvent[] = [];
    const ev = evaluator({ objectives: [objective("a", { file: { path: "a.txt" } }), objective("b", { file: { path: "b.txt" } })], context: ctx, onEvent: (e) => events.push(e) });
    const first = await ev.start();
    assert.deepEqual(first.map((s) => [s.objective, s.state, s.detail]), [["a", "pass", "a.txt exists"], ["b", "fail", "b.txt does not exist"]]);
    assert.deepEqual(events.map((e) => e.type === "transition" && [e.objective, e.from, e.to]).sort(), [["a", "pending", "pass"], ["b", "pending", "fail"]]);
    await ev.evaluateNow();
    await ev.evaluateNow();
    assert.equal(events.length, 2, "re-evaluating without a change emits nothing");
    await ev.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a workspace edit flips its objective at once, also in a folder that did not exist when watching began", async () => {
    const { dir, ctx } = workspace();
    const events: TimelineEvent[] = [];
    const ev = evaluator({
      objectives: [objective("prefix", { file: { path: "inventory/group_vars/k8s.yml", yaml: "kube_network_node_prefix", equals: 25 } })],
      context: ctx,
      resyncMs: 0,
      onEvent: (e) => events.push(e),
    });
    await ev.start();
    mkdirSync(path.join(dir, "inventory", "group_vars"), { recursive: true });
    await sleep(100);
    const written = Date.now();
    writeFileSync(path.join(dir, "inventory", "group_vars", "k8s.yml"), "kube_network_node_prefix: 25\n");
    const t = await transition(events, "prefix", "pass");
    assert.ok(t.at - written < 500, `flipped ${t.at - written} ms after the write`);
    assert.equal(t.detail, "inventory/group_vars/k8s.yml: kube_network_node_prefix is 25");
    await ev.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("what nothing announces (a command's result) is re-run on the timer", async () => {
    const flag = path.join(mkdtempSync(path.join(tmpdir(), "faultline-evaluator-")), "flag");
    const events: TimelineEvent[] = [];
    const ev = evaluator({
      objectives: [objective("flag", { exec: { in: "node/local", command: ["test", "-e", flag] } })],
      context: fakeContext({ exec: localExec() }),
      pollMs: 100,
      onEvent: (e) => events.push(e),
    });
    await ev.start();
    assert.equal(ev.state()[0]!.state, "fail");
    writeFileSync(flag, "");
    const t = await transition(events, "flag", "pass", 0, 2000);
    assert.equal(t.from, "fail");
    await ev.stop();
    rmSync(path.dirname(flag), { recursive: true, force: true });
  });

  it("coalesces: an objective never runs twice at once, and a burst of triggers queues one more run", async () => {
    let running = 0;
    let most = 0;
    let runs = 0;
    const exec = localExec();
    const ctx = fakeContext({
      exec: async (t, argv, o) => {
        runs++;
        most = Math.max(most, ++running);
        try {
          return await exec(t, argv, o);
        } finally {
          running--;
        }
      },
    });
    const ev = evaluator({ objectives: [objective("slow", { exec: { in: "node/local", command: "sleep 0.2" } })], context: ctx, pollMs: 60_000, resyncMs: 0 });
    await ev.start();
    runs = 0;
    await Promise.all([ev.evaluateNow(), ev.evaluateNow(), ev.evaluateNow(), ev.evaluateNow(), ev.evaluateNow()]);
    assert.equal(most, 1, "never two runs at once");
    assert.equal(runs, 2, "the first call runs, the four others share one queued run");
    await ev.stop();
  });
});

describe("evaluator: the write-up", () => {
  it("evaluateNow({ trigger: \"writeup\" }) re-runs the objectives that read the write-up, and only those", async () => {
    const { dir, ctx } = workspace();
    let text: string | null = null;
    let writeupReads = 0;
    const context = Object.assign(ctx, { writeup: async () => (writeupReads++, text) });
    const events: TimelineEvent[] = [];
    const ev = evaluator({
      objectives: [objective("w", { writeup: { minWords: 2, mentions: ["blackhole"] } }), objective("f", { file: { path: "f.txt" } })],
      context,
      onEvent: (e) => events.push(e),
      resyncMs: 0,
    });
    await ev.start();
    assert.deepEqual(ev.state().map((s) => [s.objective, s.state, s.detail]), [["w", "fail", "no write-up yet"], ["f", "fail", "f.txt does not exist"]]);
    const fChecked = ev.state()[1]!.checkedAt;
    text = "a blackhole route";
    const after = await ev.evaluateNow({ trigger: "writeup" });
    assert.deepEqual(after.map((s) => [s.objective, s.state]), [["w", "pass"], ["f", "fail"]]);
    assert.equal(after[1]!.checkedAt, fChecked, "the file objective was not run again");
    assert.equal(writeupReads, 2);
    assert.deepEqual(events.filter((e): e is Transition => e.type === "transition" && e.objective === "w").map((e) => [e.from, e.to]), [["pending", "fail"], ["fail", "pass"]]);
    await ev.stop();
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("evaluator: hints and the solution", () => {
  it("hints unlock by elapsed time, or in order on request; the solution is recorded once", async () => {
    const events: TimelineEvent[] = [];
    const ev = evaluator({
      objectives: [objective("w", { writeup: { minWords: 1 } })],
      context: fakeContext(),
      hints: [{ text: "ask me" }, { text: "soon", after: 80 }, { text: "later", after: 60_000 }],
      onEvent: (e) => events.push(e),
    });
    await ev.start();
    assert.deepEqual(ev.hints(), []);
    await sleep(150);
    assert.deepEqual(ev.hints(), [{ index: 1, text: "soon" }]);
    const asked = ev.requestHint();
    assert.deepEqual({ ...asked, at: 0 }, { type: "hint", index: 0, text: "ask me", reason: "requested", at: 0 });
    assert.equal(ev.requestHint()?.text, "later");
    assert.equal(ev.requestHint(), null);
    const shown = ev.revealSolution();
    assert.equal(ev.revealSolution(), shown);
    assert.deepEqual(
      events.filter((e) => e.type !== "transition").map((e) => (e.type === "hint" ? `${e.reason}:${e.text}` : e.type)),
      ["elapsed:soon", "requested:ask me", "requested:later", "solution"],
    );
    assert.deepEqual(ev.timeline(), events);
    await ev.stop();
  });

  it("hints whose time passed before the session was resumed unlock at start", async () => {
    const ev = evaluator({ objectives: [objective("w", { writeup: {} })], context: fakeContext(), hints: [{ text: "old", after: 1000 }], startedAt: Date.now() - 5000 });
    await ev.start();
    assert.deepEqual(ev.hints(), [{ index: 0, text: "old" }]);
    await ev.stop();
  });
});

describe("evaluator: Kubernetes watches", () => {
  let dir: string;
  let api: ApiServer;
  const log = createLogger({}, { level: "error" });
  const start = (port: number) => startApiServer({ host: "127.0.0.1", port, plan: flagshipPlan(), certDir: path.join(dir, "pki"), log, kubeVersion: "v1.24.6" });

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "faultline-evaluator-api-"));
    api = await start(0);
  });
  after(async () => {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("an object created through the API flips its objective within the watch's delivery; a restarted API server is could-not-check until it is back", { timeout: 30_000 }, async () => {
    const handle = harnessKube({ api } as never);
    let apiCalls = 0;
    const counted = { ...handle, objects: Object.assign(Object.create(handle.objects), { read: (...a: unknown[]) => (apiCalls++, (handle.objects.read as (...x: unknown[]) => unknown)(...a)) }) };
    const ctx = fakeContext({ kube: () => counted as typeof handle });
    const events: TimelineEvent[] = [];
    const ev = evaluator({ objectives: [objective("cm", { kube: { apiVersion: "v1", kind: "ConfigMap", namespace: "default", name: "lab", match: { data: { ok: "yes" } } } })], context: ctx, resyncMs: 0, onEvent: (e) => events.push(e) });
    try {
      await ev.start();
      assert.equal(ev.state()[0]!.detail, "ConfigMap lab not found in default");
      await sleep(300); // the watch is listed and open

      const created = Date.now();
      api.store.create("configmaps", cm("default", "lab", { ok: "yes" }));
      const pass = await transition(events, "cm", "pass");
      assert.ok(pass.at - created < 200, `flipped ${pass.at - created} ms after the create`);
      api.store.update("configmaps", cm("default", "lab", { ok: "no" }));
      assert.equal((await transition(events, "cm", "fail", events.indexOf(pass))).detail, 'ConfigMap default/lab: data.ok is "no", expected "yes"');
      const readsWhileWatched = apiCalls;

      const port = api.port;
      await api.close();
      const down = await transition(events, "cm", "error");
      assert.match(down.detail, /^could not check: API server unreachable \((ECONNREFUSED|ECONNRESET)\)/);
      api = await start(port); // a fresh store, as a re-provisioned sandbox has: the object is gone
      const back = await transition(events, "cm", "fail", events.indexOf(down), 10_000);
      assert.equal(back.detail, "ConfigMap lab not found in default");
      assert.ok(readsWhileWatched <= 1, `checks read the watched object, not the API (${readsWhileWatched} reads)`);
    } finally {
      await ev.stop();
      handle.config.destroy();
    }
  });
});

describe("evaluator: a kind installed later", () => {
  it("a watch of a kind the server does not serve yet keeps trying; once its CRD is installed the objective follows", { timeout: 30_000 }, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "faultline-evaluator-crd-"));
    const api = await startApiServer({ host: "127.0.0.1", port: 0, plan: flagshipPlan(), certDir: path.join(dir, "pki"), log: createLogger({}, { level: "error" }), kubeVersion: "v1.24.6" });
    const handle = harnessKube({ api } as never);
    const events: TimelineEvent[] = [];
    const ev = evaluator({
      objectives: [objective("widget", { kube: { apiVersion: "example.faultline.dev/v1", kind: "Widget", namespace: "default", name: "w1" } })],
      context: fakeContext({ kube: () => handle }),
      resyncMs: 0,
      onEvent: (e) => events.push(e),
    });
    try {
      await ev.start();
      assert.match(ev.state()[0]!.detail, /does not serve Widget/);
      await sleep(300);
      api.store.create("customresourcedefinitions.apiextensions.k8s.io", parseYaml(readFileSync(path.join(FIXTURES, "crd-widget.yaml"), "utf8")) as KObject);
      api.store.create("widgets.example.faultline.dev", { apiVersion: "example.faultline.dev/v1", kind: "Widget", metadata: { name: "w1", namespace: "default" }, spec: { size: 1 } });
      const t = await transition(events, "widget", "pass", 0, 10_000);
      assert.equal(t.detail, "Widget default/w1: exists");
    } finally {
      await ev.stop();
      handle.config.destroy();
      await api.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("evaluator: stop", () => {
  it("leaves no timer, watcher or watch behind, and drops results that arrive after it", async () => {
    const { dir, ctx } = workspace();
    const baseline = process.getActiveResourcesInfo().filter((r) => r !== "TTYWrap").length;
    const events: TimelineEvent[] = [];
    const ev = evaluator({
      objectives: [objective("f", { file: { path: "x/y.txt" } }), objective("slow", { exec: { in: "node/local", command: "sleep 0.3" } })],
      context: { ...ctx, exec: localExec(), watchState: () => () => {} },
      hints: [{ text: "h", after: 60_000 }],
      pollMs: 50,
      onEvent: (e) => events.push(e),
    });
    await ev.start();
    await sleep(80); // a poll run is in flight
    await ev.stop();
    const n = events.length;
    await sleep(400);
    assert.equal(events.length, n, "nothing is emitted after stop");
    const left = process.getActiveResourcesInfo().filter((r) => r !== "TTYWrap");
    assert.ok(left.length <= baseline, `left behind: ${left.join(", ")}`);
    assert.ok(!existsSync(path.join(dir, "x")));
    rmSync(dir, { recursive: true, force: true });
  });
});
