/**
 * Write-ups, their review, and terminal recordings, against the real server on port 0 with a real
 * SQLite store and a real flagship sandbox: who reaches a write-up (another trainee: 404; a reviewer
 * reads but does not edit), the draft rendered without anything active (XSS payloads), the size
 * limit (413), saving the model write-up turning the flagship's write-up objective green through the
 * live evaluator (recorded, pushed), and with the sandbox gone through the server's own judgement of
 * write-up-only checks; submit, request changes, resubmit, approve, with the 409s of each locked
 * state; comments with their authors; the review queue; the attempt's reveals for the timeline; and
 * recordings listed and served as asciicast, from the store's row only and never from outside the
 * attempt's recordings folder (traversal, a tampered row, a symlink).
 */
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, symlinkSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import {
  recordingViewSchema, reviewItemSchema, serverMessages, WRITEUP_MAX_BYTES, writeupReplySchema,
  type ObjectiveView, type ServerMessage,
} from "../../../shared/protocol.js";
import { projectRoot } from "../../../server/paths.js";
import { Client, firstAdmin, invited, startTestServer, waitForAttempt, type TestServer } from "./helpers.js";
import { connect, ok, once, TermView, type ClientSocket } from "./socket.js";

const FLAGSHIP = "webhook-to-kernel";
const MODEL = readFileSync(path.join(projectRoot, "labs", FLAGSHIP, "solution", "writeup.md"), "utf8");
const XSS = [
  "# Findings",
  "",
  "<script>alert('xss')</script>",
  "",
  'Look: <img src=x onerror="alert(1)"> <svg onload=alert(3)> <a href="javascript:alert(2)">raw link</a>',
  "",
  "[js](javascript:alert(1)) [spaced](java\tscript:alert(1)) [data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
  "",
  "![pixel](https://tracker.example/p.png) ![inline](data:image/png;base64,iVBORw0KGgo=) ![js](javascript:alert(4))",
  "",
  "[docs](https://kubernetes.io/docs/) and `<b>code</b>`",
].join("\n");

