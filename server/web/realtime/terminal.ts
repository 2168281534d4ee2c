/**
 * One web terminal: a shell's PTY, its recent output (replay buffer), its recording, and the one
 * connection attached to it (a `TerminalSink`). It knows nothing of socket.io; realtime.ts adapts.
 *
 * Output path: PTY bytes -> recording + replay buffer -> coalesced frames to the sink. After a quiet
 * moment the first output goes out at once (on the next turn of the event loop, so a burst read in
 * one go leaves as one frame): keystroke echo waits for nothing. Output that follows within
 * `coalesceMs` of a frame is held and sent as one frame when that time is up, or at once when
 * `frameMaxBytes` are waiting. No timer runs while nothing is waiting (50 terminals echoing
 * keystrokes would otherwise wake the event loop for an empty window after every one).
 *
 * Flow control (wetty's flowcontrol.ts and xterm.js's flow-control guide, in byte offsets): `end`
 * is the offset after the last byte read from the PTY, `acked` what the attached client says its
 * terminal has processed. Above `highBytes` outstanding the PTY is paused (the shell blocks on
 * write, as behind a slow serial line); at fewer than `lowBytes` it is resumed. With nobody attached
 * nothing is acknowledged, so a detached shell stops after `highBytes` and loses nothing.
 */
import type { IPty } from "@lydell/node-pty";
import type { TerminalExit, TerminalInfo } from "../../../shared/protocol.js";
import { COALESCE_MS, FLOW_HIGH_BYTES, FLOW_LOW_BYTES, FRAME_MAX_BYTES, REPLAY_BUFFER_BYTES } from "../../../shared/protocol.js";
import type { Recording } from "./recording.js";
import { ReplayBuffer } from "./replay.js";

/** Where an attached terminal's frames and notices go (one socket). */
export interface TerminalSink {
  output(frame: { terminalId: string; seq: number; data: Buffer }): void;
  exit(msg: { terminalId: string } & TerminalExit): void;
  detached(msg: { terminalId: string; reason: string }): void;
}

export interface TerminalTuning {
  replayBytes: number;
  highBytes: number;
  lowBytes: number;
  frameMaxBytes: number;
  coalesceMs: number;
}

export const DEFAULT_TUNING: TerminalTuning = {
  replayBytes: REPLAY_BUFFER_BYTES,
  highBytes: FLOW_HIGH_BYTES,
  lowBytes: FLOW_LOW_BYTES,
  frameMaxBytes: FRAME_MAX_BYTES,
  coalesceMs: COALESCE_MS,
};

/** How long a terminal being closed may take to exit before it is killed. */
const KILL_AFTER_MS = 2000;

export class Terminal {
  readonly buffer: ReplayBuffer;
  readonly createdAt: string;
  cols: number;
  rows: number;
  exit: TerminalExit | null = null;
  private acked = 0;
  /** Offset up to which output went to the current sink. */
  private sent = 0;
  private paused = false;
  private sink: TerminalSink | null = null;
  /** PTY output not yet in the buffer (committed once per frame), and its length in bytes. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private immediate: NodeJS.Immediate | null = null;
  private window: NodeJS.Timeout | null = null;
  /** When the last frame went out (performance.now()); the next may leave `coalesceMs` later. */
  private lastFrameAt = Number.NEGATIVE_INFINITY;
  private closeReason: string | null = null;
  private killTimer: NodeJS.Timeout | null = null;
  private readonly exited: Promise<void>;

  constructor(
    readonly id: string,
    readonly attemptId: string,
    readonly userId: string,
    readonly target: string,
    private readonly pty: IPty,
    private readonly recording: Recording | null,
    size: { cols: number; rows: number },
    private readonly tuning: TerminalTuning = DEFAULT_TUNING,
    now: Date = new Date(),
  ) {
    this.buffer = new ReplayBuffer(tuning.replayBytes);
    this.cols = size.cols;
    this.rows = size.rows;
    this.createdAt = now.toISOString();
    // A binary PTY (driver.openShell with `binary`) gives Buffers, though IPty types its data as strings.
    pty.onData((data: string | Buffer) => this.onData(data));
    this.exited = new Promise((resolve) => {
      pty.onExit(({ exitCode, signal }) => {
        this.onExit(signal ? null : exitCode);
        resolve();
      });
    });
  }

  info(): TerminalInfo {
    this.commit();
    return { id: this.id, attemptId: this.attemptId, target: this.target, cols: this.cols, rows: this.rows, createdAt: this.createdAt, end: this.buffer.end, exit: this.exit };
  }

