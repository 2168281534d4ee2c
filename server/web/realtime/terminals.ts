/**
 * The server's web terminals, by id: opened on a target of a running attempt's sandbox, recorded,
 * kept while detached (a reload or a dropped connection finds the same shell), and ended when the
 * trainee closes them, the shell exits, the attempt's sandbox goes away (reset, stop, idle reaping),
 * they stay detached for `detachedTtlMs`, or the server stops. An exited terminal stays listed for
 * `exitedTtlMs` so a client reconnecting just then still sees its last output and its end.
 *
 * Who may use which terminal is decided by the caller (realtime.ts); this registry only keeps each
 * terminal's owner.
 */
import { randomBytes } from "node:crypto";
import type { IPty } from "@lydell/node-pty";
import { TERMINALS_PER_ATTEMPT, type TerminalInfo } from "../../../shared/protocol.js";
import { FaultlineError } from "../../errors.js";
import type { Logger } from "../../log.js";
import type { Store } from "../../store/index.js";
import type { ManagerEvent, SandboxManager } from "../sandbox-manager.js";
import { Recording } from "./recording.js";
import { DEFAULT_TUNING, Terminal, type TerminalTuning } from "./terminal.js";

/** What terminals need of a driver: a PTY on a target (SimDriver.openShell). */
export interface ShellDriver {
  openShell(name: string, target: string, size: { cols: number; rows: number; term?: string }, opts?: { binary?: boolean }): IPty;
}

export interface TerminalsOptions {
  tuning?: Partial<TerminalTuning>;
  perAttempt?: number;
  /** A terminal nobody is attached to is closed after this long (default 30 minutes). */
  detachedTtlMs?: number;
  /** An exited terminal is forgotten after this long (default a minute). */
  exitedTtlMs?: number;
  /** Cap of one recording's output (recording.ts). */
  recordingMaxBytes?: number;
  /** How long opening a shell waits for a sandbox that is rebuilding itself (default a minute). */
  rebuildWaitMs?: number;
}

/** A refusal the client can read: realtime.ts turns `code` into the protocol's error code. */
export class TerminalError extends FaultlineError {
  constructor(
    readonly code: "not_found" | "conflict" | "limit",
    message: string,
    hint?: string,
  ) {
    super(message, hint);
  }
}

const REASONS: Partial<Record<string, string>> = {
  provisioning: "the sandbox is being reset",
  suspended: "the sandbox was removed",
  stopped: "the attempt was stopped",
};

export class Terminals {
  private readonly byId = new Map<string, Terminal>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly opening = new Map<string, number>();
  private readonly tuning: TerminalTuning;
  private readonly unsubscribe: () => void;
  private closing = false;

  constructor(
    private readonly deps: { store: Store; manager: SandboxManager; driver: ShellDriver; dataDir: string; log: Logger },
    private readonly opts: TerminalsOptions = {},
  ) {
    this.tuning = { ...DEFAULT_TUNING, ...(opts.tuning ?? {}) };
    this.unsubscribe = deps.manager.subscribe((e) => this.onManagerEvent(e));
  }

  get(id: string): Terminal | undefined {
    return this.byId.get(id);
  }

  list(attemptId: string): TerminalInfo[] {
    return [...this.byId.values()].filter((t) => t.attemptId === attemptId).map((t) => t.info());
  }

  /** All terminals (the benchmark reads their flow state). */
  all(): Terminal[] {
    return [...this.byId.values()];
  }

