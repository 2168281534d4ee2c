/**
 * The one store interface the server uses, whatever the database. `KyselyStore` implements it for
 * SQLite and Postgres alike; rows come back camel-cased, with times as ISO strings.
 *
 * @example
 * const store = await openStore({ dataDir, databaseUrl: null }); // SQLite at <dataDir>/faultline.db
 * const user = await store.createUser({ email: "ada@example.com", name: "Ada", role: "trainee", passwordHash });
 * await store.transaction(async (tx) => { await tx.useInvite(id, user.id, now) || tx.rollback(); });
 */
import { randomBytes } from "node:crypto";
import type { Kysely, Selectable, Transaction } from "kysely";
import type { Dialect } from "./migrations.js";
import type {
  AttemptRow, AttemptState, Database, InviteRow, Role, SessionRow, UserRow, WriteupStatus, WriteupsTable,
} from "./tables.js";

export interface User {
  id: string;
  email: string;
  name: string;
  role: Role;
  createdAt: string;
  disabledAt: string | null;
}

export interface Session {
  id: string;
  userId: string;
  csrfToken: string;
  createdAt: string;
  expiresAt: string;
  lastSeenAt: string;
}

export interface Invite {
  id: string;
  role: Role;
  email: string | null;
  purpose: "invite" | "setup";
  createdBy: string | null;
  createdAt: string;
  expiresAt: string;
  usedAt: string | null;
  usedBy: string | null;
  revokedAt: string | null;
}

export interface Attempt {
  id: string;
  userId: string;
  labId: string;
  sandboxName: string;
  state: AttemptState;
  error: string | null;
  startedAt: string;
  endedAt: string | null;
}

export interface AttemptEvent {
  id: number;
  attemptId: string;
  kind: string;
  detail: string | null;
  at: string;
}

export interface ObjectiveTransition {
  id: number;
  attemptId: string;
  objectiveId: string;
  from: string | null;
  to: string;
  detail: string | null;
  at: string;
}

export interface Reveal {
  id: number;
  attemptId: string;
  kind: "hint" | "solution";
  ref: string;
  at: string;
}

export interface Recording {
  id: number;
  attemptId: string;
  terminalId: string;
  target: string;
  path: string;
  bytes: number;
  startedAt: string;
  endedAt: string | null;
}

export interface Writeup {
  id: number;
  attemptId: string;
  markdown: string;
  status: WriteupStatus;
  updatedAt: string;
  submittedAt: string | null;
  reviewedBy: string | null;
  reviewedAt: string | null;
}

export interface WriteupComment {
  id: number;
  writeupId: number;
  authorId: string;
  body: string;
  at: string;
}

export interface Store {
  readonly dialect: Dialect;
  /** Runs `fn` in one transaction; it commits when `fn` resolves, rolls back when it throws. */
  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T>;
  /** A round trip to the database (health checks). */
  ping(): Promise<void>;
  close(): Promise<void>;

  createUser(u: { email: string; name: string; role: Role; passwordHash: string; at: string }): Promise<User>;
  userById(id: string): Promise<User | undefined>;
  /** With the password hash, for login only. */
  credentialsByEmail(email: string): Promise<{ user: User; passwordHash: string } | undefined>;
  listUsers(): Promise<User[]>;
  updateUser(id: string, patch: { role?: Role; name?: string; disabledAt?: string | null; passwordHash?: string }): Promise<User | undefined>;
  countUsers(role?: Role): Promise<number>;

  createSession(s: Session): Promise<void>;
  /** The session and its user, if the session exists, has not expired at `now` and the user is enabled. */
  sessionWithUser(id: string, now: string): Promise<{ session: Session; user: User } | undefined>;
  touchSession(id: string, at: string): Promise<void>;
  deleteSession(id: string): Promise<void>;
  deleteSessionsOf(userId: string): Promise<void>;
  deleteExpiredSessions(now: string): Promise<number>;

