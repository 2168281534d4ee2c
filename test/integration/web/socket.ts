/**
 * socket.io clients for the tests and the benchmark, as the browser app uses the protocol: connected
 * with a signed-in Client's cookies, and a TermView per terminal that keeps its output, checks that
 * frames arrive in sequence, and acknowledges what it got (unless told not to).
 */
import { io, type Socket } from "socket.io-client";
import type { ClientEvent, ClientMessage, ClientToServerEvents, OutputFrame, Replies, Reply, ServerToClientEvents } from "../../../shared/protocol.js";

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface Signed {
  readonly cookies: Map<string, string>;
}

/** A connected socket with `who`'s session cookie (none when `who` is null). */
export function connect(url: string, who: Signed | null, opts: { origin?: string; reconnection?: boolean } = {}): Promise<ClientSocket> {
  const headers: Record<string, string> = {};
  if (who?.cookies.size) headers["cookie"] = [...who.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  if (opts.origin) headers["origin"] = opts.origin;
  const socket: ClientSocket = io(url, {
    transports: ["websocket"],
    extraHeaders: headers,
    forceNew: true,
    reconnection: opts.reconnection ?? false,
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
  });
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (e) => {
      socket.close();
      reject(e);
    });
  });
}

/** Emits a request and resolves with its acknowledgement. */
export function request<E extends ClientEvent & keyof Replies>(socket: ClientSocket, event: E, msg: ClientMessage<E>, timeoutMs = 10_000): Promise<Reply<E>> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${event}: no answer in ${timeoutMs} ms`)), timeoutMs);
    // socket.io's typed emit cannot follow the mapped event type; the call matches ClientToServerEvents.
    (socket.emit as (e: string, m: unknown, ack: (r: Reply<E>) => void) => void)(event, msg, (r) => {
      clearTimeout(t);
      resolve(r);
    });
  });
}

/** Like `request`, but throws unless the reply is ok. */
export async function ok<E extends ClientEvent & keyof Replies>(socket: ClientSocket, event: E, msg: ClientMessage<E>): Promise<Replies[E]> {
  const r = await request(socket, event, msg);
  if (!r.ok) throw new Error(`${event}: ${r.error.code}: ${r.error.message}`);
  return r;
}

/** The output of one terminal as one client sees it. */
export class TermView {
  readonly chunks: Buffer[] = [];
  /** Offset after the last byte received. */
  received = 0;
  /** Frames that did not start where the previous ended. */
  readonly gaps: Array<{ expected: number; got: number }> = [];
  autoAck = true;
  exit: { code: number | null; reason: string } | null = null;
  private waiters: Array<() => void> = [];
  /** The first frame may start anywhere (attached with a replay whose start is not known yet). */
  private anyStart = false;
  private readonly onOutput = (f: OutputFrame) => {
    if (f.terminalId !== this.id) return;
    const data = Buffer.from(f.data instanceof ArrayBuffer ? new Uint8Array(f.data) : f.data);
    if (this.anyStart) this.received = f.seq;
    this.anyStart = false;
    if (f.seq !== this.received) this.gaps.push({ expected: this.received, got: f.seq });
    this.chunks.push(data);
    this.received = f.seq + data.length;
    if (this.autoAck) this.socket.emit("term:ack", { terminalId: this.id, upTo: this.received });
    for (const w of this.waiters.splice(0)) w();
  };
  private readonly onExit = (m: { terminalId: string; code: number | null; reason: string }) => {
    if (m.terminalId !== this.id) return;
    this.exit = { code: m.code, reason: m.reason };
    for (const w of this.waiters.splice(0)) w();
  };

  constructor(
    readonly socket: ClientSocket,
    readonly id: string,
    start: number | "any" = 0,
  ) {
    this.received = start === "any" ? 0 : start;
    this.anyStart = start === "any";
    socket.on("term:output", this.onOutput);
    socket.on("term:exit", this.onExit);
  }

  /** Follows another socket (after a reconnect); attach after this, so no frame comes before the listener. */
  static follow(socket: ClientSocket, prev: TermView): TermView {
    prev.stop();
    const v = new TermView(socket, prev.id, prev.received);
    v.chunks.push(...prev.chunks);
    return v;
  }

  stop(): void {
    this.socket.off("term:output", this.onOutput);
    this.socket.off("term:exit", this.onExit);
  }

  text(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }

  type(data: string): void {
    this.socket.emit("term:input", { terminalId: this.id, data });
  }

  ack(): void {
    this.socket.emit("term:ack", { terminalId: this.id, upTo: this.received });
  }

  /** Waits until `test` holds for the output (or the terminal exits, or the time is up). */
  async until(test: RegExp | ((text: string) => boolean), timeoutMs = 10_000): Promise<string> {
    const check = typeof test === "function" ? test : (t: string) => test.test(t);
    const end = Date.now() + timeoutMs;
    for (;;) {
      const text = this.text();
      if (check(text)) return text;
      if (this.exit) throw new Error(`terminal exited (${this.exit.reason}) before ${String(test)}; output: ${JSON.stringify(text.slice(-500))}`);
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${String(test)}; output: ${JSON.stringify(text.slice(-500))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 1000));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Waits until the shell is idle at a prompt after `marker` was echoed by a command (`echo MARK`). */
  async command(cmd: string, timeoutMs = 10_000): Promise<string> {
    const mark = `__done_${Math.random().toString(36).slice(2, 8)}__`;
    const before = this.text().length;
    this.type(`${cmd}; echo ${mark.slice(0, 2)}""${mark.slice(2)}\r`);
    const text = await this.until((t) => t.slice(before).includes(mark), timeoutMs);
    const out = text.slice(before);
    return out.slice(0, out.indexOf(mark));
  }
}

export function once<T>(socket: ClientSocket, event: keyof ServerToClientEvents, test: (msg: T) => boolean = () => true, timeoutMs = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      socket.off(event, handler as never);
      reject(new Error(`no ${event} in ${timeoutMs} ms`));
    }, timeoutMs);
    const handler = (msg: T) => {
      if (!test(msg)) return;
      clearTimeout(t);
      socket.off(event, handler as never);
      resolve(msg);
    };
    socket.on(event, handler as never);
  });
}
