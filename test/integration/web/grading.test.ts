/**
 * Live grading in the web server, against the real server on port 0 with real sandboxes and a real
 * SQLite store: the flagship attempt reports its objectives from the evaluator; a fix made inside the
 * sandbox (the same sed the e2e test types) turns inventory-fixed green, records the transition and
 * pushes it over socket.io to the owner and a reviewer watching; checks on demand are the owner's and
 * rate-limited; stopping the attempt stops its evaluator (no check shell left, nothing recorded after);
 * hints opened by time are recorded once, requested or not; a restarted server shows the last known
 * states and grades adopted sandboxes again without repeating transitions; a lab no longer offered is
 * an attempt event, not a crash; and once every server is closed nothing is left running.
 */
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { serverMessages, type ObjectiveView, type ServerMessage } from "../../../shared/protocol.js";
import { projectRoot } from "../../../server/paths.js";
import { cleanup } from "../../support/sandbox.js";
import { Client, firstAdmin, invited, startTestServer, waitForAttempt, type TestServer } from "./helpers.js";
import { connect, ok, once, type ClientSocket } from "./socket.js";

const FLAGSHIP = "webhook-to-kernel";
/** small-ok with hints: one asked for, one opened by time 2 s after the start, one much later. */
const HINTED = "small-hints";
const VARS = "/root/workspace/inventory/mycluster/group_vars/k8s_cluster/k8s-cluster.yml";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const byId = (objectives: ObjectiveView[], id: string) => objectives.find((o) => o.id === id)!;
const checked = (a: { objectives: ObjectiveView[] }) => a.objectives.every((o) => o.state !== "pending");

/** The server's child processes (the evaluators' check shells, terminals), with their command lines. */
function children(): Array<{ pid: number; cmdline: string }> {
  const out: Array<{ pid: number; cmdline: string }> = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === process.pid) out.push({ pid: Number(d), cmdline: readFileSync(`/proc/${d}/cmdline`, "utf8").replaceAll("\0", " ") });
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

