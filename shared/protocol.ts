/**
 * The socket.io protocol between the lab server and the browser app, declared once: what each side
 * may send, as zod schemas (the server parses every client message with them) and the TypeScript
 * types both sides compile against (`Server<ClientToServerEvents, ServerToClientEvents>` on the
 * server, `Socket<ServerToClientEvents, ClientToServerEvents>` in the client).
 *
 * Connection: socket.io on `/socket.io/`, authenticated by the session cookie (`faultline_session`)
 * sent with the handshake; a present `Origin` must be the server's. No session: the connection is
 * refused with `connect_error` "unauthenticated". The session is checked again on every `open`,
 * `attach` and `watch`, and every minute (a signed-out or disabled user is disconnected).
 *
 * Terminals. A terminal is a shell on one target (`node/cp-1`, `pod/default/netshoot`) of the
 * sandbox of an attempt of one's own; it outlives the socket that opened it, so a reload or a
 * dropped connection finds the SAME shell:
 *
 *   client                                   server
 *   term:open {attemptId, target, cols, rows} ──▶  ack {ok, terminal: {id, ...}}
 *   term:attach {terminalId, since, ...}      ──▶  ack {ok, terminal, replay: {from, lost}}
 *                                            ◀──  term:output {terminalId, seq, data}   (binary)
 *   term:ack {terminalId, upTo}               ──▶  (flow control)
 *   term:input {terminalId, data}             ──▶
 *   term:resize / term:detach / term:close    ──▶
 *                                            ◀──  term:exit {terminalId, code, reason}
 *
 * Sequence numbers are byte offsets in the terminal's output stream, as in TCP: a frame's `seq` is
 * the offset of its first byte, so `seq + data.byteLength` is where the next frame starts. A client
 * keeps the end of what it has received and, after a reconnect, attaches with `since` = that end:
 * the server sends exactly the bytes from there on (from its replay buffer, the last
 * `REPLAY_BUFFER_BYTES` of output, trimmed on frame boundaries). When `since` is older than the
 * buffer (a reload attaches with 0), the answer says `lost` > 0 and the replay starts at `from`: the
 * client should reset its screen and say that earlier output is gone.
 *
 * Flow control: the client acknowledges output once its terminal has processed it (`term:ack`
 * with the offset processed). When more than `FLOW_HIGH_BYTES` are unacknowledged the server stops
 * reading the shell's PTY, so a `yes` cannot run ahead of the screen, and Ctrl-C reaches a prompt
 * after at most that much output; it reads again once fewer than `FLOW_LOW_BYTES` are outstanding.
 * A terminal nobody is attached to stops the same way, so a detached shell loses nothing.
 *
 * Output is coalesced: after a quiet moment the first output leaves at once (keystroke echo), then
 * at most one frame per `COALESCE_MS`, or sooner when `FRAME_MAX_BYTES` are waiting.
 *
 * Attempts: `attempt:watch` joins an attempt's live events (provisioning phases, state changes, and
 * `attempt:objectives`: every objective's state whenever the live grading evaluator sees one change);
 * the owner, reviewers and admins may watch, as they may read the attempt over HTTP. The objectives
 * pushed are the same `ObjectiveView`s as `GET /api/attempts/:id` returns in `objectives`.
 *
 * Errors: a message that fails its schema, is too large or names an unknown event is answered with
 * `protocol:error` (and, when it carried an acknowledgement callback, `{ok: false, error}`); the
 * connection and its terminals carry on. Messages over `MAX_MESSAGE_BYTES` are cut off by
 * engine.io, which closes the transport: the client reconnects and re-attaches its terminals.
 *
 * HTTP shapes that both sides handle beyond the objectives (write-ups, their review, recordings) are
 * declared here too, at the end: the server builds its answers to these types and parses request
 * bodies with these schemas; the app compiles against the same types (docs/server.md has the routes).
 *
 * @example
 * ```ts
 * const socket: ClientSocket = io({ withCredentials: true });
 * socket.emit("term:open", { attemptId, target: "node/cp-1", cols: 120, rows: 32 }, (r) => {
 *   if (!r.ok) return console.error(r.error.message);
 *   socket.emit("term:input", { terminalId: r.terminal.id, data: "kubectl get nodes\r" });
 * });
 * socket.on("term:output", ({ terminalId, seq, data }) => xterm.write(new Uint8Array(data)));
 * ```
 */
import { z } from "zod";

export * from "./protocol/limits.js";
import { COLS, COMMENT_MAX_CHARS, INPUT_MAX_CHARS, ROWS } from "./protocol/limits.js";