  /** Opens a shell on `target` of the running sandbox of `attemptId`, recorded from its first byte. */
  async open(a: { attemptId: string; userId: string }, target: string, size: { cols: number; rows: number }): Promise<Terminal> {
    if (this.closing) throw new TerminalError("conflict", "the server is stopping");
    const sandbox = this.deps.manager.runningSandbox(a.attemptId);
    if (!sandbox) throw new TerminalError("conflict", "the attempt's sandbox is not running", "start the lab, and wait until it is ready");
    const targets = await this.targetsOnceBuilt(a.attemptId);
    if (!targets.includes(target)) {
      throw new TerminalError("not_found", `the sandbox has no ${target}`, `targets: ${targets.slice(0, 30).join(", ")}${targets.length > 30 ? ", ..." : ""}`);
    }
    const max = this.opts.perAttempt ?? TERMINALS_PER_ATTEMPT;
    const open = this.list(a.attemptId).filter((t) => !t.exit).length + (this.opening.get(a.attemptId) ?? 0);
    if (open >= max) throw new TerminalError("limit", `this attempt has ${open} of ${max} terminals open`, "close one first");
    this.opening.set(a.attemptId, (this.opening.get(a.attemptId) ?? 0) + 1);
    try {
      const id = randomBytes(12).toString("hex");
      const recording = await Recording.start({
        store: this.deps.store, dataDir: this.deps.dataDir, attemptId: a.attemptId, terminalId: id, target, ...size, log: this.deps.log,
        ...(this.opts.recordingMaxBytes ? { maxBytes: this.opts.recordingMaxBytes } : {}),
      });
      let pty: IPty;
      try {
        pty = this.deps.driver.openShell(sandbox, target, { ...size, term: "xterm-256color" }, { binary: true });
      } catch (e) {
        await recording.close();
        throw e;
      }
      const term = new Terminal(id, a.attemptId, a.userId, target, pty, recording, size, this.tuning);
      this.byId.set(id, term);
      void term.done.then(() => this.forgetLater(term));
      this.deps.log.info("terminal.opened", { terminal: id, attempt: a.attemptId, target });
      return term;
    } finally {
      const n = (this.opening.get(a.attemptId) ?? 1) - 1;
      if (n > 0) this.opening.set(a.attemptId, n);
      else this.opening.delete(a.attemptId);
    }
  }

  /**
   * The running sandbox's targets. A sandbox that lists none is being rebuilt from inside (the trainee
   * ran `faultline-reprovision`, which takes a few seconds): asking for a new shell then waits for it,
   * up to `rebuildWaitMs`, instead of failing with "the sandbox has no node/cp-1".
   */
  private async targetsOnceBuilt(attemptId: string): Promise<string[]> {
    const deadline = Date.now() + (this.opts.rebuildWaitMs ?? 60_000);
    for (;;) {
      const targets = this.deps.manager.targets(attemptId);
      if (targets.length || Date.now() >= deadline || this.closing || !this.deps.manager.runningSandbox(attemptId)) return targets;
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** A connection attached: a pending close for being detached is called off. */
  attached(term: Terminal): void {
    this.clearTimer(term.id);
  }

  /** The connection attached to `term` went away: it is closed if nobody attaches within the TTL. */
  detached(term: Terminal): void {
    if (term.exit || term.attachedTo) return;
    this.clearTimer(term.id);
    const t = setTimeout(() => void this.close(term.id, "detached for too long"), this.opts.detachedTtlMs ?? 30 * 60_000);
    t.unref();
    this.timers.set(term.id, t);
  }

  async close(id: string, reason: string): Promise<void> {
    const term = this.byId.get(id);
    if (term) await term.close(reason);
  }

  /** Ends every terminal of an attempt (its sandbox went away). */
  async closeAttempt(attemptId: string, reason: string): Promise<void> {
    await Promise.all([...this.byId.values()].filter((t) => t.attemptId === attemptId).map((t) => t.close(reason)));
  }

  /** Server shutdown: every shell hung up, every recording closed. */
  async closeAll(): Promise<void> {
    this.closing = true;
    this.unsubscribe();
    await Promise.all([...this.byId.values()].map((t) => t.close("the server stopped")));
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.byId.clear();
  }

  private onManagerEvent(e: ManagerEvent): void {
    if (e.type !== "state" || e.state === "running") return;
    const reason = REASONS[e.state] ?? `the attempt is ${e.state}`;
    void this.closeAttempt(e.attemptId, reason).catch((err: unknown) => this.deps.log.error("terminal.close_failed", { attempt: e.attemptId, error: err }));
  }

  private forgetLater(term: Terminal): void {
    this.clearTimer(term.id);
    this.deps.log.info("terminal.exited", { terminal: term.id, attempt: term.attemptId, reason: term.exit?.reason, code: term.exit?.code });
    if (this.closing) return;
    const t = setTimeout(() => {
      this.timers.delete(term.id);
      if (this.byId.get(term.id) === term) this.byId.delete(term.id);
    }, this.opts.exitedTtlMs ?? 60_000);
    t.unref();
    this.timers.set(term.id, t);
  }

  private clearTimer(id: string): void {
    const t = this.timers.get(id);
    if (t) clearTimeout(t);
    this.timers.delete(id);
  }
}