  createInvite(i: { tokenHash: string; role: Role; email: string | null; purpose: "invite" | "setup"; createdBy: string | null; at: string; expiresAt: string }): Promise<Invite>;
  inviteByTokenHash(tokenHash: string): Promise<Invite | undefined>;
  /** Marks an invite used by `userId`; false when it was already used or revoked (single use, race-free). */
  useInvite(id: string, userId: string, at: string): Promise<boolean>;
  listInvites(): Promise<Invite[]>;
  /** Revokes unused invites by id, or every unused one of a purpose; returns how many. */
  revokeInvites(which: { id: string } | { purpose: "invite" | "setup" }, at: string): Promise<number>;

  createAttempt(a: { userId: string; labId: string; at: string; state: AttemptState }): Promise<Attempt>;
  attemptById(id: string): Promise<Attempt | undefined>;
  /** The attempt of `userId` at `labId` that has not ended, if any. */
  openAttempt(userId: string, labId: string): Promise<Attempt | undefined>;
  /** Attempts not ended, of everyone (start-up) or of one user. */
  openAttempts(userId?: string): Promise<Attempt[]>;
  /** Newest first. */
  listAttempts(filter: { userId?: string; labId?: string; limit?: number }): Promise<Attempt[]>;
  updateAttempt(id: string, patch: { state?: AttemptState; error?: string | null; endedAt?: string | null }): Promise<Attempt | undefined>;

  addAttemptEvent(e: { attemptId: string; kind: string; detail?: string | null; at: string }): Promise<AttemptEvent>;
  attemptEvents(attemptId: string): Promise<AttemptEvent[]>;

  addTransition(t: { attemptId: string; objectiveId: string; from: string | null; to: string; detail?: string | null; at: string }): Promise<ObjectiveTransition>;
  transitions(attemptId: string): Promise<ObjectiveTransition[]>;

  addReveal(r: { attemptId: string; kind: "hint" | "solution"; ref: string; at: string }): Promise<Reveal>;
  reveals(attemptId: string): Promise<Reveal[]>;

  addRecording(r: { attemptId: string; terminalId: string; target: string; path: string; at: string }): Promise<Recording>;
  updateRecording(id: number, patch: { bytes?: number; endedAt?: string | null }): Promise<void>;
  recordings(attemptId: string): Promise<Recording[]>;

  /** Creates or replaces the draft; a submitted write-up edited goes back to draft. */
  saveWriteup(attemptId: string, markdown: string, at: string): Promise<Writeup>;
  submitWriteup(attemptId: string, at: string): Promise<Writeup | undefined>;
  reviewWriteup(attemptId: string, r: { status: "changes-requested" | "approved"; reviewerId: string; at: string }): Promise<Writeup | undefined>;
  writeup(attemptId: string): Promise<Writeup | undefined>;
  /**
   * Write-ups of a status, or of some attempts: oldest submission first (a review queue is first in,
   * first out), then oldest update. At most 500.
   */
  listWriteups(filter: { status?: WriteupStatus; attemptIds?: string[] }): Promise<Writeup[]>;
  addWriteupComment(c: { writeupId: number; authorId: string; body: string; at: string }): Promise<WriteupComment>;
  writeupComments(writeupId: number): Promise<WriteupComment[]>;
}

/** Random ids for rows a URL names: 24 lowercase hex characters (96 bits), never guessable. */
export function newId(): string {
  return randomBytes(12).toString("hex");
}

const user = (r: UserRow): User => ({ id: r.id, email: r.email, name: r.name, role: r.role, createdAt: r.created_at, disabledAt: r.disabled_at });
const session = (r: SessionRow): Session => ({
  id: r.id, userId: r.user_id, csrfToken: r.csrf_token, createdAt: r.created_at, expiresAt: r.expires_at, lastSeenAt: r.last_seen_at,
});
const invite = (r: InviteRow): Invite => ({
  id: r.id, role: r.role, email: r.email, purpose: r.purpose, createdBy: r.created_by, createdAt: r.created_at,
  expiresAt: r.expires_at, usedAt: r.used_at, usedBy: r.used_by, revokedAt: r.revoked_at,
});
const attempt = (r: AttemptRow): Attempt => ({
  id: r.id, userId: r.user_id, labId: r.lab_id, sandboxName: r.sandbox_name, state: r.state, error: r.error, startedAt: r.started_at, endedAt: r.ended_at,
});

