/**
 * A terminal's transport: the socket side of one server terminal (shared/protocol.ts). It keeps the
 * offset of what it has received, drops what it has already had, asks again (`term:attach` from
 * that offset) after a gap or a reconnection, and acknowledges output once the screen has processed
 * it, which is the server's flow control. The view (view.ts) sees only the TerminalStream interface.
 */
import type { OutputFrame, TerminalInfo } from "../../../shared/protocol";
import { INPUT_MAX_CHARS } from "../../../shared/protocol/limits";
import { getSocket, onTerminal, requestNow } from "../realtime";

export interface TerminalExitInfo {
  code: number | null;
  reason: string;
}

/** What a terminal view needs from its connection; it knows nothing else of the transport. */
export interface TerminalStream {
  /** Output to show; call `done` once the screen has processed it. */
  onOutput(fn: (data: Uint8Array, done: () => void) => void): void;
  /** Output was lost before what follows (the screen should be cleared): `lost` bytes. */
  onReset(fn: (lost: number) => void): void;
  onExit(fn: (exit: TerminalExitInfo) => void): void;
  input(data: string): void;
  resize(cols: number, rows: number): void;
}

export class SocketTerminalStream implements TerminalStream {
  private received = 0;
  private acked = 0;
  private resyncing = false;
  private everAttached = false;
  private disposed = false;
  private outputFn: ((data: Uint8Array, done: () => void) => void) | null = null;
  private resetFn: ((lost: number) => void) | null = null;
  private exitFn: ((e: TerminalExitInfo) => void) | null = null;
  private readonly early: Array<{ data: Uint8Array; end: number } | { lost: number } | { exit: TerminalExitInfo }> = [];
  private readonly offTerminal: () => void;
  private readonly onConnect = () => {
    if (this.everAttached && !this.disposed) this.attach();
  };
  exit: TerminalExitInfo | null = null;

  private constructor(
    readonly info: TerminalInfo,
    private size: { cols: number; rows: number },
  ) {
    this.offTerminal = onTerminal(info.id, { output: (f) => this.frame(f), exit: (m) => this.exited(m) });
    getSocket().on("connect", this.onConnect);
  }

  get id(): string {
    return this.info.id;
  }

  get target(): string {
    return this.info.target;
  }

  /** A new shell on `target`; rejects with the server's message. */
  static open(attemptId: string, target: string, size: { cols: number; rows: number }): Promise<SocketTerminalStream> {
    return new Promise((resolve, reject) => {
      requestNow("term:open", { attemptId, target, ...size }, (r) => {
        if (!r.ok) return reject(new Error(r.error.message));
        // Registered inside the acknowledgement: the first output follows it.
        const s = new SocketTerminalStream(r.terminal, size);
        s.everAttached = true;
        resolve(s);
      });
    });
  }

  /** An existing shell (after a reload): its kept output is replayed from the start. */
  static attach(info: TerminalInfo, size: { cols: number; rows: number }): SocketTerminalStream {
    const s = new SocketTerminalStream(info, size);
    s.attach();
    return s;
  }

  onOutput(fn: (data: Uint8Array, done: () => void) => void): void {
    this.outputFn = fn;
    this.drainEarly();
  }

  onReset(fn: (lost: number) => void): void {
    this.resetFn = fn;
    this.drainEarly();
  }

  onExit(fn: (e: TerminalExitInfo) => void): void {
    this.exitFn = fn;
    this.drainEarly();
  }

  input(data: string): void {
    if (this.exit) return;
    const socket = getSocket();
    for (let i = 0; i < data.length; i += INPUT_MAX_CHARS) {
      socket.emit("term:input", { terminalId: this.id, data: data.slice(i, i + INPUT_MAX_CHARS) });
    }
  }

  resize(cols: number, rows: number): void {
    if (cols === this.size.cols && rows === this.size.rows) return;
    this.size = { cols, rows };
    if (!this.exit) getSocket().emit("term:resize", { terminalId: this.id, cols, rows });
  }

  /** Ends the shell on the server. */
  close(): void {
    if (!this.exit) requestNow("term:close", { terminalId: this.id }, () => {});
    this.exit ??= { code: null, reason: "closed" };
    this.dispose();
  }

  /** Stops listening; the shell lives on (a later page attaches to it). */
  dispose(): void {
    if (this.disposed) return;
    const socket = getSocket();
    if (!this.exit && socket.connected) socket.emit("term:detach", { terminalId: this.id });
    this.disposed = true;
    this.offTerminal();
    getSocket().off("connect", this.onConnect);
  }

  private attach(): void {
    this.resyncing = true;
    requestNow("term:attach", { terminalId: this.id, since: this.received, ...this.size }, (r) => {
      this.resyncing = false;
      if (!r.ok) {
        if (r.error.code === "not_found") this.exited({ code: null, reason: "the terminal is gone" });
        return;
      }
      this.everAttached = true;
      if (r.replay.lost > 0 || r.replay.from !== this.received) {
        this.received = r.replay.from;
        this.acked = Math.min(this.acked, this.received);
        this.emitReset(r.replay.lost);
      }
    });
  }

  private frame(f: OutputFrame): void {
    if (this.disposed) return;
    let data = f.data instanceof Uint8Array ? f.data : new Uint8Array(f.data);
    if (f.seq > this.received) {
      // A gap: never expected on one connection, but then ask for exactly what is missing.
      if (!this.resyncing) this.attach();
      return;
    }
    if (f.seq < this.received) {
      const skip = this.received - f.seq;
      if (skip >= data.length) return;
      data = data.subarray(skip);
    }
    this.received += data.length;
    const end = this.received;
    if (this.outputFn) this.outputFn(data, () => this.ack(end));
    else this.early.push({ data, end });
  }

  private ack(end: number): void {
    if (end <= this.acked || this.disposed) return;
    this.acked = end;
    getSocket().emit("term:ack", { terminalId: this.id, upTo: end });
  }

  private emitReset(lost: number): void {
    if (this.resetFn) this.resetFn(lost);
    else this.early.push({ lost });
  }

  private exited(e: TerminalExitInfo): void {
    this.exit = e;
    if (this.exitFn) this.exitFn(e);
    else this.early.push({ exit: e });
  }

  private drainEarly(): void {
    if (!this.outputFn || !this.resetFn || !this.exitFn) return;
    for (const x of this.early.splice(0)) {
      if ("data" in x) this.outputFn(x.data, () => this.ack(x.end));
      else if ("lost" in x) this.resetFn(x.lost);
      else this.exitFn(x.exit);
    }
  }
}