const byId = (objectives: ObjectiveView[], id: string) => objectives.find((o) => o.id === id)!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("write-ups, reviews and recordings through the web server", { timeout: 600_000 }, () => {
  let s: TestServer;
  let admin: Client;
  let trainee: Client;
  let other: Client;
  let reviewer: Client;
  let attemptId: string;
  const sockets: ClientSocket[] = [];
  const url = (rest = "") => `/api/attempts/${attemptId}/writeup${rest}`;

  before(async () => {
    s = await startTestServer({ labs: [FLAGSHIP] });
    admin = await firstAdmin(s);
    trainee = await invited(s, admin, "trainee", "tess@example.com");
    other = await invited(s, admin, "trainee", "otto@example.com");
    reviewer = await invited(s, admin, "reviewer", "rita@example.com");
    const started = await trainee.post("/api/attempts", { lab: FLAGSHIP });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    attemptId = started.body.attempt.id;
  });

  after(async () => {
    for (const x of sockets) x.close();
    await s?.stop().catch(() => {});
  });

  async function sock(who: Client): Promise<ClientSocket> {
    const x = await connect(s.url, who);
    sockets.push(x);
    return x;
  }

  it("has no write-up at first; only the owner, reviewers and admins reach it, and only the owner edits", async () => {
    const first = await trainee.get(url());
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const { writeup } = writeupReplySchema.parse(first.body);
    assert.deepEqual(
      [writeup.status, writeup.markdown, writeup.html, writeup.words, writeup.updatedAt, writeup.comments, writeup.trainee.name],
      ["none", "", "", 0, null, [], "tess"],
    );
    assert.match(writeup.prompt ?? "", /^What did you see at each layer/);
    // Another trainee: as if the attempt did not exist, whatever they try.
    for (const [method, p, json] of [
      ["GET", url(), undefined], ["PUT", url(), { markdown: "mine now" }], ["POST", url("/submit"), {}],
      ["POST", url("/comments"), { body: "hi" }], ["POST", url("/review"), { status: "approved" }],
      ["GET", `/api/attempts/${attemptId}/recordings`, undefined], ["GET", `/api/attempts/${attemptId}/recordings/1`, undefined],
    ] as const) {
      const r = await other.request(method, p, json === undefined ? {} : { json });
      assert.equal(r.status, 404, `${method} ${p}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, "not_found");
    }
    assert.equal((await reviewer.get(url())).status, 200);
    const edit = await reviewer.put(url(), { markdown: "reviewers do not write it" });
    assert.equal(edit.status, 403);
    assert.equal(edit.body.error.message, "only the trainee who started this attempt can do that");
    assert.equal((await admin.post(url("/submit"))).status, 403);
    assert.equal((await new Client(s.url).get(url())).status, 401);
    const noToken = await trainee.put(url(), { markdown: "x" }, { csrf: false });
    assert.deepEqual([noToken.status, noToken.body.error.code], [403, "csrf"]);
    const cross = await trainee.put(url(), { markdown: "x" }, { headers: { origin: "https://evil.example" } });
    assert.deepEqual([cross.status, cross.body.error.code], [403, "csrf"]);
    // Nothing to submit, nothing to comment on, nothing to review yet.
    assert.deepEqual([(await trainee.post(url("/submit"))).status, (await trainee.post(url("/comments"), { body: "hi" })).status], [409, 409]);
    const early = await reviewer.post(url("/review"), { status: "approved" });
    assert.deepEqual([early.status, early.body.error.message], [409, "only a submitted write-up can be reviewed; this one is not written yet"]);
  });

  it("grades the flagship live once its sandbox runs: the write-up objective fails with no write-up", async () => {
    const running = await waitForAttempt(trainee, attemptId, (a) => a.state !== "provisioning", 180_000);
    assert.equal(running.state, "running", JSON.stringify(running.events));
    const checked = await waitForAttempt(trainee, attemptId, (a) => a.objectives.every((o: ObjectiveView) => o.state !== "pending"), 60_000);
    assert.deepEqual(byId(checked.objectives, "write-up"), { ...byId(checked.objectives, "write-up"), state: "fail", detail: "no write-up yet" });
    assert.ok(s.manager.grading.graded(attemptId));
  });

  it("saves a draft and renders it with nothing active: raw HTML as text, no script, data: or javascript: address, images as links", async () => {
    const r = await trainee.put(url(), { markdown: XSS });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const { writeup, objectives } = writeupReplySchema.parse(r.body);
    assert.equal(writeup.status, "draft");
    assert.equal(writeup.markdown, XSS, "kept as written");
    assert.ok(writeup.updatedAt);
    const html = writeup.html;
    assert.doesNotMatch(html, /<script|<img|<svg|<iframe/i, html);
    assert.doesNotMatch(html, /<[^>]+\son[a-z]+\s*=/i, "no event handler attribute");
    assert.doesNotMatch(html, /(href|src)\s*=\s*"\s*(javascript|data|vbscript):/i, "no active address");
    assert.doesNotMatch(html, /<[^>]+\ssrc=/i, "nothing loads");
    assert.match(html, /&lt;script&gt;alert\(&#39;xss&#39;\)&lt;\/script&gt;/);
    assert.match(html, /&lt;img src=x onerror=&quot;alert\(1\)&quot;&gt;/);
    assert.match(html, /<a href="https:\/\/kubernetes\.io\/docs\/" rel="noopener noreferrer" target="_blank">docs<\/a>/);
    assert.match(html, /<a href="https:\/\/tracker\.example\/p\.png" rel="noopener noreferrer nofollow" target="_blank">image: pixel<\/a>/);
    assert.match(html, /<code>&lt;b&gt;code&lt;\/b&gt;<\/code>/);
    for (const text of [">js<", ">spaced<", ">data<"]) assert.ok(!html.includes(`${text}/a>`), `${text} is not a link`);
    // The reply carries the objectives as the live evaluator judged this draft.
    assert.match(byId(objectives, "write-up").detail ?? "", /^the write-up: \d+ words, fewer than 150; no mention of blackhole, kube_network_node_prefix$/);
    assert.equal(byId(objectives, "write-up").state, "fail");
    // A reviewer reads the same rendering.
    assert.equal((await reviewer.get(url())).body.writeup.html, html);
  });

  it("refuses a write-up over 64 KiB with 413 saying so, and a malformed body with 400", async () => {
    const big = await trainee.put(url(), { markdown: "é".repeat(WRITEUP_MAX_BYTES / 2 + 1) });
    assert.equal(big.status, 413);
    assert.deepEqual(big.body.error, {
      code: "too_large",
      message: "the write-up is 65538 bytes; a write-up may be at most 65536 bytes (64 KiB)",
      hint: "shorten it: quote the lines that matter rather than whole logs",
    });
    const exactly = await trainee.put(url(), { markdown: "a".repeat(WRITEUP_MAX_BYTES) });
    assert.equal(exactly.status, 200, "64 KiB exactly is fine (JSON's escapes do not count)");
    const huge = await trainee.put(url(), { markdown: "\u0001".repeat(WRITEUP_MAX_BYTES) }); // each is \u0001 in JSON: 384 KiB
    assert.deepEqual([huge.status, huge.body.error.code, huge.body.error.hint], [413, "too_large", "bodies are limited to 256 KiB"]);
    const wrong = await trainee.put(url(), { markdown: 42 });
    assert.deepEqual([wrong.status, wrong.body.error.code], [400, "invalid"]);
    assert.match(wrong.body.error.message, /^markdown: /);
    assert.equal((await trainee.put(url(), { markdown: "x", extra: 1 })).status, 400);
    // Elsewhere the limit is still 64 KiB.
    assert.equal((await trainee.post(`/api/attempts/${attemptId}/check`, { pad: "x".repeat(70 * 1024) })).status, 413);
    assert.equal((await trainee.get(url())).body.writeup.markdown.length, WRITEUP_MAX_BYTES, "the last good save stands");
  });

  it("saving the model write-up turns the write-up objective green through the live evaluator: recorded, pushed to a reviewer watching", async () => {
    const watching = await sock(reviewer);
    await ok(watching, "attempt:watch", { attemptId });
    const pushed = once<ServerMessage<"attempt:objectives">>(watching, "attempt:objectives", (m) => m.attemptId === attemptId && byId(m.objectives, "write-up").state === "pass", 15_000);
    const before = (await trainee.get(`/api/attempts/${attemptId}`)).body.attempt.objectives as ObjectiveView[];
    const r = await trainee.put(url(), { markdown: MODEL });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const { writeup, objectives } = writeupReplySchema.parse(r.body);
    assert.ok(writeup.words >= 150, String(writeup.words));
    const passed = byId(objectives, "write-up");
    assert.deepEqual([passed.state, passed.detail], ["pass", `${writeup.words} words, mentions blackhole, kube_network_node_prefix`]);
    const message = await pushed;
    assert.deepEqual(serverMessages["attempt:objectives"].parse(message), message);
    assert.deepEqual(byId(message.objectives, "write-up"), passed);
    const t = (await s.store.transitions(attemptId)).filter((x) => x.objectiveId === "write-up");
    assert.deepEqual(t.map((x) => [x.from, x.to]), [["pending", "fail"], ["fail", "pass"]]);
    assert.equal(t[1]!.at, passed.since);
    // The other objectives stand as they were.
    assert.deepEqual(byId(objectives, "pool-admitted"), byId(before, "pool-admitted"));
  });

  it("lists the attempt's terminal recordings and serves each as asciicast v2, to the owner and reviewers", async () => {
    const socket = await sock(trainee);
    const opened = await ok(socket, "term:open", { attemptId, target: "node/cp-1", cols: 100, rows: 30 });
    const view = new TermView(socket, opened.terminal.id);
    await view.until(/[#$] $/);
    await view.command("echo recorded-for-review-$((6*7))");
    await ok(socket, "term:close", { terminalId: view.id });
    const list = async () => (await trainee.get(`/api/attempts/${attemptId}/recordings`)).body.recordings as unknown[];
    let recordings = await list();
    for (const end = Date.now() + 10_000; Date.now() < end && !(recordings as Array<{ endedAt: string | null }>).every((x) => x.endedAt); await sleep(100)) recordings = await list();
    assert.equal(recordings.length, 1, JSON.stringify(recordings));
    const rec = recordingViewSchema.parse(recordings[0]);
    assert.equal(rec.target, "node/cp-1");
    assert.equal(rec.terminalId, view.id);
    assert.ok(rec.endedAt && rec.bytes > 0, JSON.stringify(rec));
    assert.deepEqual((await reviewer.get(`/api/attempts/${attemptId}/recordings`)).body.recordings, recordings);

    for (const who of [trainee, reviewer, admin]) {
      const file = await who.get(`/api/attempts/${attemptId}/recordings/${rec.id}`);
      assert.equal(file.status, 200);
      assert.equal(file.headers.get("content-type"), "application/x-asciicast");
      assert.equal(file.headers.get("content-disposition"), `attachment; filename="${attemptId}-${rec.id}.cast"`);
      assert.equal(file.headers.get("cache-control"), "no-store");
      assert.equal(Number(file.headers.get("content-length")), rec.bytes);
      const lines = String(file.body).trimEnd().split("\n").map((l) => JSON.parse(l) as unknown);
      assert.deepEqual(lines[0], { ...(lines[0] as object), version: 2, width: 100, height: 30, title: "node/cp-1" });
      const output = (lines.slice(1) as Array<[number, string, string]>).filter((e) => e[1] === "o").map((e) => e[2]).join("");
      assert.match(output, /recorded-for-review-42/);
    }
  });

  it("serves a recording only from the store's row and only from the attempt's own recordings folder", async () => {
    const base = `/api/attempts/${attemptId}/recordings`;
    const db = path.join(s.dataDir, "faultline.db");
    const folder = path.join(s.dataDir, "recordings", attemptId);
    // The URL names an id, never a path.
    // (A bare ".." segment, or "%2e%2e", would be resolved by the client before sending: not tried.)
    for (const rid of ["..%2F..%2Ffaultline.db", "%2e%2e%2f%2e%2e%2ffaultline.db", "..%5c..%5cfaultline.db", "1.cast", "-1", "0x1", "99999"]) {
      const r = await trainee.get(`${base}/${rid}`);
      assert.equal(r.status, 404, `${rid}: ${r.status}`);
      assert.equal(r.body.error.code, "not_found", rid);
    }
    // Rows that point elsewhere (a tampered or corrupt database): refused, never read.
    mkdirSync(path.join(s.dataDir, "recordings", "elsewhere"), { recursive: true });
    symlinkSync(db, path.join(folder, "link.cast"));
    const at = new Date().toISOString();
    const bad = [db, path.join(folder, "..", "..", "faultline.db"), "/etc/passwd", path.join(folder, "link.cast"), folder, path.join(s.dataDir, "recordings", "elsewhere")];
    for (const p of bad) {
      const row = await s.store.addRecording({ attemptId, terminalId: "tampered", target: "node/cp-1", path: p, at });
      const r = await reviewer.get(`${base}/${row.id}`);
      assert.equal(r.status, 404, `${p}: ${r.status}`);
      assert.ok(!String(r.body).includes("SQLite"), p);
    }
    // Another attempt's recording is not reachable through this attempt.
    const theirs = await s.store.createAttempt({ userId: (await s.store.listUsers()).find((u) => u.email === "otto@example.com")!.id, labId: FLAGSHIP, at, state: "stopped" });
    await s.store.updateAttempt(theirs.id, { endedAt: at });
    mkdirSync(path.join(s.dataDir, "recordings", theirs.id), { recursive: true });
    const own = (await s.store.recordings(attemptId))[0]!;
    const foreign = await s.store.addRecording({ attemptId: theirs.id, terminalId: "t", target: "node/cp-1", path: own.path, at });
    assert.equal((await reviewer.get(`${base}/${foreign.id}`)).status, 404, "a row of another attempt");
    assert.equal((await reviewer.get(`/api/attempts/${theirs.id}/recordings/${foreign.id}`)).status, 404, "a row naming another attempt's file");
  });

  it("judges write-up-only objectives itself once the sandbox is gone, so a write-up finished after the lab still counts", async () => {
    await trainee.post(`/api/attempts/${attemptId}/hints/0`);
    const stopped = await trainee.post(`/api/attempts/${attemptId}/stop`);
    assert.equal(stopped.status, 200);
    assert.equal(s.manager.grading.graded(attemptId), false);
    // The timeline has the hint's reveal with its time.
    const reveals = stopped.body.attempt.reveals as Array<{ kind: string; ref: string; at: string }>;
    assert.deepEqual(reveals.map((x) => [x.kind, x.ref]), [["hint", "0"]]);
    assert.ok(!Number.isNaN(Date.parse(reveals[0]!.at)));

    const short = await trainee.put(url(), { markdown: "It was a blackhole." });
    assert.equal(short.status, 200);
    const failing = byId(writeupReplySchema.parse(short.body).objectives, "write-up");
    assert.deepEqual([failing.state, failing.detail], ["fail", "the write-up: 4 words, fewer than 150; no mention of kube_network_node_prefix"]);
    const again = await trainee.put(url(), { markdown: MODEL });
    assert.equal(byId(again.body.objectives, "write-up").state, "pass");
    const t = (await s.store.transitions(attemptId)).filter((x) => x.objectiveId === "write-up");
    assert.deepEqual(t.map((x) => [x.from, x.to]), [["pending", "fail"], ["fail", "pass"], ["pass", "fail"], ["fail", "pass"]]);
    // The objectives that need the sandbox keep their last recorded state.
    assert.equal(byId(again.body.objectives, "pool-admitted").state, "fail");
    assert.deepEqual((await trainee.get(`/api/attempts/${attemptId}`)).body.attempt.objectives, again.body.objectives);
  });

  it("submits for review: locked (409) until a reviewer answers; changes requested make it editable again", async () => {
    const submitted = await trainee.post(url("/submit"));
    assert.equal(submitted.status, 200, JSON.stringify(submitted.body));
    assert.equal(submitted.body.writeup.status, "submitted");
    assert.ok(submitted.body.writeup.submittedAt);
    const locked = await trainee.put(url(), { markdown: "one more thing" });
    assert.equal(locked.status, 409);
    assert.equal(locked.body.error.message, "the write-up is submitted and waits for review: it cannot be changed unless a reviewer asks for changes");
    assert.equal((await trainee.post(url("/submit"))).body.error.message, "the write-up is submitted already; it waits for a reviewer");
    // Only reviewers and admins review, and another trainee does not even see it.
    const self = await trainee.post(url("/review"), { status: "approved" });
    assert.deepEqual([self.status, self.body.error.message], [403, "only reviewers and admins review write-ups"]);
    assert.equal((await other.post(url("/review"), { status: "approved" })).status, 404);
    assert.equal((await reviewer.post(url("/review"), { status: "maybe" })).status, 400);

    // The queue has it, with the trainee, the lab and the objectives passed.
    assert.equal((await trainee.get("/api/reviews")).status, 403);
    const queue = await reviewer.get("/api/reviews");
    assert.equal(queue.status, 200);
    const item = reviewItemSchema.parse(queue.body.reviews.find((x: { attemptId: string }) => x.attemptId === attemptId));
    assert.deepEqual([item.trainee.name, item.lab, item.attemptState, item.writeup.status, item.objectives], [
      "tess", { id: FLAGSHIP, title: "The webhook that timed out: from kubectl down to the kernel" }, "stopped", "submitted", { passed: 1, total: 5 },
    ]);
    assert.equal(item.writeup.submittedAt, submitted.body.writeup.submittedAt);
    assert.equal((await reviewer.get("/api/reviews?status=bogus")).status, 400);

    const sent = await reviewer.post(url("/review"), { status: "changes-requested", comment: "Say how you found the blackhole route." });
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    assert.equal(sent.body.writeup.status, "changes-requested");
    assert.equal(sent.body.writeup.reviewer.name, "rita");
    assert.deepEqual(sent.body.writeup.comments.map((c: { author: { name: string; role: string }; body: string }) => [c.author.name, c.author.role, c.body]), [
      ["rita", "reviewer", "Say how you found the blackhole route."],
    ]);
    assert.equal((await reviewer.get("/api/reviews")).body.reviews.length, 0, "no longer waiting");
    assert.equal((await reviewer.get("/api/reviews?status=changes-requested")).body.reviews.length, 1);

    const edited = await trainee.put(url(), { markdown: MODEL + "\n\n`ip route` on worker-3 showed `blackhole 10.233.64.0/24`.\n" });
    assert.equal(edited.status, 200);
    assert.equal(edited.body.writeup.status, "draft", "an edit after changes were asked for is a draft again");
    assert.equal((await trainee.post(url("/submit"))).body.writeup.status, "submitted");
  });

  it("a reviewer cannot review their own write-up", async () => {
    // The reviewer's own attempt, made in the store: a second sandbox would add nothing to this test.
    const me = (await reviewer.get("/api/auth/me")).body.user;
    const at = new Date().toISOString();
    const own = await s.store.createAttempt({ userId: me.id, labId: FLAGSHIP, at, state: "stopped" });
    await s.store.updateAttempt(own.id, { endedAt: at });
    const mine = `/api/attempts/${own.id}/writeup`;
    assert.equal((await reviewer.put(mine, { markdown: "my own" })).status, 200);
    assert.equal((await reviewer.post(`${mine}/submit`)).status, 200);
    const r = await reviewer.post(`${mine}/review`, { status: "approved" });
    assert.deepEqual([r.status, r.body.error.message, r.body.error.hint], [403, "you cannot review your own write-up", "ask another reviewer"]);
    assert.equal((await admin.post(`${mine}/review`, { status: "approved" })).status, 200, "an admin can");
  });

  it("approves with a comment: locked for good; comments from the owner, reviewers and admins, in order, with authors and times", async () => {
    const approved = await admin.post(url("/review"), { status: "approved", comment: "Clear and complete. Approved." });
    assert.equal(approved.status, 200);
    const w = approved.body.writeup;
    assert.deepEqual([w.status, w.reviewer.name, w.reviewer.role], ["approved", "Admin", "admin"]);
    assert.ok(w.reviewedAt);
    assert.equal((await trainee.put(url(), { markdown: "after" })).body.error.message, "the write-up was approved: it can no longer be changed");
    assert.equal((await trainee.post(url("/submit"))).status, 409);
    assert.equal((await reviewer.post(url("/review"), { status: "changes-requested" })).status, 409);

    const thanks = await trainee.post(url("/comments"), { body: "  Thanks!\n<script>alert(1)</script>  " });
    assert.equal(thanks.status, 201, JSON.stringify(thanks.body));
    assert.equal((await reviewer.post(url("/comments"), { body: "   " })).status, 400);
    assert.equal((await reviewer.post(url("/comments"), { body: "x".repeat(4001) })).status, 400);
    assert.equal((await other.post(url("/comments"), { body: "me too" })).status, 404);
    const { writeup } = writeupReplySchema.parse((await trainee.get(url())).body);
    assert.deepEqual(writeup.comments.map((c) => [c.author.name, c.body]), [
      ["rita", "Say how you found the blackhole route."],
      ["Admin", "Clear and complete. Approved."],
      ["tess", "Thanks!\n<script>alert(1)</script>"],
    ]);
    const times = writeup.comments.map((c) => Date.parse(c.at));
    assert.deepEqual([...times].sort((a, b) => a - b), times);

    // The trainee's list of attempts says where the write-up stands (the catalog shows it).
    const mine = (await trainee.get("/api/attempts")).body.attempts;
    assert.deepEqual(mine.map((a: { id: string; writeup: string }) => [a.id, a.writeup]), [[attemptId, "approved"]]);
    const all = (await reviewer.get("/api/reviews?status=all")).body.reviews.map((x: { attemptId: string; writeup: { status: string } }) => x.writeup.status);
    assert.deepEqual([...all].sort(), ["approved", "approved", "none"]);
  });
});