  /** Unacknowledged bytes (for tests and the benchmark). */
  get outstanding(): number {
    return this.buffer.end + this.pendingBytes - this.acked;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  get attachedTo(): TerminalSink | null {
    return this.sink;
  }

  /**
   * Makes `sink` the terminal's one connection (a previous one is told it was detached) and sets up
   * the replay from `since`; `flush()` sends it, once the caller has answered the attach request.
   * `lost` is how many bytes after `since` are no longer kept.
   */
  attach(sink: TerminalSink, since: number): { from: number; lost: number } {
    this.commit();
    if (this.sink && this.sink !== sink) this.sink.detached({ terminalId: this.id, reason: "attached from another window" });
    this.sink = sink;
    const want = Math.min(since, this.buffer.end);
    const from = this.buffer.resumeAt(want);
    this.sent = from;
    // What the client already has counts as processed: its window starts from there.
    this.acked = Math.max(this.acked, want);
    this.maybeResume();
    return { from, lost: from - want };
  }

  detach(sink: TerminalSink): void {
    if (this.sink !== sink) return;
    this.sink = null;
    this.clearTimers();
    this.commit();
  }

  /** Sends what the sink has not had yet (the replay after an attach, then live output). */
  flush(): void {
    this.commit();
    if (!this.sink) return;
    if (this.sent < this.buffer.end) {
      const { from, frames } = this.buffer.slice(this.sent, this.tuning.frameMaxBytes);
      if (from > this.sent) this.sent = from;
      for (const f of frames) this.sink.output({ terminalId: this.id, seq: f.seq, data: f.data });
      this.sent = this.buffer.end;
      this.lastFrameAt = performance.now();
    }
    if (this.exit && !this.immediate && !this.window) this.sink.exit({ terminalId: this.id, ...this.exit });
  }

  /** The client processed output up to `upTo` (only the attached sink's acks count). */
  ack(sink: TerminalSink, upTo: number): void {
    if (sink !== this.sink) return;
    const at = Math.min(upTo, this.sent);
    if (at > this.acked) this.acked = at;
    this.maybeResume();
  }

  input(data: string): void {
    this.pty.write(data);
  }

  resize(cols: number, rows: number): void {
    if (cols === this.cols && rows === this.rows) return;
    this.cols = cols;
    this.rows = rows;
    if (this.exit) return;
    this.pty.resize(cols, rows);
    this.recording?.resize(cols, rows);
  }

  /** Hangs up the shell (SIGHUP, then SIGKILL after 2 s); resolves once it has exited and the recording is closed. */
  async close(reason: string): Promise<void> {
    if (!this.exit) {
      this.closeReason ??= reason;
      // A paused PTY would never see its end of file; read what is left.
      this.paused = false;
      this.pty.resume();
      try {
        this.pty.kill("SIGHUP");
      } catch {
        /* already gone */
      }
      this.killTimer ??= setTimeout(() => {
        try {
          this.pty.kill("SIGKILL");
        } catch {
          /* already gone */
        }
      }, KILL_AFTER_MS);
      this.killTimer.unref();
    }
    await this.exited;
    await this.recording?.close();
  }

  /** Resolves when the shell has exited. */
  get done(): Promise<void> {
    return this.exited;
  }

  private onData(data: string | Buffer): void {
    const chunk = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    // A frame is at most frameMaxBytes: what waits leaves before a read that would overflow it (a
    // frame cut at the limit would leave a small remainder to go as a frame of its own).
    if (this.pendingBytes && this.pendingBytes + chunk.length > this.tuning.frameMaxBytes) this.flush();
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (!this.paused && this.buffer.end + this.pendingBytes - this.acked > this.tuning.highBytes) {
      this.paused = true;
      this.pty.pause();
      // Nothing more comes until the client catches up: what is here goes now.
      return this.flush();
    }
    this.schedule();
  }

  /** Moves what the PTY gave since the last time into the replay buffer and the recording, as one chunk. */
  private commit(): void {
    if (!this.pending.length) return;
    const data = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    this.recording?.output(data);
    this.buffer.push(data);
  }

  private onExit(code: number | null): void {
    if (this.killTimer) clearTimeout(this.killTimer);
    this.exit = { code, reason: this.closeReason ?? "exited" };
    this.clearTimers();
    this.flush();
    void this.recording?.close();
  }

  private schedule(): void {
    if (this.pendingBytes >= this.tuning.frameMaxBytes) return this.flush();
    if (this.immediate || this.window) return;
    const wait = this.lastFrameAt + this.tuning.coalesceMs - performance.now();
    if (wait <= 0) this.immediate = setImmediate(this.sendNow);
    else this.window = setTimeout(this.sendNow, wait);
  }

  /** Sends what waits (the timer of schedule()). */
  private readonly sendNow = (): void => {
    this.immediate = null;
    this.window = null;
    this.flush();
  };

  private maybeResume(): void {
    if (this.paused && !this.exit && this.buffer.end + this.pendingBytes - this.acked < this.tuning.lowBytes) {
      this.paused = false;
      this.pty.resume();
    }
  }

  private clearTimers(): void {
    if (this.immediate) clearImmediate(this.immediate);
    if (this.window) clearTimeout(this.window);
    this.immediate = null;
    this.window = null;
  }
}