async function until<T>(what: string, fn: () => T | Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms; last: ${JSON.stringify(v).slice(0, 2000)}`);
    await sleep(100);
  }
}

/** The same browser (its cookies) at another server's address. */
function moved(c: Client, s: TestServer): Client {
  const m = new Client(s.url);
  for (const [k, v] of c.cookies) m.cookies.set(k, v);
  return m;
}

describe("live grading through the web server", { timeout: 600_000 }, () => {
  const sockets: ClientSocket[] = [];
  /** Servers still open (each test closes the ones it is done with; `after` any left by a failure). */
  const servers = new Set<TestServer>();
  let driver: TestServer["driver"] | null = null;
  let labsDir: string;
  let dataDir: string | undefined;
  let s: TestServer;
  let trainee: Client;
  let other: Client;
  let reviewer: Client;
  let flagship: string;
  let hinted: string;

  before(() => {
    labsDir = mkdtempSync(path.join(tmpdir(), "faultline-labs-"));
    cpSync(path.join(projectRoot, "labs", FLAGSHIP), path.join(labsDir, FLAGSHIP), { recursive: true });
    cpSync(path.join(projectRoot, "test", "fixtures", "labs", "small-ok"), path.join(labsDir, HINTED), { recursive: true });
    const readme = path.join(labsDir, HINTED, "README.md");
    const text = readFileSync(readme, "utf8")
      .replace("id: small-ok", `id: ${HINTED}`)
      .replace("objectives:", 'hints:\n  - {text: "asked for"}\n  - {after: 2s, text: "opened by time"}\n  - {after: 1h, text: "much later"}\nobjectives:');
    writeFileSync(readme, text);
  });

  after(async () => {
    for (const x of sockets) x.close();
    for (const x of servers) await x.stop({ keepData: true }).catch(() => {});
    if (driver) await cleanup(driver).catch(() => {});
    rmSync(labsDir, { recursive: true, force: true });
  });

  async function serve(dir: string = labsDir): Promise<TestServer> {
    const x = await startTestServer({ labsDir: dir, ...(dataDir ? { dataDir } : {}), maxSandboxesPerUser: 2 });
    dataDir = x.dataDir;
    driver = x.driver;
    servers.add(x);
    return x;
  }

  /** Closes a server; its sandboxes and data stay for the next. */
  async function halt(x: TestServer): Promise<void> {
    servers.delete(x);
    await x.stop({ keepData: true });
  }

  async function sock(who: Client): Promise<ClientSocket> {
    const x = await connect(s.url, who);
    sockets.push(x);
    return x;
  }

  it("reports the flagship's objectives from the evaluator: each not yet, with the reason", async () => {
    s = await serve();
    const admin = await firstAdmin(s);
    trainee = await invited(s, admin, "trainee", "grade@example.com");
    other = await invited(s, admin, "trainee", "other@example.com");
    reviewer = await invited(s, admin, "reviewer", "rev@example.com");
    const started = await trainee.post("/api/attempts", { lab: FLAGSHIP });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    flagship = started.body.attempt.id;
    // Before the sandbox is up there is nothing to check: every objective pending, in the lab's order.
    assert.deepEqual(
      started.body.attempt.objectives.map((o: ObjectiveView) => [o.id, o.state, o.detail, o.since]),
      ["pool-admitted", "blocks-disjoint", "inventory-fixed", "webhook-reachable", "write-up"].map((id) => [id, "pending", null, null]),
    );
    const running = await waitForAttempt(trainee, flagship, (a) => a.state !== "provisioning", 120_000);
    assert.equal(running.state, "running", JSON.stringify(running.events));
    assert.ok(s.manager.grading.graded(flagship), "the running sandbox is graded");

    const first = await waitForAttempt(trainee, flagship, checked, 30_000);
    for (const o of first.objectives as ObjectiveView[]) {
      assert.equal(o.state, "fail", `${o.id}: ${o.state}: ${o.detail}`);
      assert.ok(o.since && !Number.isNaN(Date.parse(o.since)), `${o.id} has a since`);
    }
    assert.equal(byId(first.objectives, "pool-admitted").title, "MetalLB admits the IPAddressPool `lab-pool`");
    assert.equal(byId(first.objectives, "pool-admitted").detail, "IPAddressPool lab-pool not found in metallb-system");
    assert.equal(byId(first.objectives, "inventory-fixed").detail, "inventory/mycluster/group_vars/k8s_cluster/k8s-cluster.yml does not set kube_network_node_prefix");
    assert.equal(byId(first.objectives, "write-up").detail, "no write-up yet");
    // The first results are the timeline's first transitions, from pending, at the times reported.
    const recorded = await s.store.transitions(flagship);
    assert.deepEqual(recorded.map((t) => [t.objectiveId, t.from, t.to]).sort(), first.objectives.map((o: ObjectiveView) => [o.id, "pending", "fail"]).sort());
    for (const t of recorded) assert.equal(t.at, byId(first.objectives, t.objectiveId).since);
    // A reviewer reads the same objectives.
    assert.deepEqual((await reviewer.get(`/api/attempts/${flagship}`)).body.attempt.objectives, first.objectives);
  });

  it("turns inventory-fixed green when the inventory is fixed in the sandbox: recorded, and pushed to the owner and a reviewer watching", async () => {
    const mine = await sock(trainee);
    const theirs = await sock(reviewer);
    await ok(mine, "attempt:watch", { attemptId: flagship });
    await ok(theirs, "attempt:watch", { attemptId: flagship });
    const passed = (m: ServerMessage<"attempt:objectives">) => m.attemptId === flagship && byId(m.objectives, "inventory-fixed")?.state === "pass";
    const pushed = [once<ServerMessage<"attempt:objectives">>(mine, "attempt:objectives", passed, 30_000), once<ServerMessage<"attempt:objectives">>(theirs, "attempt:objectives", passed, 30_000)];
    const sandbox = (await s.store.attemptById(flagship))!.sandboxName;
    const r = await s.driver.exec(sandbox, "node/cp-1", ["sed", "-i", "s/^kube_network_nodes_prefix:/kube_network_node_prefix:/", VARS], { timeoutMs: 10_000 });
    assert.equal(r.code, 0, r.stderr);
    const [toOwner, toReviewer] = await Promise.all(pushed);
    // The push is the protocol's message, as its schema declares it.
    assert.deepEqual(serverMessages["attempt:objectives"].parse(toOwner), toOwner);
    assert.deepEqual(toReviewer, toOwner);
    const fixed = byId(toOwner!.objectives, "inventory-fixed");
    assert.equal(fixed.detail, "inventory/mycluster/group_vars/k8s_cluster/k8s-cluster.yml: kube_network_node_prefix is 25");
    assert.equal(byId(toOwner!.objectives, "blocks-disjoint").state, "fail", "the cluster is not rebuilt yet");

    const t = (await s.store.transitions(flagship)).filter((x) => x.objectiveId === "inventory-fixed");
    assert.deepEqual(t.map((x) => [x.from, x.to]), [["pending", "fail"], ["fail", "pass"]]);
    assert.equal(t[1]!.detail, fixed.detail);
    assert.equal(t[1]!.at, fixed.since);
    const view = (await trainee.get(`/api/attempts/${flagship}`)).body.attempt;
    assert.deepEqual(byId(view.objectives, "inventory-fixed"), fixed);
    assert.ok(view.transitions.some((x: { id: number }) => x.id === t[1]!.id), "the timeline the API returns has it");
  });

  it("checks on demand for the owner only, at most every few seconds", async () => {
    assert.equal((await other.post(`/api/attempts/${flagship}/check`)).status, 404, "another trainee: as if it did not exist");
    assert.equal((await reviewer.post(`/api/attempts/${flagship}/check`)).status, 403);
    const now = await trainee.post(`/api/attempts/${flagship}/check`);
    assert.equal(now.status, 200, JSON.stringify(now.body));
    assert.equal(byId(now.body.objectives, "inventory-fixed").state, "pass");
    assert.equal(now.body.objectives.length, 5);
    const again = await trainee.post(`/api/attempts/${flagship}/check`);
    assert.equal(again.status, 429);
    assert.equal(again.body.error.code, "rate_limited");
    assert.match(again.body.error.message, /^the objectives were checked a moment ago; check again in [1-5] s$/);
    assert.match(again.headers.get("retry-after") ?? "", /^[1-5]$/);
  });

  it("records hints opened by time once, and asked-for ones once, whoever is first", async () => {
    const started = await trainee.post("/api/attempts", { lab: HINTED });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    hinted = started.body.attempt.id;
    const up = await waitForAttempt(trainee, hinted, (a) => a.state !== "provisioning", 90_000);
    assert.equal(up.state, "running");
    const opened = await waitForAttempt(trainee, hinted, (a) => a.hints[1].revealed && checked(a), 15_000);
    assert.deepEqual(opened.hints.map((h: { revealed: boolean }) => h.revealed), [false, true, false]);
    assert.equal(opened.hints[1].text, "opened by time");
    assert.equal(byId(opened.objectives, "blocks-disjoint").state, "pass");
    // Asking for the same hint, and for another twice at once, records each once.
    assert.equal((await trainee.post(`/api/attempts/${hinted}/hints/1`)).status, 200);
    const twice = await Promise.all([trainee.post(`/api/attempts/${hinted}/hints/0`), trainee.post(`/api/attempts/${hinted}/hints/0`)]);
    assert.deepEqual(twice.map((r) => r.status), [200, 200]);
    assert.equal((await trainee.post(`/api/attempts/${hinted}/hints/2`)).status, 403, "not yet");
    const reveals = await s.store.reveals(hinted);
    assert.deepEqual(reveals.map((r) => [r.kind, r.ref]), [["hint", "1"], ["hint", "0"]]);
  });

  it("stops the evaluator with the attempt: no check shell left, nothing recorded after", async () => {
    const sandbox = (await s.store.attemptById(flagship))!.sandboxName;
    const initPid = s.driver.meta(sandbox).initPid;
    const shells = () => children().filter((c) => c.cmdline.includes(`/proc/${initPid}/`));
    // The evaluator's exec and probe checks run through long-lived shells in the sandbox.
    await until("a check shell", shells, (x) => x.length > 0, 15_000);
    const stopped = await trainee.post(`/api/attempts/${flagship}/stop`);
    assert.equal(stopped.status, 200);
    assert.equal(s.manager.grading.graded(flagship), false);
    assert.deepEqual(s.manager.grading.active(), [hinted]);
    await until("the check shells gone", shells, (x) => x.length === 0, 5000);
    const recorded = (await s.store.transitions(flagship)).length;
    await sleep(1500);
    assert.equal((await s.store.transitions(flagship)).length, recorded, "nothing recorded once stopped");
    // The last known states stay: the fix passes, the rest not yet (no "could not check" from the teardown).
    const view = stopped.body.attempt;
    assert.deepEqual(view.objectives.map((o: ObjectiveView) => [o.id, o.state]), [
      ["pool-admitted", "fail"], ["blocks-disjoint", "fail"], ["inventory-fixed", "pass"], ["webhook-reachable", "fail"], ["write-up", "fail"],
    ]);
    assert.deepEqual(view.events.map((e: { kind: string }) => e.kind), ["started", "provisioned", "stopped"]);
  });

  it("a restarted server shows the last known states, and grades an adopted sandbox again without repeating transitions", async () => {
    const before = {
      flagship: (await trainee.get(`/api/attempts/${flagship}`)).body.attempt.objectives,
      hinted: (await trainee.get(`/api/attempts/${hinted}`)).body.attempt.objectives,
      transitions: (await s.store.transitions(hinted)).length,
    };
    for (const x of sockets.splice(0)) x.close();
    await halt(s);

    s = await serve();
    const t2 = moved(trainee, s);
    // The stopped attempt: its recorded states, with the times they were reached.
    assert.deepEqual((await t2.get(`/api/attempts/${flagship}`)).body.attempt.objectives, before.flagship);
    // The running one: adopted and graded again; the same states, the same times, no new transitions.
    assert.ok(s.manager.grading.graded(hinted), "the adopted sandbox is graded");
    await s.manager.grading.checkNow(hinted);
    const adopted = (await t2.get(`/api/attempts/${hinted}`)).body.attempt;
    assert.equal(adopted.state, "running");
    assert.deepEqual(adopted.objectives, before.hinted);
    assert.equal((await s.store.transitions(hinted)).length, before.transitions);
    assert.equal((await s.store.reveals(hinted)).length, 2, "the hint opened by time is not recorded again");
    assert.equal(adopted.events.some((e: { kind: string }) => e.kind === "grading_failed"), false);
  });

  it("a sandbox whose lab is no longer offered is not graded: an attempt event says why, the server carries on", async () => {
    await halt(s);
    const fewer = mkdtempSync(path.join(tmpdir(), "faultline-labs-"));
    try {
      cpSync(path.join(labsDir, FLAGSHIP), path.join(fewer, FLAGSHIP), { recursive: true });
      s = await serve(fewer);
      const t3 = moved(trainee, s);
      assert.equal(s.manager.grading.graded(hinted), false);
      const a = (await t3.get(`/api/attempts/${hinted}`)).body.attempt;
      assert.equal(a.state, "running", "adopted all the same");
      const failed = a.events.filter((e: { kind: string }) => e.kind === "grading_failed");
      assert.deepEqual(failed.map((e: { detail: string }) => e.detail), [
        `live grading could not start: the lab "${HINTED}" is no longer offered by this server; the objectives show their last recorded state`,
      ]);
      // Its objectives as last recorded, named by id (the lab and its titles are gone).
      assert.deepEqual(a.objectives.map((o: ObjectiveView) => [o.id, o.title, o.state]), [["blocks-disjoint", "blocks-disjoint", "pass"]]);
      assert.equal((await t3.post(`/api/attempts/${hinted}/check`)).status, 409);
      assert.equal((await t3.get("/healthz")).status, 200);
      assert.equal((await t3.post(`/api/attempts/${hinted}/stop`)).status, 200);
      await halt(s);
    } finally {
      rmSync(fewer, { recursive: true, force: true });
    }
  });

  it("leaves nothing running once the servers are closed: no timer, watch, socket or child process", async () => {
    const left = await until(
      "resources released",
      () => process.getActiveResourcesInfo().filter((r) => !["TTYWrap", "PipeWrap"].includes(r)),
      (x) => x.length === 0,
      5000,
    ).catch((e: Error) => assert.fail(e.message));
    assert.deepEqual(left, []);
    assert.deepEqual(children(), []);
  });
});
