/**
 * The store on real databases: SQLite in a temp folder always, Postgres when one can be had
 * (postgres.ts). The same suite runs on both, so the migrations and queries stay portable.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { sql } from "kysely";
import { connect, migrate, openStore, SQLITE_FILE, type Store, type StoreOptions } from "../../../server/store/index.js";
import { startPostgres, type PostgresOrSkip } from "./postgres.js";

const at = (n: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString();

const sqliteDir = mkdtempSync(path.join(tmpdir(), "faultline-store-"));
after(() => rmSync(sqliteDir, { recursive: true, force: true }));

let pgHandle: PostgresOrSkip = { skip: "not started" };
before(async () => {
  pgHandle = await startPostgres();
  if ("skip" in pgHandle) console.log(`# postgres store tests skipped: ${pgHandle.skip}`);
});
after(async () => {
  if (!("skip" in pgHandle)) await pgHandle.stop();
});

const backends: Array<[string, () => StoreOptions | string]> = [
  ["sqlite", () => ({ dataDir: sqliteDir, databaseUrl: null })],
  ["postgres", () => ("skip" in pgHandle ? pgHandle.skip : { dataDir: sqliteDir, databaseUrl: pgHandle.url })],
];

for (const [name, options] of backends) {
  describe(`store on ${name}`, () => {
    let store: Store;
    let opts: StoreOptions;
    let skip: string | false = false;
    before(async () => {
      const o = options();
      if (typeof o === "string") return void (skip = o);
      opts = o;
      store = await openStore(opts);
    });
    after(() => store?.close());
    const test = (title: string, fn: () => Promise<void>) => it(title, async (t) => (skip ? t.skip(skip) : fn()));

    test("migrations applied on open, and applying them again changes nothing", async () => {
      const { db, dialect } = connect(opts);
      try {
        assert.deepEqual(await migrate(db, dialect), [], "already at the latest");
        const tables = (await db.introspection.getTables()).map((t) => t.name).filter((n) => !n.startsWith("kysely_")).sort();
        assert.deepEqual(tables, ["attempt_events", "attempts", "invites", "objective_transitions", "recordings", "reveals", "sessions", "users", "writeup_comments", "writeups"]);
      } finally {
        await db.destroy();
      }
      // A second store on the same database opens cleanly too (a restart).
      await (await openStore(opts)).close();
    });

    test("users: emails are unique whatever their case; roles are checked by the database", async () => {
      const u = await store.createUser({ email: "Ada@Example.com", name: "Ada", role: "trainee", passwordHash: "h1", at: at(1) });
      assert.equal(u.email, "ada@example.com");
      await assert.rejects(store.createUser({ email: "ADA@example.com", name: "Ada 2", role: "trainee", passwordHash: "h", at: at(2) }));
      await assert.rejects(store.createUser({ email: "x@example.com", name: "X", role: "root" as "admin", passwordHash: "h", at: at(2) }));
      assert.equal((await store.credentialsByEmail("ADA@EXAMPLE.COM"))?.passwordHash, "h1");
      assert.equal((await store.updateUser(u.id, { role: "reviewer" }))?.role, "reviewer");
      assert.equal(await store.countUsers("reviewer"), 1);
      await store.updateUser(u.id, { disabledAt: at(3) });
      assert.equal(await store.countUsers("reviewer"), 0, "disabled users do not count");
    });

    test("sessions: found until they expire, gone when their user is disabled", async () => {
      const u = await store.createUser({ email: "s@example.com", name: "S", role: "trainee", passwordHash: "h", at: at(1) });
      await store.createSession({ id: "sess-1", userId: u.id, csrfToken: "c", createdAt: at(1), expiresAt: at(100), lastSeenAt: at(1) });
      assert.equal((await store.sessionWithUser("sess-1", at(50)))?.user.id, u.id);
      assert.equal(await store.sessionWithUser("sess-1", at(100)), undefined, "expired");
      assert.equal(await store.deleteExpiredSessions(at(100)), 1);
      await store.createSession({ id: "sess-2", userId: u.id, csrfToken: "c", createdAt: at(1), expiresAt: at(100), lastSeenAt: at(1) });
      await store.updateUser(u.id, { disabledAt: at(2) });
      assert.equal(await store.sessionWithUser("sess-2", at(3)), undefined);
    });

    test("invites are single use, and revoked ones cannot be used", async () => {
      const inv = await store.createInvite({ tokenHash: "t1", role: "reviewer", email: null, purpose: "invite", createdBy: null, at: at(1), expiresAt: at(99) });
      const u = await store.createUser({ email: "inv@example.com", name: "I", role: "reviewer", passwordHash: "h", at: at(2) });
      assert.equal(await store.useInvite(inv.id, u.id, at(2)), true);
      assert.equal(await store.useInvite(inv.id, u.id, at(3)), false);
      assert.equal((await store.inviteByTokenHash("t1"))?.usedBy, u.id);
      const setup = await store.createInvite({ tokenHash: "t2", role: "admin", email: null, purpose: "setup", createdBy: null, at: at(1), expiresAt: at(99) });
      assert.equal(await store.revokeInvites({ purpose: "setup" }, at(4)), 1);
      assert.equal(await store.useInvite(setup.id, u.id, at(5)), false);
    });

    test("one open attempt per user and lab, enforced by the database", async () => {
      const u = await store.createUser({ email: "att@example.com", name: "A", role: "trainee", passwordHash: "h", at: at(1) });
      const a = await store.createAttempt({ userId: u.id, labId: "lab-1", at: at(1), state: "provisioning" });
      assert.match(a.sandboxName, /^att-[0-9a-f]{24}$/);
      await assert.rejects(store.createAttempt({ userId: u.id, labId: "lab-1", at: at(2), state: "provisioning" }));
      await store.createAttempt({ userId: u.id, labId: "lab-2", at: at(2), state: "provisioning" });
      await store.updateAttempt(a.id, { state: "stopped", endedAt: at(3) });
      const b = await store.createAttempt({ userId: u.id, labId: "lab-1", at: at(4), state: "provisioning" });
      assert.equal((await store.openAttempt(u.id, "lab-1"))?.id, b.id);
      assert.deepEqual((await store.listAttempts({ userId: u.id })).map((x) => x.startedAt), [at(4), at(2), at(1)]);
      assert.equal((await store.openAttempts(u.id)).length, 2);
    });

    test("the attempt's timeline: events, objective transitions, reveals, recordings", async () => {
      const u = await store.createUser({ email: "tl@example.com", name: "T", role: "trainee", passwordHash: "h", at: at(1) });
      const a = await store.createAttempt({ userId: u.id, labId: "lab-1", at: at(1), state: "running" });
      await store.addAttemptEvent({ attemptId: a.id, kind: "started", at: at(1) });
      await store.addAttemptEvent({ attemptId: a.id, kind: "reset", detail: "by the trainee", at: at(2) });
      assert.deepEqual((await store.attemptEvents(a.id)).map((e) => [e.kind, e.detail]), [["started", null], ["reset", "by the trainee"]]);
      await store.addTransition({ attemptId: a.id, objectiveId: "pool-admitted", from: null, to: "failing", at: at(3) });
      await store.addTransition({ attemptId: a.id, objectiveId: "pool-admitted", from: "failing", to: "passing", detail: "admitted", at: at(4) });
      assert.deepEqual((await store.transitions(a.id)).map((t) => `${t.from}->${t.to}`), ["null->failing", "failing->passing"]);
      await store.addReveal({ attemptId: a.id, kind: "hint", ref: "2", at: at(5) });
      assert.equal((await store.reveals(a.id))[0]?.ref, "2");
      const rec = await store.addRecording({ attemptId: a.id, terminalId: "t1", target: "node/cp-1", path: "/x.cast", at: at(6) });
      await store.updateRecording(rec.id, { bytes: 5_000_000_000, endedAt: at(7) });
      assert.deepEqual((await store.recordings(a.id)).map((r) => [r.bytes, r.endedAt]), [[5_000_000_000, at(7)]], "bytes beyond 32 bits come back as a number");
    });

    test("write-ups: draft, submit, review, comments", async () => {
      const u = await store.createUser({ email: "wu@example.com", name: "W", role: "trainee", passwordHash: "h", at: at(1) });
      const r = await store.createUser({ email: "rev@example.com", name: "R", role: "reviewer", passwordHash: "h", at: at(1) });
      const a = await store.createAttempt({ userId: u.id, labId: "lab-1", at: at(1), state: "running" });
      await store.saveWriteup(a.id, "# first", at(2));
      const w = await store.saveWriteup(a.id, "# second", at(3));
      assert.deepEqual([w.markdown, w.status], ["# second", "draft"]);
      assert.equal((await store.submitWriteup(a.id, at(4)))?.status, "submitted");
      assert.equal((await store.reviewWriteup(a.id, { status: "approved", reviewerId: r.id, at: at(5) }))?.reviewedBy, r.id);
      await store.addWriteupComment({ writeupId: w.id, authorId: r.id, body: "good catch on the blackhole", at: at(6) });
      assert.deepEqual((await store.writeupComments(w.id)).map((c) => c.body), ["good catch on the blackhole"]);
    });

    test("write-ups listed by status (longest waiting first) or by attempt", async () => {
      const u = await store.createUser({ email: "lw@example.com", name: "L", role: "trainee", passwordHash: "h", at: at(1) });
      const [a, b, c] = await Promise.all(["lab-a", "lab-b", "lab-c"].map((labId) => store.createAttempt({ userId: u.id, labId, at: at(1), state: "stopped" })));
      await store.saveWriteup(a!.id, "a", at(2));
      await store.saveWriteup(b!.id, "b", at(2));
      await store.saveWriteup(c!.id, "c", at(2));
      await store.submitWriteup(b!.id, at(3));
      await store.submitWriteup(a!.id, at(4));
      assert.deepEqual((await store.listWriteups({ status: "submitted" })).map((w) => w.markdown), ["b", "a"]);
      assert.deepEqual((await store.listWriteups({ status: "draft" })).map((w) => w.markdown), ["c"]);
      assert.deepEqual((await store.listWriteups({ attemptIds: [c!.id, a!.id] })).map((w) => w.markdown), ["a", "c"], "never submitted last");
      assert.deepEqual(await store.listWriteups({ attemptIds: [] }), []);
    });

    test("a transaction that throws leaves nothing behind", async () => {
      await assert.rejects(
        store.transaction(async (tx) => {
          await tx.createUser({ email: "rollback@example.com", name: "R", role: "trainee", passwordHash: "h", at: at(1) });
          throw new Error("boom");
        }),
        /boom/,
      );
      assert.equal(await store.credentialsByEmail("rollback@example.com"), undefined);
    });

    if (name === "sqlite") {
      test("a fresh database gets every migration, once", async () => {
        const dir = mkdtempSync(path.join(tmpdir(), "faultline-store-fresh-"));
        const { db, dialect } = connect({ dataDir: dir, databaseUrl: null });
        try {
          assert.deepEqual(await migrate(db, dialect), ["0001-initial"]);
          assert.deepEqual(await migrate(db, dialect), []);
        } finally {
          await db.destroy();
          rmSync(dir, { recursive: true, force: true });
        }
      });

      test("the SQLite file is readable by the server's user only", async () => {
        assert.equal(statSync(path.join(sqliteDir, SQLITE_FILE)).mode & 0o777, 0o600);
        const { db } = connect(opts);
        try {
          const { rows } = await sql<{ foreign_keys: number }>`pragma foreign_keys`.execute(db);
          assert.equal(rows[0]?.foreign_keys, 1);
        } finally {
          await db.destroy();
        }
      });
    }
  });
}