const id = z.string().regex(/^[0-9a-f]{24}$/, "expected a 24-character hex id");
/** `node/<name>` or `pod/<namespace>/<name>` (the driver's TARGET). */
const target = z.string().max(300).regex(/^(node\/[a-z0-9-]+|pod\/[a-z0-9-]+\/[a-z0-9.-]+)$/, "expected node/<name> or pod/<namespace>/<name>");
const cols = z.number().int().min(COLS.min).max(COLS.max);
const rows = z.number().int().min(ROWS.min).max(ROWS.max);
const offset = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** Every message a client may send, by event name. */
export const clientMessages = {
  "attempt:watch": z.strictObject({ attemptId: id }),
  "attempt:unwatch": z.strictObject({ attemptId: id }),
  "term:list": z.strictObject({ attemptId: id }),
  "term:open": z.strictObject({ attemptId: id, target, cols, rows }),
  "term:attach": z.strictObject({ terminalId: id, since: offset, cols: cols.optional(), rows: rows.optional() }),
  "term:input": z.strictObject({ terminalId: id, data: z.string().min(1).max(INPUT_MAX_CHARS) }),
  "term:ack": z.strictObject({ terminalId: id, upTo: offset }),
  "term:resize": z.strictObject({ terminalId: id, cols, rows }),
  "term:detach": z.strictObject({ terminalId: id }),
  "term:close": z.strictObject({ terminalId: id }),
} as const;

export type ClientEvent = keyof typeof clientMessages;

/**
 * How an objective stands: "pass" done, "fail" not yet, "error" the check could not run (the sandbox
 * could not answer: not the trainee's fault), "pending" not checked yet.
 */
export const objectiveStateSchema = z.enum(["pending", "pass", "fail", "error"]);
export type ObjectiveState = z.infer<typeof objectiveStateSchema>;

/**
 * One objective of an attempt as the server reports it, over HTTP (`GET /api/attempts/:id`,
 * `objectives`) and in `attempt:objectives`. `detail` says why (the check's own words; null while
 * pending); `since` is when the objective entered this state (ISO time; null while pending).
 */
export const objectiveViewSchema = z.strictObject({
  id: z.string(),
  title: z.string(),
  state: objectiveStateSchema,
  detail: z.string().nullable(),
  since: z.string().nullable(),
});
export type ObjectiveView = z.infer<typeof objectiveViewSchema>;

/**
 * The server's messages that carry data a client acts on, by event name: the server builds them to
 * these types, and a client (or a test) may parse them with these schemas.
 */
export const serverMessages = {
  /** Every objective of the attempt, in the lab's order, once any of them changed state. */
  "attempt:objectives": z.strictObject({ attemptId: id, objectives: z.array(objectiveViewSchema) }),
} as const;

export type ServerMessage<E extends keyof typeof serverMessages> = z.infer<(typeof serverMessages)[E]>;
export type ClientMessage<E extends ClientEvent> = z.infer<(typeof clientMessages)[E]>;

export type ProtocolErrorCode =
  | "invalid" // the message failed its schema
  | "too_large" // a field over its limit
  | "unknown_event"
  | "unauthenticated" // the session ended
  | "not_found" // no such attempt or terminal, or not one's own
  | "forbidden" // may see it, may not act on it
  | "conflict" // the sandbox is not running; the terminal has exited
  | "limit" // too many terminals
  | "internal";

export interface ProtocolError {
  code: ProtocolErrorCode;
  message: string;
  hint?: string;
}

/** A terminal as the server describes it. `end` is the offset after its last output byte. */
export interface TerminalInfo {
  id: string;
  attemptId: string;
  target: string;
  cols: number;
  rows: number;
  createdAt: string;
  end: number;
  /** Set once the shell has exited (it stays listed a minute, so a reconnect sees its end). */
  exit: TerminalExit | null;
}

export interface TerminalExit {
  code: number | null;
  /** "exited", or why the server ended it: "closed", "sandbox reset", "sandbox stopped", ... */
  reason: string;
}

/** What the acknowledgement of each request carries when it succeeded. */
export interface Replies {
  "attempt:watch": { attemptId: string };
  "term:list": { terminals: TerminalInfo[] };
  "term:open": { terminal: TerminalInfo };
  /** The replay follows as `term:output` frames from `replay.from`; `lost` bytes before it are gone. */
  "term:attach": { terminal: TerminalInfo; replay: { from: number; lost: number } };
  "term:close": { terminalId: string };
}

export type Reply<E extends keyof Replies> = ({ ok: true } & Replies[E]) | { ok: false; error: ProtocolError };

export type ClientToServerEvents = {
  [E in ClientEvent]: E extends keyof Replies ? (msg: ClientMessage<E>, ack: (reply: Reply<E>) => void) => void : (msg: ClientMessage<E>) => void;
};

/** A run of output; `data` is a Buffer on the server and an ArrayBuffer in the browser. */
export interface OutputFrame {
  terminalId: string;
  seq: number;
  data: Uint8Array | ArrayBuffer;
}

/** A provisioning phase as the driver reports it (server/sandboxes/sim/driver.ts Phase). */
export interface PhaseReport {
  phase: string;
  detail?: string;
  ms: number;
}

export type AttemptStateName = "provisioning" | "running" | "suspended" | "stopped";

export interface ServerToClientEvents {
  "term:output": (frame: OutputFrame) => void;
  "term:exit": (msg: { terminalId: string } & TerminalExit) => void;
  /** Another connection attached to this terminal (the newest wins). */
  "term:detached": (msg: { terminalId: string; reason: string }) => void;
  "attempt:phase": (msg: { attemptId: string; phase: PhaseReport }) => void;
  "attempt:state": (msg: { attemptId: string; state: AttemptStateName; error: string | null }) => void;
  "attempt:objectives": (msg: ServerMessage<"attempt:objectives">) => void;
  "protocol:error": (msg: { event: string } & ProtocolError) => void;
}

