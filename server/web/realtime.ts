/**
 * socket.io on the lab server: terminals and live attempt events (provisioning phases, state changes,
 * objectives turning green as the grading evaluator sees them), speaking the protocol declared in
 * shared/protocol.ts (its header describes the messages, sequence numbers, flow control and replay).
 *
 * Authentication is the HTTP session: the handshake's `faultline_session` cookie, looked up in the
 * store like any request's, and refused without one; a handshake whose `Origin` is not this server's
 * is refused too (no cross-site WebSocket hijacking). Authorization follows the attempt routes: a
 * trainee reaches only their own attempts' terminals; the owner, reviewers and admins may watch an
 * attempt's events; anyone else is told the attempt or terminal does not exist.
 *
 * Every client message is `unknown` until its schema (shared/protocol.ts) accepts it; one that does
 * not, or names no known event, is answered with `protocol:error` and changes nothing else.
 *
 * @example
 * const rt = attachRealtime(listening.server, { store, manager, driver, dataDir, log, publicUrl: () => url });
 * await rt.close();
 */
import type { IncomingMessage, Server as HttpServer } from "node:http";
import { Server, type Socket } from "socket.io";
import { z } from "zod";
import {
  clientMessages, MAX_MESSAGE_BYTES,
  type ClientEvent, type ClientMessage, type ClientToServerEvents, type ProtocolError, type Replies, type ServerToClientEvents,
} from "../../shared/protocol.js";
import { FaultlineError } from "../errors.js";
import type { Logger } from "../log.js";
import type { Attempt, Store, User } from "../store/index.js";
import { parseCookies, SESSION_COOKIE, tokenHash } from "./auth/sessions.js";
import type { SandboxManager } from "./sandbox-manager.js";
import { Terminals, TerminalError, type ShellDriver, type TerminalsOptions } from "./realtime/terminals.js";
import type { Terminal, TerminalSink } from "./realtime/terminal.js";

export interface RealtimeDeps {
  store: Store;
  manager: SandboxManager;
  driver: ShellDriver;
  /** Recordings go under `<dataDir>/recordings/`. */
  dataDir: string;
  log: Logger;
  /** The public URL, read per handshake (with port 0 it is known only once listening). */
  publicUrl: () => string;
  now?: () => Date;
}

export interface RealtimeOptions extends TerminalsOptions {
  /** How often connected sockets' sessions are checked again (default a minute). */
  sessionCheckMs?: number;
}

interface SocketData {
  user: User;
  sessionId: string;
  sink: TerminalSink;
  /** Terminals this socket is attached to. */
  attached: Set<Terminal>;
}

type IoServer = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
type IoSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

export interface Realtime {
  io: IoServer;
  terminals: Terminals;
  /** Disconnects every client, ends every terminal (recordings closed); the HTTP server stays up. */
  close(): Promise<void>;
}

class Refusal extends FaultlineError {
  constructor(
    readonly code: ProtocolError["code"],
    message: string,
    hint?: string,
  ) {
    super(message, hint);
  }
}

const room = (attemptId: string) => `attempt:${attemptId}`;

