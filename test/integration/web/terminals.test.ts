/**
 * The socket protocol (shared/protocol.ts) against the real server on port 0 with real sandboxes:
 * who may connect and reach what, terminal echo and resize, live provisioning events, flow control
 * (`yes` pauses at the high watermark; Ctrl-C stops it at once), re-attaching to the same shell with
 * exactly the missed output, the reset notice, asciicast recordings, malformed and oversized messages,
 * terminals ended with their sandbox, and terminal input keeping a sandbox from idle reaping.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { FLOW_HIGH_BYTES, INPUT_MAX_CHARS, MAX_MESSAGE_BYTES, REPLAY_BUFFER_BYTES, type PhaseReport } from "../../../shared/protocol.js";
import { Client, firstAdmin, invited, startTestServer, waitForAttempt, type TestServer } from "./helpers.js";
import { connect, ok, once, request, TermView, type ClientSocket } from "./socket.js";

const servers: TestServer[] = [];
const sockets: ClientSocket[] = [];
after(async () => {
  for (const s of sockets) s.close();
  for (const s of servers) await s.stop().catch(() => {});
});
async function server(opts: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  const s = await startTestServer(opts);
  servers.push(s);
  return s;
}
async function sock(s: TestServer, who: Client | null, opts: Parameters<typeof connect>[2] = {}): Promise<ClientSocket> {
  const socket = await connect(s.url, who, opts);
  sockets.push(socket);
  return socket;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Opens a terminal on `target` and waits for its prompt. */
