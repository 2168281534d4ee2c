/**
 * Attempts through the API with real sandboxes (SimDriver, real namespaces): the flagship provisioned
 * and stopped, who may see and touch an attempt, quotas, reset, idle reaping, and what a server restart
 * keeps (attempts, sessions, running sandboxes) and removes (orphans).
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Client, firstAdmin, invited, startTestServer, waitForAttempt, type TestServer } from "./helpers.js";

const servers: TestServer[] = [];
after(async () => {
  for (const s of servers) await s.stop().catch(() => {});
});
async function server(opts: Parameters<typeof startTestServer>[0]): Promise<TestServer> {
  const s = await startTestServer(opts);
  servers.push(s);
  return s;
}

const kinds = (a: { events: Array<{ kind: string }> }) => a.events.map((e) => e.kind);
const running = (a: { state: string }) => a.state !== "provisioning";

describe("the flagship lab through the API", { timeout: 180_000 }, () => {
  it("provisions webhook-to-kernel with progress phases, keeps others out, reveals hints, and stops", async () => {
    const s = await server({ labs: ["webhook-to-kernel"] });
    const admin = await firstAdmin(s);
    const a = await invited(s, admin, "trainee", "a@example.com");
    const b = await invited(s, admin, "trainee", "b@example.com");
    const reviewer = await invited(s, admin, "reviewer", "r@example.com");

    const started = await a.post("/api/attempts", { lab: "webhook-to-kernel" });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const id: string = started.body.attempt.id;
    assert.equal(started.body.attempt.state, "provisioning");
    const again = await a.post("/api/attempts", { lab: "webhook-to-kernel" });
    assert.equal(again.status, 200, "one attempt per trainee and lab");
    assert.equal(again.body.attempt.id, id);

    const ready = await waitForAttempt(a, id, running);
    assert.equal(ready.state, "running", JSON.stringify(ready));
    const phases = ready.progress.phases.map((p: { phase: string }) => p.phase);
    assert.deepEqual([...new Set(phases)], ["prepare", "namespaces", "faults", "kubespray", "ipam", "network", "agents", "ready"]);
    assert.deepEqual(ready.progress.expected, [...new Set(phases)], "the next provisioning of this lab knows what to expect");
    assert.ok(ready.targets.includes("node/cp-1") && ready.targets.includes("node/worker-6"), ready.targets.join(" "));
    assert.ok(ready.targets.some((t: string) => t.startsWith("pod/metallb-system/controller-")));
    assert.ok(s.driver.isAlive(ready.sandbox));
    assert.deepEqual(kinds(ready), ["started", "provisioned"]);

    // Another trainee cannot see or touch it: 404 as if it did not exist.
    for (const [method, path] of [["GET", ""], ["POST", "/reset"], ["POST", "/stop"], ["POST", "/hints/0"]] as const) {
      const r = await b.request(method, `/api/attempts/${id}${path}`);
      assert.equal(r.status, 404, `${method} ${path}`);
      assert.equal(r.body.error.code, "not_found");
    }
    assert.deepEqual((await b.get("/api/attempts")).body.attempts, []);
    assert.equal((await b.get(`/api/attempts?user=${ready.userId}`)).status, 403);
    // A reviewer reads it but cannot act on it.
    assert.equal((await reviewer.get(`/api/attempts/${id}`)).status, 200);
    assert.equal((await reviewer.post(`/api/attempts/${id}/stop`)).status, 403);
    assert.equal((await reviewer.get("/api/attempts?user=all")).body.attempts.length, 1);

    // Hints: the first any time, the second 15 minutes after the start.
    const hint = await a.post(`/api/attempts/${id}/hints/0`);
    assert.equal(hint.status, 200);
    assert.match(hint.body.hint.text, /webhook answer/);
    const early = await a.post(`/api/attempts/${id}/hints/1`);
    assert.equal(early.status, 403);
    assert.equal(early.body.error.code, "not_yet");
    const view = (await a.get(`/api/attempts/${id}`)).body.attempt;
    assert.deepEqual(view.hints.map((h: { revealed: boolean }) => h.revealed), [true, false, false, false, false]);

    const stopped = await a.post(`/api/attempts/${id}/stop`);
    assert.equal(stopped.status, 200);
    assert.equal(stopped.body.attempt.state, "stopped");
    assert.ok(stopped.body.attempt.endedAt);
    assert.deepEqual(kinds(stopped.body.attempt), ["started", "provisioned", "stopped"]);
    assert.equal(s.driver.list().some((x) => x.name === ready.sandbox), false, "the sandbox is gone");
    assert.equal((await a.get("/healthz")).body.sandboxes.live, 0);
    assert.equal((await a.post(`/api/attempts/${id}/reset`)).status, 409, "a stopped attempt cannot be reset");
  });
});

describe("quotas, reset and idle reaping", { timeout: 180_000 }, () => {
  it("per-user and global quotas answer 429 with a clear message; an admin's stop frees a place", async () => {
    const s = await server({ labs: ["small-ok", "valid-full"], maxSandboxes: 2, maxSandboxesPerUser: 1 });
    const admin = await firstAdmin(s);
    const [a, b, c] = [await invited(s, admin, "trainee", "qa@example.com"), await invited(s, admin, "trainee", "qb@example.com"), await invited(s, admin, "trainee", "qc@example.com")];
    const aStart = await a.post("/api/attempts", { lab: "small-ok" });
    assert.equal(aStart.status, 201);
    const mine = await a.post("/api/attempts", { lab: "valid-full" });
    assert.equal(mine.status, 429);
    assert.deepEqual(mine.body.error.code, "quota");
    assert.equal(mine.body.error.message, "you run 1 of 1 sandboxes a user may have; stop one first");
    assert.match(mine.body.error.hint, /small-ok/);
    const bStart = await b.post("/api/attempts", { lab: "small-ok" });
    assert.equal(bStart.status, 201);
    const full = await c.post("/api/attempts", { lab: "small-ok" });
    assert.equal(full.status, 429);
    assert.deepEqual(full.body, { error: { code: "quota", message: "the server runs 2 of 2 sandboxes; try again later or ask an admin", hint: "an admin can stop idle attempts or raise --max-sandboxes" } });

    const byAdmin = await admin.post(`/api/attempts/${bStart.body.attempt.id}/stop`);
    assert.equal(byAdmin.status, 200);
    assert.equal(byAdmin.body.attempt.events.at(-1).detail, "by admin admin@example.com");
    const cStart = await c.post("/api/attempts", { lab: "small-ok" });
    assert.equal(cStart.status, 201);

    // Reset: the same attempt, a new sandbox under the same name.
    const aId = aStart.body.attempt.id;
    const before = await waitForAttempt(a, aId, running);
    assert.equal(before.state, "running");
    const initPid = s.driver.meta(before.sandbox).initPid;
    const reset = await a.post(`/api/attempts/${aId}/reset`);
    assert.equal(reset.status, 202);
    assert.equal(reset.body.attempt.state, "provisioning");
    assert.equal((await a.post(`/api/attempts/${aId}/reset`)).status, 409, "no reset while provisioning");
    const after = await waitForAttempt(a, aId, running);
    assert.equal(after.state, "running");
    assert.equal(after.sandbox, before.sandbox);
    assert.notEqual(s.driver.meta(after.sandbox).initPid, initPid, "a new sandbox");
    assert.deepEqual(kinds(after), ["started", "provisioned", "reset", "provisioned"]);
  });

  it("an idle sandbox is reaped; starting the lab again re-provisions the same attempt, timeline kept", async () => {
    const s = await server({ labs: ["small-ok"], idleTimeoutMs: 1500, reapIntervalMs: 250 });
    const admin = await firstAdmin(s);
    const a = await invited(s, admin, "trainee", "idle@example.com");
    const id = (await a.post("/api/attempts", { lab: "small-ok" })).body.attempt.id;
    const up = await waitForAttempt(a, id, running);
    assert.equal(up.state, "running");
    const reaped = await waitForAttempt(a, id, (x) => x.state === "suspended", 15_000);
    assert.equal(reaped.state, "suspended");
    assert.equal(reaped.events.at(-1).kind, "reaped");
    assert.deepEqual(reaped.targets, []);
    assert.equal(s.driver.list().some((x) => x.name === up.sandbox), false);
    const again = await a.post("/api/attempts", { lab: "small-ok" });
    assert.equal(again.status, 200);
    assert.equal(again.body.attempt.id, id);
    const back = await waitForAttempt(a, id, running);
    assert.equal(back.state, "running");
    assert.deepEqual(kinds(back), ["started", "provisioned", "reaped", "reprovisioned", "provisioned"]);
    await a.post(`/api/attempts/${id}/stop`);
  });
});

describe("a server restart", { timeout: 180_000 }, () => {
  it("keeps sessions and attempts, adopts running sandboxes, suspends lost ones, removes orphans only", async () => {
    const first = await startTestServer({ labs: ["small-ok"] });
    const admin = await firstAdmin(first);
    const a = await invited(first, admin, "trainee", "ra@example.com");
    const b = await invited(first, admin, "trainee", "rb@example.com");
    const aId = (await a.post("/api/attempts", { lab: "small-ok" })).body.attempt.id;
    const bId = (await b.post("/api/attempts", { lab: "small-ok" })).body.attempt.id;
    const aUp = await waitForAttempt(a, aId, running);
    const bUp = await waitForAttempt(b, bId, running);
    assert.equal(aUp.state, "running");
    assert.equal(bUp.state, "running");
    // Left over from a crash: a server sandbox no attempt owns; and one made with the CLI.
    const orphan = "att-" + "0".repeat(24);
    await first.driver.up({ lab: first.config.labsDir + "/small-ok", name: orphan });
    await first.driver.up({ lab: first.config.labsDir + "/small-ok", name: "cli-made" });
    await first.stop({ keepData: true });
    // While the server is down, B's sandbox dies.
    await first.driver.down(bUp.sandbox);

    const second = await server({ dataDir: first.dataDir, labsDir: first.config.labsDir });
    assert.equal(second.setup, null, "an admin exists: no setup link");
    // The same browsers (cookies) at the new address: their sessions are in the database.
    const [a2, b2] = [a, b].map((c) => {
      const moved = new Client(second.url);
      for (const [k, v] of c.cookies) moved.cookies.set(k, v);
      return moved;
    }) as [Client, Client];

    const aNow = (await a2.get(`/api/attempts/${aId}`)).body.attempt;
    assert.equal(aNow.state, "running", "adopted");
    assert.ok(second.driver.isAlive(aNow.sandbox));
    assert.ok(aNow.targets.includes("node/cp-1"));
    const bNow = (await b2.get(`/api/attempts/${bId}`)).body.attempt;
    assert.equal(bNow.state, "suspended");
    assert.deepEqual(kinds(bNow), ["started", "provisioned", "interrupted"]);
    const names = second.driver.list().map((x) => x.name);
    assert.equal(names.includes(orphan), false, "the orphan is removed");
    assert.ok(names.includes("cli-made"), "a CLI sandbox is not the server's to remove");

    // B re-provisions and keeps the timeline.
    assert.equal((await b2.post("/api/attempts", { lab: "small-ok" })).body.attempt.id, bId);
    const bBack = await waitForAttempt(b2, bId, running);
    assert.equal(bBack.state, "running");
    assert.deepEqual(kinds(bBack), ["started", "provisioned", "interrupted", "reprovisioned", "provisioned"]);
    assert.equal((await a2.post(`/api/attempts/${aId}/stop`)).status, 200, "the CSRF token of the old session still works");
  });
});