const writeupOf = (r: Selectable<WriteupsTable>): Writeup => ({
  id: Number(r.id), attemptId: r.attempt_id, markdown: r.markdown, status: r.status, updatedAt: r.updated_at,
  submittedAt: r.submitted_at, reviewedBy: r.reviewed_by, reviewedAt: r.reviewed_at,
});

/** The sandbox an attempt owns: one name for its whole life, so reset and re-provisioning reuse it. */
export function sandboxNameOf(attemptId: string): string {
  return `att-${attemptId}`;
}

export class KyselyStore implements Store {
  constructor(
    private readonly db: Kysely<Database>,
    readonly dialect: Dialect,
    private readonly onClose: () => Promise<void> = () => db.destroy(),
  ) {}

  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    if (this.db.isTransaction) return fn(this);
    return this.db.transaction().execute((trx: Transaction<Database>) => fn(new KyselyStore(trx, this.dialect)));
  }

  async ping(): Promise<void> {
    await this.db.selectFrom("users").select("id").limit(1).execute();
  }

  close(): Promise<void> {
    return this.onClose();
  }

  async createUser(u: { email: string; name: string; role: Role; passwordHash: string; at: string }): Promise<User> {
    const row = { id: newId(), email: u.email.toLowerCase(), name: u.name, role: u.role, password_hash: u.passwordHash, created_at: u.at, disabled_at: null };
    await this.db.insertInto("users").values(row).execute();
    return user(row);
  }

  async userById(id: string): Promise<User | undefined> {
    const r = await this.db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst();
    return r && user(r);
  }

  async credentialsByEmail(email: string): Promise<{ user: User; passwordHash: string } | undefined> {
    const r = await this.db.selectFrom("users").selectAll().where("email", "=", email.toLowerCase()).executeTakeFirst();
    return r && { user: user(r), passwordHash: r.password_hash };
  }

  async listUsers(): Promise<User[]> {
    return (await this.db.selectFrom("users").selectAll().orderBy("created_at").orderBy("email").execute()).map(user);
  }

  async updateUser(id: string, patch: { role?: Role; name?: string; disabledAt?: string | null; passwordHash?: string }): Promise<User | undefined> {
    const set = {
      ...(patch.role !== undefined ? { role: patch.role } : {}),
      ...(patch.name !== undefined ? { name: patch.name } : {}),
      ...(patch.disabledAt !== undefined ? { disabled_at: patch.disabledAt } : {}),
      ...(patch.passwordHash !== undefined ? { password_hash: patch.passwordHash } : {}),
    };
    if (Object.keys(set).length) await this.db.updateTable("users").set(set).where("id", "=", id).execute();
    return this.userById(id);
  }

  async countUsers(role?: Role): Promise<number> {
    let q = this.db.selectFrom("users").select((eb) => eb.fn.countAll().as("n")).where("disabled_at", "is", null);
    if (role) q = q.where("role", "=", role);
    const r = await q.executeTakeFirstOrThrow();
    return Number(r.n);
  }

  async createSession(s: Session): Promise<void> {
    await this.db
      .insertInto("sessions")
      .values({ id: s.id, user_id: s.userId, csrf_token: s.csrfToken, created_at: s.createdAt, expires_at: s.expiresAt, last_seen_at: s.lastSeenAt })
      .execute();
  }

  async sessionWithUser(id: string, now: string): Promise<{ session: Session; user: User } | undefined> {
    const s = await this.db.selectFrom("sessions").selectAll().where("id", "=", id).where("expires_at", ">", now).executeTakeFirst();
    if (!s) return undefined;
    const u = await this.userById(s.user_id);
    return u && !u.disabledAt ? { session: session(s), user: u } : undefined;
  }

  async touchSession(id: string, at: string): Promise<void> {
    await this.db.updateTable("sessions").set({ last_seen_at: at }).where("id", "=", id).execute();
  }

  async deleteSession(id: string): Promise<void> {
    await this.db.deleteFrom("sessions").where("id", "=", id).execute();
  }

  async deleteSessionsOf(userId: string): Promise<void> {
    await this.db.deleteFrom("sessions").where("user_id", "=", userId).execute();
  }

  async deleteExpiredSessions(now: string): Promise<number> {
    const r = await this.db.deleteFrom("sessions").where("expires_at", "<=", now).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  async createInvite(i: { tokenHash: string; role: Role; email: string | null; purpose: "invite" | "setup"; createdBy: string | null; at: string; expiresAt: string }): Promise<Invite> {
    const row = {
      id: newId(), token_hash: i.tokenHash, role: i.role, email: i.email?.toLowerCase() ?? null, purpose: i.purpose, created_by: i.createdBy,
      created_at: i.at, expires_at: i.expiresAt, used_at: null, used_by: null, revoked_at: null,
    };
    await this.db.insertInto("invites").values(row).execute();
    return invite(row);
  }

  async inviteByTokenHash(tokenHash: string): Promise<Invite | undefined> {
    const r = await this.db.selectFrom("invites").selectAll().where("token_hash", "=", tokenHash).executeTakeFirst();
    return r && invite(r);
  }

  async useInvite(id: string, userId: string, at: string): Promise<boolean> {
    const r = await this.db
      .updateTable("invites")
      .set({ used_at: at, used_by: userId })
      .where("id", "=", id)
      .where("used_at", "is", null)
      .where("revoked_at", "is", null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async listInvites(): Promise<Invite[]> {
    return (await this.db.selectFrom("invites").selectAll().orderBy("created_at", "desc").execute()).map(invite);
  }

  async revokeInvites(which: { id: string } | { purpose: "invite" | "setup" }, at: string): Promise<number> {
    let q = this.db.updateTable("invites").set({ revoked_at: at }).where("used_at", "is", null).where("revoked_at", "is", null);
    q = "id" in which ? q.where("id", "=", which.id) : q.where("purpose", "=", which.purpose);
    return Number((await q.executeTakeFirst()).numUpdatedRows);
  }

  async createAttempt(a: { userId: string; labId: string; at: string; state: AttemptState }): Promise<Attempt> {
    const id = newId();
    const row = { id, user_id: a.userId, lab_id: a.labId, sandbox_name: sandboxNameOf(id), state: a.state, error: null, started_at: a.at, ended_at: null };
    await this.db.insertInto("attempts").values(row).execute();
    return attempt(row);
  }

  async attemptById(id: string): Promise<Attempt | undefined> {
    const r = await this.db.selectFrom("attempts").selectAll().where("id", "=", id).executeTakeFirst();
    return r && attempt(r);
  }

  async openAttempt(userId: string, labId: string): Promise<Attempt | undefined> {
    const r = await this.db.selectFrom("attempts").selectAll().where("user_id", "=", userId).where("lab_id", "=", labId).where("ended_at", "is", null).executeTakeFirst();
    return r && attempt(r);
  }

  async openAttempts(userId?: string): Promise<Attempt[]> {
    let q = this.db.selectFrom("attempts").selectAll().where("ended_at", "is", null);
    if (userId) q = q.where("user_id", "=", userId);
    return (await q.orderBy("started_at").execute()).map(attempt);
  }

  async listAttempts(filter: { userId?: string; labId?: string; limit?: number }): Promise<Attempt[]> {
    let q = this.db.selectFrom("attempts").selectAll();
    if (filter.userId) q = q.where("user_id", "=", filter.userId);
    if (filter.labId) q = q.where("lab_id", "=", filter.labId);
    return (await q.orderBy("started_at", "desc").orderBy("id").limit(filter.limit ?? 200).execute()).map(attempt);
  }

  async updateAttempt(id: string, patch: { state?: AttemptState; error?: string | null; endedAt?: string | null }): Promise<Attempt | undefined> {
    const set = {
      ...(patch.state !== undefined ? { state: patch.state } : {}),
      ...(patch.error !== undefined ? { error: patch.error } : {}),
      ...(patch.endedAt !== undefined ? { ended_at: patch.endedAt } : {}),
    };
    if (Object.keys(set).length) await this.db.updateTable("attempts").set(set).where("id", "=", id).execute();
    return this.attemptById(id);
  }

  async addAttemptEvent(e: { attemptId: string; kind: string; detail?: string | null; at: string }): Promise<AttemptEvent> {
    const values = { attempt_id: e.attemptId, kind: e.kind, detail: e.detail ?? null, at: e.at };
    const { id } = await this.db.insertInto("attempt_events").values(values).returning("id").executeTakeFirstOrThrow();
    return { id: Number(id), attemptId: e.attemptId, kind: e.kind, detail: values.detail, at: e.at };
  }

  async attemptEvents(attemptId: string): Promise<AttemptEvent[]> {
    const rows = await this.db.selectFrom("attempt_events").selectAll().where("attempt_id", "=", attemptId).orderBy("id").execute();
    return rows.map((r) => ({ id: Number(r.id), attemptId: r.attempt_id, kind: r.kind, detail: r.detail, at: r.at }));
  }

  async addTransition(t: { attemptId: string; objectiveId: string; from: string | null; to: string; detail?: string | null; at: string }): Promise<ObjectiveTransition> {
    const values = { attempt_id: t.attemptId, objective_id: t.objectiveId, from_state: t.from, to_state: t.to, detail: t.detail ?? null, at: t.at };
    const { id } = await this.db.insertInto("objective_transitions").values(values).returning("id").executeTakeFirstOrThrow();
    return { id: Number(id), attemptId: t.attemptId, objectiveId: t.objectiveId, from: t.from, to: t.to, detail: values.detail, at: t.at };
  }

  async transitions(attemptId: string): Promise<ObjectiveTransition[]> {
    const rows = await this.db.selectFrom("objective_transitions").selectAll().where("attempt_id", "=", attemptId).orderBy("id").execute();
    return rows.map((r) => ({ id: Number(r.id), attemptId: r.attempt_id, objectiveId: r.objective_id, from: r.from_state, to: r.to_state, detail: r.detail, at: r.at }));
  }

  async addReveal(r: { attemptId: string; kind: "hint" | "solution"; ref: string; at: string }): Promise<Reveal> {
    const { id } = await this.db.insertInto("reveals").values({ attempt_id: r.attemptId, kind: r.kind, ref: r.ref, at: r.at }).returning("id").executeTakeFirstOrThrow();
    return { id: Number(id), ...r };
  }

  async reveals(attemptId: string): Promise<Reveal[]> {
    const rows = await this.db.selectFrom("reveals").selectAll().where("attempt_id", "=", attemptId).orderBy("id").execute();
    return rows.map((r) => ({ id: Number(r.id), attemptId: r.attempt_id, kind: r.kind, ref: r.ref, at: r.at }));
  }

  async addRecording(r: { attemptId: string; terminalId: string; target: string; path: string; at: string }): Promise<Recording> {
    const values = { attempt_id: r.attemptId, terminal_id: r.terminalId, target: r.target, path: r.path, bytes: 0, started_at: r.at, ended_at: null };
    const { id } = await this.db.insertInto("recordings").values(values).returning("id").executeTakeFirstOrThrow();
    return { id: Number(id), attemptId: r.attemptId, terminalId: r.terminalId, target: r.target, path: r.path, bytes: 0, startedAt: r.at, endedAt: null };
  }

  async updateRecording(id: number, patch: { bytes?: number; endedAt?: string | null }): Promise<void> {
    const set = { ...(patch.bytes !== undefined ? { bytes: patch.bytes } : {}), ...(patch.endedAt !== undefined ? { ended_at: patch.endedAt } : {}) };
    if (Object.keys(set).length) await this.db.updateTable("recordings").set(set).where("id", "=", id).execute();
  }

  async recordings(attemptId: string): Promise<Recording[]> {
    const rows = await this.db.selectFrom("recordings").selectAll().where("attempt_id", "=", attemptId).orderBy("id").execute();
    return rows.map((r) => ({
      id: Number(r.id), attemptId: r.attempt_id, terminalId: r.terminal_id, target: r.target, path: r.path, bytes: Number(r.bytes), startedAt: r.started_at, endedAt: r.ended_at,
    }));
  }

  async saveWriteup(attemptId: string, markdown: string, at: string): Promise<Writeup> {
    await this.db
      .insertInto("writeups")
      .values({ attempt_id: attemptId, markdown, status: "draft", updated_at: at, submitted_at: null, reviewed_by: null, reviewed_at: null })
      .onConflict((oc) => oc.column("attempt_id").doUpdateSet({ markdown, status: "draft", updated_at: at }))
      .execute();
    return (await this.writeup(attemptId))!;
  }

  async submitWriteup(attemptId: string, at: string): Promise<Writeup | undefined> {
    await this.db.updateTable("writeups").set({ status: "submitted", submitted_at: at }).where("attempt_id", "=", attemptId).execute();
    return this.writeup(attemptId);
  }

  async reviewWriteup(attemptId: string, r: { status: "changes-requested" | "approved"; reviewerId: string; at: string }): Promise<Writeup | undefined> {
    await this.db.updateTable("writeups").set({ status: r.status, reviewed_by: r.reviewerId, reviewed_at: r.at }).where("attempt_id", "=", attemptId).execute();
    return this.writeup(attemptId);
  }

  async writeup(attemptId: string): Promise<Writeup | undefined> {
    const r = await this.db.selectFrom("writeups").selectAll().where("attempt_id", "=", attemptId).executeTakeFirst();
    return r && writeupOf(r);
  }

  async listWriteups(filter: { status?: WriteupStatus; attemptIds?: string[] }): Promise<Writeup[]> {
    if (filter.attemptIds && filter.attemptIds.length === 0) return [];
    let q = this.db.selectFrom("writeups").selectAll();
    if (filter.status) q = q.where("status", "=", filter.status);
    if (filter.attemptIds) q = q.where("attempt_id", "in", filter.attemptIds);
    // NULLs (never submitted) sort first in SQLite and last in Postgres: say it, so both agree.
    const rows = await q
      .orderBy((eb) => eb.case().when("submitted_at", "is", null).then(1).else(0).end())
      .orderBy("submitted_at")
      .orderBy("updated_at")
      .orderBy("id")
      .limit(500)
      .execute();
    return rows.map(writeupOf);
  }

  async addWriteupComment(c: { writeupId: number; authorId: string; body: string; at: string }): Promise<WriteupComment> {
    const { id } = await this.db
      .insertInto("writeup_comments")
      .values({ writeup_id: c.writeupId, author_id: c.authorId, body: c.body, at: c.at })
      .returning("id")
      .executeTakeFirstOrThrow();
    return { id: Number(id), ...c };
  }

  async writeupComments(writeupId: number): Promise<WriteupComment[]> {
    const rows = await this.db.selectFrom("writeup_comments").selectAll().where("writeup_id", "=", writeupId).orderBy("id").execute();
    return rows.map((r) => ({ id: Number(r.id), writeupId: Number(r.writeup_id), authorId: r.author_id, body: r.body, at: r.at }));
  }
}