export function attachRealtime(http: HttpServer, deps: RealtimeDeps, opts: RealtimeOptions = {}): Realtime {
  const now = deps.now ?? (() => new Date());
  const log = deps.log;
  const terminals = new Terminals(deps, opts);
  const io: IoServer = new Server(http, {
    serveClient: false,
    maxHttpBufferSize: MAX_MESSAGE_BYTES,
    // No CORS: the app is served by this server. Cross-site handshakes are refused here.
    allowRequest: (req, done) => done(null, sameOrigin(req, deps.publicUrl())),
    pingInterval: 20_000,
    pingTimeout: 20_000,
  });

  io.use((socket, next) => {
    const token = parseCookies(socket.request.headers.cookie)[SESSION_COOKIE];
    if (!token) return next(unauthenticated());
    deps.store
      .sessionWithUser(tokenHash(token), now().toISOString())
      .then((found) => {
        if (!found) return next(unauthenticated());
        socket.data.user = found.user;
        socket.data.sessionId = found.session.id;
        next();
      })
      .catch((e: unknown) => {
        log.error("socket.auth_failed", { error: e });
        next(new Error("internal"));
      });
  });

  // Everyone watching the attempt (the owner's pages, reviewers and admins reading it) hears its events.
  const unsubscribe = deps.manager.subscribe((e) => {
    const to = io.to(room(e.attemptId));
    if (e.type === "phase") to.emit("attempt:phase", { attemptId: e.attemptId, phase: e.phase });
    else if (e.type === "state") to.emit("attempt:state", { attemptId: e.attemptId, state: e.state, error: e.error });
    else to.emit("attempt:objectives", { attemptId: e.attemptId, objectives: e.objectives });
  });

  io.on("connection", (socket) => {
    const data = socket.data;
    data.attached = new Set();
    data.sink = {
      output: (f) => socket.emit("term:output", f),
      exit: (m) => socket.emit("term:exit", m),
      detached: (m) => {
        const term = terminals.get(m.terminalId);
        if (term) data.attached.delete(term);
        socket.emit("term:detached", m);
      },
    };

    /** Re-reads the session: signed out, expired or disabled users are disconnected. */
    const stillSignedIn = async (): Promise<void> => {
      const found = await deps.store.sessionWithUser(data.sessionId, now().toISOString());
      if (!found) {
        // After the refusal below has been answered.
        setImmediate(() => socket.disconnect(true));
        throw new Refusal("unauthenticated", "the session has ended; sign in again", "sign in again");
      }
      data.user = found.user;
    };

    /** The attempt if this user may do `action` on it (the attempt routes' rules); else as if it did not exist. */
    const attemptFor = async (attemptId: string, action: "read" | "act"): Promise<Attempt> => {
      const attempt = await deps.store.attemptById(attemptId);
      const own = attempt?.userId === data.user.id;
      const canRead = own || data.user.role === "reviewer" || data.user.role === "admin";
      if (!attempt || !canRead) throw new Refusal("not_found", "attempt not found");
      if (action === "act" && !own) throw new Refusal("forbidden", "only the trainee who started this attempt can use its terminals");
      return attempt;
    };

    /** A terminal of one's own; others' are reported as not existing. */
    const ownTerminal = (terminalId: string): Terminal => {
      const term = terminals.get(terminalId);
      if (!term || term.userId !== data.user.id) throw new Refusal("not_found", "terminal not found", "term:list lists the attempt's terminals");
      return term;
    };

    const attach = (term: Terminal, since: number) => {
      const replay = term.attach(data.sink, since);
      data.attached.add(term);
      terminals.attached(term);
      return replay;
    };

    on(log, socket, "attempt:watch", async ({ attemptId }) => {
      await stillSignedIn();
      await attemptFor(attemptId, "read");
      await socket.join(room(attemptId));
      return { attemptId };
    });

    on(log, socket, "attempt:unwatch", async ({ attemptId }) => {
      await socket.leave(room(attemptId));
    });

    on(log, socket, "term:list", async ({ attemptId }) => {
      await attemptFor(attemptId, "act");
      return { terminals: terminals.list(attemptId) };
    });

    on(log, socket, "term:open", async ({ attemptId, target, cols, rows }) => {
      await stillSignedIn();
      const attempt = await attemptFor(attemptId, "act");
      deps.manager.touch(attempt.id);
      const term = await terminals.open({ attemptId: attempt.id, userId: data.user.id }, target, { cols, rows });
      attach(term, 0);
      return { terminal: term.info() };
    }, (term) => term && terminals.get(term.terminal.id)?.flush());

    on(log, socket, "term:attach", async ({ terminalId, since, cols, rows }) => {
      await stillSignedIn();
      const term = ownTerminal(terminalId);
      if (cols && rows) term.resize(cols, rows);
      const replay = attach(term, since);
      deps.manager.touch(term.attemptId);
      return { terminal: term.info(), replay };
    }, (r) => r && terminals.get(r.terminal.id)?.flush());

    on(log, socket, "term:input", async ({ terminalId, data: text }) => {
      const term = ownTerminal(terminalId);
      if (term.exit) throw new Refusal("conflict", `the terminal has ended (${term.exit.reason})`, "open a new one");
      term.input(text);
      deps.manager.touch(term.attemptId);
    });

    on(log, socket, "term:ack", async ({ terminalId, upTo }) => {
      ownTerminal(terminalId).ack(data.sink, upTo);
    });

    on(log, socket, "term:resize", async ({ terminalId, cols, rows }) => {
      ownTerminal(terminalId).resize(cols, rows);
    });

    on(log, socket, "term:detach", async ({ terminalId }) => {
      const term = ownTerminal(terminalId);
      term.detach(data.sink);
      data.attached.delete(term);
      terminals.detached(term);
    });

    on(log, socket, "term:close", async ({ terminalId }) => {
      const term = ownTerminal(terminalId);
      await terminals.close(term.id, "closed");
      return { terminalId };
    });

    socket.onAny((event: unknown) => {
      if (typeof event === "string" && Object.hasOwn(clientMessages, event)) return;
      const name = typeof event === "string" ? event.slice(0, 100) : typeof event;
      socket.emit("protocol:error", { event: name, code: "unknown_event", message: `no event "${name}"`, hint: `events: ${Object.keys(clientMessages).join(", ")}` });
    });

    socket.on("disconnect", () => {
      for (const term of data.attached) {
        term.detach(data.sink);
        terminals.detached(term);
      }
      data.attached.clear();
    });
  });

  /**
   * Re-reads every connected socket's session, one at a time with the event loop free in between:
   * the store's SQLite queries run synchronously, and 50 lookups started at once held the event loop
   * (and every keystroke echo) for 20 to 130 ms.
   */
  let rechecking = false;
  const recheckAll = async (): Promise<void> => {
    if (rechecking) return;
    rechecking = true;
    try {
      for (const socket of [...io.of("/").sockets.values()]) {
        if (!socket.connected) continue;
        try {
          const found = await deps.store.sessionWithUser(socket.data.sessionId, now().toISOString());
          if (found) {
            socket.data.user = found.user;
          } else {
            socket.emit("protocol:error", { event: "session", code: "unauthenticated", message: "the session has ended; sign in again" });
            socket.disconnect(true);
          }
        } catch (e) {
          log.error("socket.session_check_failed", { error: e });
        }
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } finally {
      rechecking = false;
    }
  };
  const recheck = setInterval(() => void recheckAll(), opts.sessionCheckMs ?? 60_000);
  recheck.unref();

  return {
    io,
    terminals,
    close: async () => {
      clearInterval(recheck);
      unsubscribe();
      io.disconnectSockets(true);
      io.engine.close();
      await terminals.closeAll();
    },
  };
}

/**
 * Registers a handler that gets only messages its schema accepts. What it returns is the
 * acknowledgement (`{ok: true, ...}`); what it throws becomes `{ok: false, error}` and a
 * `protocol:error`. `after` runs once the acknowledgement went out (the replay follows it).
 */
function on<E extends ClientEvent, R extends E extends keyof Replies ? Replies[E] : void>(
  log: Logger,
  socket: IoSocket,
  event: E,
  handler: (msg: ClientMessage<E>) => Promise<R>,
  after?: (result: R | undefined) => void,
): void {
  const schema = clientMessages[event] as unknown as z.ZodType<ClientMessage<E>>;
  const listener = async (raw: unknown, ack?: unknown) => {
    const reply = typeof ack === "function" ? (ack as (r: unknown) => void) : null;
    let result: R | undefined;
    try {
      const parsed = schema.safeParse(raw);
      if (!parsed.success) throw schemaRefusal(parsed.error);
      result = await handler(parsed.data);
      reply?.({ ok: true, ...(result ?? {}) });
    } catch (e) {
      const error = toProtocolError(e);
      if (error.code === "internal") log.error("socket.handler_failed", { event, error: e });
      reply?.({ ok: false, error });
      socket.emit("protocol:error", { event, ...error });
      return;
    }
    after?.(result);
  };
  socket.on(event as never, listener as never);
}

function unauthenticated(): Error {
  return Object.assign(new Error("unauthenticated"), { data: { code: "unauthenticated", message: "sign in first" } });
}

/** A present Origin must be the public URL's or the one the request was sent to (as security.ts does for HTTP). */
function sameOrigin(req: IncomingMessage, publicUrl: string): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  if (origin === new URL(publicUrl).origin) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

function schemaRefusal(error: z.ZodError): Refusal {
  const issues = error.issues.slice(0, 3).map((i) => `${i.path.length ? i.path.join(".") : "message"}: ${i.message}`).join("; ");
  const tooBig = error.issues.some((i) => i.code === "too_big");
  return new Refusal(tooBig ? "too_large" : "invalid", issues, "see shared/protocol.ts for the message's fields");
}

function toProtocolError(e: unknown): ProtocolError {
  if (e instanceof Refusal || e instanceof TerminalError) return { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) };
  if (e instanceof FaultlineError) return { code: "conflict", message: e.message, ...(e.hint ? { hint: e.hint } : {}) };
  return { code: "internal", message: "internal server error" };
}