async function openTerm(socket: ClientSocket, attemptId: string, target = "node/cp-1", size = { cols: 100, rows: 30 }): Promise<TermView> {
  const r = await ok(socket, "term:open", { attemptId, target, ...size });
  const view = new TermView(socket, r.terminal.id);
  await view.until(/[#$] $/);
  return view;
}

describe("web terminals over socket.io", { timeout: 300_000 }, () => {
  let s: TestServer;
  let admin: Client;
  let a: Client;
  let b: Client;
  let reviewer: Client;
  let attemptId: string;
  let phases: PhaseReport[] = [];
  let states: string[] = [];

  before(async () => {
    s = await server({ labs: ["small-ok"] });
    admin = await firstAdmin(s);
    a = await invited(s, admin, "trainee", "ta@example.com");
    b = await invited(s, admin, "trainee", "tb@example.com");
    reviewer = await invited(s, admin, "reviewer", "tr@example.com");
  });

  it("refuses a handshake without a session, with a stale one, or from another origin", async () => {
    await assert.rejects(connect(s.url, null), /unauthenticated/);
    const stale = new Client(s.url);
    stale.cookies.set("faultline_session", "not-a-session");
    await assert.rejects(connect(s.url, stale), /unauthenticated/);
    await assert.rejects(connect(s.url, a, { origin: "https://evil.example" }));
    const fine = await sock(s, a, { origin: s.url });
    assert.ok(fine.connected);
    fine.close();
  });

  it("pushes provisioning phases and the state to watchers, and opens a terminal once running", async () => {
    const socket = await sock(s, a);
    // Watching needs an attempt id: start, then watch at once (phases so far come from the API).
    const started = await a.post("/api/attempts", { lab: "small-ok" });
    assert.equal(started.status, 201);
    attemptId = started.body.attempt.id;
    socket.on("attempt:phase", (m) => m.attemptId === attemptId && phases.push(m.phase));
    socket.on("attempt:state", (m) => m.attemptId === attemptId && states.push(m.state));
    const running = once<{ state: string }>(socket, "attempt:state", (m) => m.state !== "provisioning", 60_000);
    assert.deepEqual(await request(socket, "attempt:watch", { attemptId }), { ok: true, attemptId });
    assert.equal((await running).state, "running");
    const api = await waitForAttempt(a, attemptId, (x) => x.state === "running");
    const pushed = phases.map((p) => p.phase);
    const all = api.progress.phases.map((p: PhaseReport) => p.phase);
    assert.ok(pushed.length > 0, "some phases pushed");
    assert.deepEqual(pushed, all.slice(all.length - pushed.length), "pushed phases are the API's, in order");
    assert.equal(pushed.at(-1), "ready");
    assert.deepEqual(states, ["running"]);

    const early = await request(socket, "term:open", { attemptId, target: "node/nope-1", cols: 80, rows: 24 });
    assert.equal(early.ok, false);
    assert.equal(!early.ok && early.error.code, "not_found");

    const view = await openTerm(socket, attemptId);
    const out = await view.command("hostname; tty");
    assert.match(out, /cp-1/);
    assert.match(out, /\/dev\/pts\/\d+/);
    assert.deepEqual(view.gaps, []);
    // Resize reaches the shell's terminal.
    socket.emit("term:resize", { terminalId: view.id, cols: 132, rows: 43 });
    await sleep(100);
    assert.match(await view.command("stty size"), /43 132/);
    const list = await ok(socket, "term:list", { attemptId });
    assert.deepEqual(list.terminals.map((t) => [t.id, t.target, t.cols, t.rows]), [[view.id, "node/cp-1", 132, 43]]);
    view.stop();
  });

  it("lets a trainee reach only their own attempt's terminals; reviewers watch but cannot type", async () => {
    const owner = await sock(s, a);
    const mine = await ok(owner, "term:list", { attemptId });
    const termId = mine.terminals[0]!.id;
    const view = new TermView(owner, termId);
    await ok(owner, "term:attach", { terminalId: termId, since: 0 });

    const other = await sock(s, b);
    const errors: string[] = [];
    other.on("protocol:error", (e) => errors.push(`${e.event}:${e.code}`));
    for (const [event, msg] of [
      ["attempt:watch", { attemptId }],
      ["term:list", { attemptId }],
      ["term:open", { attemptId, target: "node/cp-1", cols: 80, rows: 24 }],
      ["term:attach", { terminalId: termId, since: 0 }],
      ["term:close", { terminalId: termId }],
    ] as const) {
      const r = await request(other, event, msg as never);
      assert.equal(r.ok, false, event);
      assert.equal(!r.ok && r.error.code, "not_found", event);
    }
    // Input, resize and acks without an acknowledgement: refused with protocol:error, and nothing reaches the shell.
    other.emit("term:input", { terminalId: termId, data: "echo intruder-$((40+2))\r" });
    other.emit("term:resize", { terminalId: termId, cols: 20, rows: 5 });
    other.emit("term:ack", { terminalId: termId, upTo: 1e9 });
    await sleep(300);
    assert.deepEqual(errors.slice(-3), ["term:input:not_found", "term:resize:not_found", "term:ack:not_found"]);
    assert.doesNotMatch(view.text(), /intruder-42/);
    assert.match(await view.command("stty size"), /43 132/, "the size did not change");

    const rev = await sock(s, reviewer);
    assert.equal((await request(rev, "attempt:watch", { attemptId })).ok, true, "a reviewer may watch");
    const open = await request(rev, "term:open", { attemptId, target: "node/cp-1", cols: 80, rows: 24 });
    assert.equal(!open.ok && open.error.code, "forbidden");
    const attach = await request(rev, "term:attach", { terminalId: termId, since: 0 });
    assert.equal(!attach.ok && attach.error.code, "not_found");
    view.stop();
  });
  it("stops reading the PTY above the high watermark until acknowledged; Ctrl-C stops `yes` at once", async () => {
    const socket = await sock(s, a);
    const view = await openTerm(socket, attemptId);
    const term = s.realtime.terminals.get(view.id)!;
    view.autoAck = false;
    const start = view.received;
    view.type("yes\r");
    await view.until(() => view.received - start > FLOW_HIGH_BYTES);
    await sleep(500);
    const held = view.received;
    assert.ok(term.isPaused, "paused");
    await sleep(500);
    assert.equal(view.received, held, "nothing more arrives while unacknowledged");
    assert.ok(held - start < FLOW_HIGH_BYTES + 256 * 1024, `at most the window and what was in flight (${held - start})`);

    view.autoAck = true;
    view.ack();
    await view.until(() => view.received > held + 4 * FLOW_HIGH_BYTES);
    assert.ok(term.outstanding <= FLOW_HIGH_BYTES + 256 * 1024);
    const sent = Date.now();
    view.type("\x03");
    await view.until((t) => /\^C\r\n[^\n]*[#$] $/.test(t.slice(-300)));
    const ms = Date.now() - sent;
    assert.ok(ms < 500, `Ctrl-C took ${ms} ms`);
    const after = view.received;
    await sleep(300);
    assert.equal(view.received, after, "no output after the prompt");
    assert.deepEqual(view.gaps, []);
    assert.match(await view.command("echo alive"), /alive/);
    await ok(socket, "term:close", { terminalId: view.id });
  });

  it("re-attaches to the same shell with exactly the output missed while away", async () => {
    const first = await sock(s, a);
    const v1 = await openTerm(first, attemptId);
    await v1.command("export MARK=kept-$((1+1))");
    v1.type("sleep 0.6; seq 1 3000; echo after-$((2+2))\r");
    await v1.until(/after-\$/);
    first.disconnect();
    const missedFrom = v1.received;
    await sleep(1500);

    const second = await sock(s, a);
    const v2 = TermView.follow(second, v1);
    const r = await ok(second, "term:attach", { terminalId: v1.id, since: missedFrom });
    assert.deepEqual(r.replay, { from: missedFrom, lost: 0 });
    assert.ok(r.terminal.end > missedFrom, "output happened while away");
    await v2.until(/after-4/);
    assert.deepEqual(v2.gaps, [], "no frame missing or repeated");

    // A third client replays from 0: the same bytes, and the same shell ($MARK set before).
    const third = await sock(s, a);
    const detached = once<{ reason: string }>(second, "term:detached");
    const v3 = new TermView(third, v1.id);
    const r3 = await ok(third, "term:attach", { terminalId: v1.id, since: 0 });
    assert.deepEqual(r3.replay, { from: 0, lost: 0 });
    await v3.until(() => v3.received >= v2.received);
    assert.equal(v3.text().slice(0, v2.text().length), v2.text());
    assert.match((await detached).reason, /another window/);
    assert.match(await v3.command("echo $MARK"), /kept-2/);
    // Detached, the shell runs on and keeps its output for the next attach.
    third.emit("term:detach", { terminalId: v1.id });
    await sleep(100);
    assert.equal(s.realtime.terminals.get(v1.id)?.attachedTo, null);
    const end = v3.received;
    await ok(third, "term:attach", { terminalId: v1.id, since: end });
    assert.match(await v3.command("echo again"), /again/);
    await ok(third, "term:close", { terminalId: v1.id });
  });

  it("tells a client too far behind that earlier output is gone, and replays what is kept", async () => {
    const socket = await sock(s, a);
    const view = await openTerm(socket, attemptId);
    await view.command("head -c 3000000 /dev/zero | tr '\\0' x", 30_000);
    const late = await sock(s, a);
    const v2 = new TermView(late, view.id, "any");
    const r = await ok(late, "term:attach", { terminalId: view.id, since: 0 });
    assert.ok(r.replay.lost > 0 && r.replay.from === r.replay.lost, JSON.stringify(r.replay));
    assert.ok(r.terminal.end - r.replay.from <= REPLAY_BUFFER_BYTES);
    await v2.until(() => v2.received >= r.terminal.end);
    assert.equal(Buffer.concat(v2.chunks).length, r.terminal.end - r.replay.from, "exactly the kept bytes");
    assert.deepEqual(v2.gaps, []);
    await ok(late, "term:close", { terminalId: view.id });
  });

  it("rejects malformed, unknown and oversized messages without harming the session", async () => {
    const socket = await sock(s, a);
    const view = await openTerm(socket, attemptId);
    const errors: Array<{ event: string; code: string }> = [];
    socket.on("protocol:error", (e) => errors.push({ event: e.event, code: e.code }));
    const bad: Array<[string, unknown]> = [
      ["term:open", {}],
      ["term:open", "node/cp-1"],
      ["term:open", null],
      ["term:open", { attemptId, target: "node/cp-1", cols: 80, rows: 24, extra: true }],
      ["term:open", { attemptId, target: "node/../../etc", cols: 80, rows: 24 }],
      ["term:open", { attemptId, target: "node/cp-1", cols: 1e9, rows: 24 }],
      ["term:attach", { terminalId: view.id, since: -1 }],
      ["term:attach", { terminalId: view.id, since: "0" }],
      ["attempt:watch", { attemptId: "'; drop table attempts; --" }],
      ["term:list", [attemptId]],
    ];
    for (const [event, msg] of bad) {
      const r = await request(socket, event as "term:open", msg as never);
      assert.equal(r.ok, false, `${event} ${JSON.stringify(msg)}`);
      assert.match(!r.ok ? r.error.code : "", /^(invalid|too_large)$/, `${event} ${JSON.stringify(msg)}`);
    }
    socket.emit("term:input", { terminalId: view.id, data: "x".repeat(INPUT_MAX_CHARS + 1) });
    socket.emit("term:input", { terminalId: view.id, data: Buffer.from("echo binary\r") } as never);
    (socket.emit as (e: string) => void)("term:ack");
    (socket.emit as (e: string, m: unknown) => void)("rm -rf /", {});
    (socket.emit as (e: string, m: unknown) => void)("__proto__", {});
    await sleep(300);
    // Unknown events are answered before the others (socket.io calls catch-all listeners first).
    const sorted = (x: Array<{ event: string; code: string }>) => [...x].sort((p, q) => JSON.stringify(p).localeCompare(JSON.stringify(q)));
    assert.deepEqual(sorted(errors.slice(bad.length)), sorted([
      { event: "term:input", code: "too_large" },
      { event: "term:input", code: "invalid" },
      { event: "term:ack", code: "invalid" },
      { event: "rm -rf /", code: "unknown_event" },
      { event: "__proto__", code: "unknown_event" },
    ]));
    assert.ok(socket.connected, "still connected");
    assert.match(await view.command("echo still-$((20+1))"), /still-21/);
    assert.doesNotMatch(view.text(), /\r\nbinary\r\n/);
    await ok(socket, "term:close", { terminalId: view.id });

    // Over engine.io's limit the transport is cut; the client reconnects and re-attaches the same shell.
    const resilient = await sock(s, a, { reconnection: true });
    const v = await openTerm(resilient, attemptId);
    await v.command("export KEEP=me");
    const gone = new Promise((r) => resilient.once("disconnect", r));
    resilient.emit("term:input", { terminalId: v.id, data: "y".repeat(MAX_MESSAGE_BYTES + 10) });
    await gone;
    await new Promise<void>((r) => resilient.once("connect", () => r()));
    const back = await ok(resilient, "term:attach", { terminalId: v.id, since: v.received });
    assert.equal(back.replay.lost, 0);
    assert.match(await v.command("echo $KEEP"), /me/);
    assert.equal((await a.get("/api/auth/me")).status, 200, "the session is intact");
    await ok(resilient, "term:close", { terminalId: v.id });
  });

  it("records every terminal as asciicast v2 (file under the data dir, metadata in the store)", async () => {
    const socket = await sock(s, a);
    const view = await openTerm(socket, attemptId, "node/worker-1", { cols: 90, rows: 20 });
    await view.command("echo recorded-$((3*3))");
    // Bulk output, ASCII and UTF-8 (the recording's two ways of writing text), past the flow-control window.
    await view.command("seq 1 60000; seq 1 20000 | sed 's/$/ ünï \"q\" \\\\ ─/'", 60_000);
    socket.emit("term:resize", { terminalId: view.id, cols: 120, rows: 40 });
    await sleep(100);
    await ok(socket, "term:close", { terminalId: view.id });
    await view.until(() => view.exit !== null).catch(() => {});
    assert.deepEqual(view.exit, { code: view.exit?.code ?? null, reason: "closed" });
    const rec = (await s.store.recordings(attemptId)).find((r) => r.terminalId === view.id);
    assert.ok(rec, "a recording row");
    assert.equal(rec.target, "node/worker-1");
    assert.ok(rec.endedAt, "ended");
    assert.ok(rec.path.startsWith(s.dataDir + "/recordings/" + attemptId + "/"), rec.path);
    const lines = readFileSync(rec.path, "utf8").trimEnd().split("\n").map((l) => JSON.parse(l) as unknown);
    assert.equal(rec.bytes, readFileSync(rec.path).length);
    const header = lines[0] as Record<string, unknown>;
    assert.equal(header.version, 2);
    assert.equal(header.width, 90);
    assert.equal(header.height, 20);
    assert.equal(header.title, "node/worker-1");
    const events = lines.slice(1) as Array<[number, string, string]>;
    let t = 0;
    for (const e of events) {
      assert.ok(Array.isArray(e) && e.length === 3 && typeof e[0] === "number" && ["o", "r", "m"].includes(e[1]) && typeof e[2] === "string", JSON.stringify(e));
      assert.ok(e[0] >= t, "times never go back");
      t = e[0];
    }
    const output = events.filter((e) => e[1] === "o").map((e) => e[2]).join("");
    assert.match(output, /recorded-9/);
    assert.match(output, /\r\n59999\r\n60000\r\n/);
    assert.match(output, /\r\n20000 ünï "q" \\ ─\r\n/);
    assert.equal(output, view.text(), "every byte the terminal sent, as the same text");
    assert.deepEqual(events.filter((e) => e[1] === "r").map((e) => e[2]), ["120x40"]);
  });

  it("ends terminals when the sandbox is reset; input to them is refused", async () => {
    const socket = await sock(s, a);
    const view = await openTerm(socket, attemptId);
    const reset = await a.post(`/api/attempts/${attemptId}/reset`);
    assert.equal(reset.status, 202);
    await view.until(() => view.exit !== null).catch(() => {});
    assert.equal(view.exit?.reason, "the sandbox is being reset");
    const errors: string[] = [];
    socket.on("protocol:error", (e) => errors.push(e.code));
    view.type("echo hi\r");
    await sleep(200);
    assert.deepEqual(errors, ["conflict"]);
    const refused = await request(socket, "term:open", { attemptId, target: "node/cp-1", cols: 80, rows: 24 });
    assert.equal(!refused.ok && refused.error.code, "conflict", "no terminal while provisioning");
    await waitForAttempt(a, attemptId, (x) => x.state === "running");
    const again = await openTerm(socket, attemptId);
    assert.match(await again.command("echo fresh"), /fresh/);
  });

  it("a shell asked for while the sandbox rebuilds itself (faultline-reprovision) opens once it is back", async () => {
    const socket = await sock(s, a);
    const view = await openTerm(socket, attemptId);
    view.type("faultline-reprovision\r");
    // The rebuild kills every shell of the old cluster, this one included.
    await view.until(() => view.exit !== null, 60_000);
    const r = await request(socket, "term:open", { attemptId, target: "node/cp-1", cols: 80, rows: 24 });
    assert.ok(r.ok, `opened after the rebuild, not refused: ${JSON.stringify(r)}`);
    const fresh = new TermView(socket, r.terminal.id);
    await fresh.until(/[#$] $/);
    assert.match(await fresh.command("hostname"), /cp-1/);
    // A target that does not exist is still refused at once, rebuild or not.
    const none = await request(socket, "term:open", { attemptId, target: "node/no-such-node", cols: 80, rows: 24 });
    assert.equal(!none.ok && none.error.code, "not_found");
  });
});

describe("sessions on sockets", { timeout: 60_000 }, () => {
  it("a socket whose session was signed out can do nothing more and is disconnected", async () => {
    const s = await server({ labs: ["small-ok"] });
    const admin = await firstAdmin(s);
    const t = await invited(s, admin, "trainee", "out@example.com");
    const socket = await sock(s, t);
    const started = await t.post("/api/attempts", { lab: "small-ok" });
    assert.equal((await request(socket, "attempt:watch", { attemptId: started.body.attempt.id })).ok, true);
    assert.equal((await t.post("/api/auth/logout")).status, 204);
    const gone = new Promise<string>((r) => socket.once("disconnect", (reason) => r(reason)));
    const r = await request(socket, "attempt:watch", { attemptId: started.body.attempt.id });
    assert.equal(!r.ok && r.error.code, "unauthenticated");
    assert.equal(await gone, "io server disconnect");
    await assert.rejects(connect(s.url, t), /unauthenticated/, "the old cookie no longer connects");
  });

  it("the periodic re-check disconnects sockets whose session ended and keeps the others", async () => {
    const s = await server({ labs: ["small-ok"], realtime: { sessionCheckMs: 300 } });
    const admin = await firstAdmin(s);
    const users = await Promise.all([1, 2, 3].map((i) => invited(s, admin, "trainee", `check${i}@example.com`)));
    const sockets = await Promise.all(users.map((u) => sock(s, u)));
    const notices: string[] = [];
    sockets[1]!.on("protocol:error", (e) => notices.push(`${e.event}:${e.code}`));
    const gone = new Promise<string>((r) => sockets[1]!.once("disconnect", (reason) => r(reason)));
    assert.equal((await users[1]!.post("/api/auth/logout")).status, 204);
    assert.equal(await gone, "io server disconnect");
    assert.deepEqual(notices, ["session:unauthenticated"]);
    await sleep(700);
    assert.ok(sockets[0]!.connected && sockets[2]!.connected, "the others stay through several re-checks");
  });
});

describe("terminal input and idle reaping", { timeout: 120_000 }, () => {
  it("typing keeps the sandbox; without input it is reaped and its terminals end", async () => {
    const s = await server({ labs: ["small-ok"], idleTimeoutMs: 2500, reapIntervalMs: 250 });
    const admin = await firstAdmin(s);
    const t = await invited(s, admin, "trainee", "idle@example.com");
    const started = await t.post("/api/attempts", { lab: "small-ok" });
    const id = started.body.attempt.id;
    await waitForAttempt(t, id, (x) => x.state === "running");
    const socket = await sock(s, t);
    const view = await openTerm(socket, id);
    for (let i = 0; i < 8; i++) {
      view.type(" \x7f");
      await sleep(500);
    }
    assert.equal((await t.get(`/api/attempts/${id}`)).body.attempt.state, "running", "4 s of typing outlived a 2.5 s idle timeout");
    const reaped = await waitForAttempt(t, id, (x) => x.state === "suspended", 10_000);
    assert.equal(reaped.state, "suspended");
    await view.until(() => view.exit !== null).catch(() => {});
    // The shell usually ends with its sandbox just before the manager says so.
    assert.match(view.exit?.reason ?? "", /^(exited|the sandbox was removed)$/);
  });
});