// --- HTTP: write-ups, reviews, recordings ---------------------------------------------------------

/**
 * Where a write-up stands: "none" (nothing saved yet), "draft" (the trainee edits it), "submitted"
 * (waits for a reviewer; locked), "changes-requested" (a reviewer sent it back; editable again, and a
 * save makes it a draft), "approved" (done; locked for good).
 */
export const writeupStatusSchema = z.enum(["none", "draft", "submitted", "changes-requested", "approved"]);
export type WriteupStatusName = z.infer<typeof writeupStatusSchema>;

/** Someone named on a write-up: its trainee, its reviewer, a comment's author. */
export const personSchema = z.strictObject({ id: z.string(), name: z.string(), role: z.enum(["trainee", "reviewer", "admin"]) });
export type Person = z.infer<typeof personSchema>;

/** A comment on a write-up; `body` is plain text (shown as text, never as HTML). */
export const writeupCommentSchema = z.strictObject({ id: z.number().int(), author: personSchema, body: z.string(), at: z.string() });
export type WriteupComment = z.infer<typeof writeupCommentSchema>;

/**
 * An attempt's write-up (`GET /api/attempts/:id/writeup`). `html` is the markdown rendered and
 * sanitized by the server (write-ups are untrusted: raw HTML is shown as text, only http(s), mailto
 * and relative links survive, images become links); `prompt` is the lab's write-up prompt.
 */
export const writeupViewSchema = z.strictObject({
  attemptId: z.string(),
  lab: z.string(),
  trainee: personSchema,
  prompt: z.string().nullable(),
  status: writeupStatusSchema,
  markdown: z.string(),
  html: z.string(),
  words: z.number().int(),
  updatedAt: z.string().nullable(),
  submittedAt: z.string().nullable(),
  reviewedAt: z.string().nullable(),
  reviewer: personSchema.nullable(),
  comments: z.array(writeupCommentSchema),
});
export type WriteupView = z.infer<typeof writeupViewSchema>;

/** `PUT /api/attempts/:id/writeup`. Its size (WRITEUP_MAX_BYTES) is checked apart: over it is a 413, not a 400. */
export const saveWriteupSchema = z.strictObject({ markdown: z.string() });
/** `POST /api/attempts/:id/writeup/review`: the verdict, and a comment posted with it. */
export const reviewWriteupSchema = z.strictObject({
  status: z.enum(["approved", "changes-requested"]),
  comment: z.string().trim().max(COMMENT_MAX_CHARS).optional(),
});
/** `POST /api/attempts/:id/writeup/comments`. */
export const writeupCommentBodySchema = z.strictObject({ body: z.string().trim().min(1, "write something").max(COMMENT_MAX_CHARS) });

/**
 * What the write-up routes answer: the write-up, and the attempt's objectives once the checks that
 * read the write-up have seen this version (saving is what turns a `writeup` objective green).
 */
export const writeupReplySchema = z.strictObject({ writeup: writeupViewSchema, objectives: z.array(objectiveViewSchema) });
export type WriteupReply = z.infer<typeof writeupReplySchema>;

/** A terminal's recording (`GET /api/attempts/:id/recordings`); `bytes` is the file's size so far. */
export const recordingViewSchema = z.strictObject({
  id: z.number().int(),
  terminalId: z.string(),
  target: z.string(),
  startedAt: z.string(),
  endedAt: z.string().nullable(),
  bytes: z.number().int(),
});
export type RecordingView = z.infer<typeof recordingViewSchema>;

/** A hint or the solution shown to the trainee, for the attempt's timeline (`GET /api/attempts/:id`, `reveals`). */
export const revealViewSchema = z.strictObject({ kind: z.enum(["hint", "solution"]), ref: z.string(), at: z.string() });
export type RevealView = z.infer<typeof revealViewSchema>;

/** `GET /api/reviews?status=`: which write-ups; `all` lists every attempt, with a write-up or not. Other parameters are ignored. */
export const reviewQuerySchema = z.object({ status: z.enum(["submitted", "changes-requested", "approved", "draft", "all"]).default("submitted") });

/** One line of the review queue. */
export const reviewItemSchema = z.strictObject({
  attemptId: z.string(),
  lab: z.strictObject({ id: z.string(), title: z.string() }),
  trainee: personSchema,
  attemptState: z.enum(["provisioning", "running", "suspended", "stopped"]),
  startedAt: z.string(),
  writeup: z.strictObject({
    status: writeupStatusSchema,
    updatedAt: z.string().nullable(),
    submittedAt: z.string().nullable(),
    reviewedAt: z.string().nullable(),
    reviewer: personSchema.nullable(),
  }),
  objectives: z.strictObject({ passed: z.number().int(), total: z.number().int() }),
});
export type ReviewItem = z.infer<typeof reviewItemSchema>;
