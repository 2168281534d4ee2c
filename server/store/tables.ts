/**
 * The database's tables as Kysely sees them. Portable across SQLite and Postgres: times are ISO-8601
 * UTC strings (`2026-05-01T10:00:00.000Z`, so text order is time order), flags are nullable times
 * (`disabled_at`, `used_at`), ids of rows a URL names are random text, ids of append-only rows are
 * integers the database generates.
 */
import type { Generated, Insertable, Selectable } from "kysely";

export const ROLES = ["trainee", "reviewer", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** Open attempts are `provisioning`, `running` or `suspended` (no sandbox: idle-reaped, failed, or lost in a restart). */
export const ATTEMPT_STATES = ["provisioning", "running", "suspended", "stopped"] as const;
export type AttemptState = (typeof ATTEMPT_STATES)[number];

export const WRITEUP_STATUSES = ["draft", "submitted", "changes-requested", "approved"] as const;
export type WriteupStatus = (typeof WRITEUP_STATUSES)[number];

export interface UsersTable {
  id: string;
  /** Lowercased; unique. */
  email: string;
  name: string;
  role: Role;
  password_hash: string;
  created_at: string;
  disabled_at: string | null;
}

export interface SessionsTable {
  /** sha256 of the cookie's token: a stolen database does not yield live sessions. */
  id: string;
  user_id: string;
  /** The CSRF token state-changing requests of this session must carry (X-CSRF-Token). */
  csrf_token: string;
  created_at: string;
  expires_at: string;
  last_seen_at: string;
}

export interface InvitesTable {
  id: string;
  /** sha256 of the token in the link; the token itself is shown once. */
  token_hash: string;
  role: Role;
  /** When set, only this address can accept. */
  email: string | null;
  /** `invite` (made by an admin) or `setup` (the first admin's, printed at start-up). */
  purpose: "invite" | "setup";
  created_by: string | null;
  created_at: string;
  expires_at: string;
  used_at: string | null;
  used_by: string | null;
  revoked_at: string | null;
}

export interface AttemptsTable {
  id: string;
  user_id: string;
  lab_id: string;
  sandbox_name: string;
  state: AttemptState;
  /** The last provisioning failure, shown to the trainee; null once a sandbox comes up. */
  error: string | null;
  started_at: string;
  ended_at: string | null;
}

/** The attempt's own timeline: started, provisioned, reset, reaped, failed, stopped... */
export interface AttemptEventsTable {
  id: Generated<number>;
  attempt_id: string;
  kind: string;
  detail: string | null;
  at: string;
}

export interface ObjectiveTransitionsTable {
  id: Generated<number>;
  attempt_id: string;
  objective_id: string;
  from_state: string | null;
  to_state: string;
  detail: string | null;
  at: string;
}

export interface RevealsTable {
  id: Generated<number>;
  attempt_id: string;
  kind: "hint" | "solution";
  /** Which hint (its index in the lab) or solution. */
  ref: string;
  at: string;
}

export interface RecordingsTable {
  id: Generated<number>;
  attempt_id: string;
  terminal_id: string;
  target: string;
  path: string;
  bytes: number | string;
  started_at: string;
  ended_at: string | null;
}

export interface WriteupsTable {
  id: Generated<number>;
  attempt_id: string;
  markdown: string;
  status: WriteupStatus;
  updated_at: string;
  submitted_at: string | null;
  reviewed_by: string | null;
  reviewed_at: string | null;
}

export interface WriteupCommentsTable {
  id: Generated<number>;
  writeup_id: number;
  author_id: string;
  body: string;
  at: string;
}

export interface Database {
  users: UsersTable;
  sessions: SessionsTable;
  invites: InvitesTable;
  attempts: AttemptsTable;
  attempt_events: AttemptEventsTable;
  objective_transitions: ObjectiveTransitionsTable;
  reveals: RevealsTable;
  recordings: RecordingsTable;
  writeups: WriteupsTable;
  writeup_comments: WriteupCommentsTable;
}

export type UserRow = Selectable<UsersTable>;
export type SessionRow = Selectable<SessionsTable>;
export type InviteRow = Selectable<InvitesTable>;
export type AttemptRow = Selectable<AttemptsTable>;
export type NewAttempt = Insertable<AttemptsTable>;
