/**
 * The app's one socket.io connection (shared/protocol.ts), opened on first use with the session
 * cookie. Terminal output is dispatched by terminal id to whoever registered for it, so a terminal
 * registers before it attaches and no frame of its replay arrives unheard. socket.io reconnects by
 * itself; each registered terminal re-attaches on "connect" with the offset it has (stream.ts).
 */
import { io, type Socket } from "socket.io-client";
import type { ClientEvent, ClientMessage, ClientToServerEvents, OutputFrame, Replies, Reply, ServerToClientEvents } from "../../shared/protocol";

export type AppSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

let socket: AppSocket | null = null;
const outputs = new Map<string, (f: OutputFrame) => void>();
const exits = new Map<string, (m: { code: number | null; reason: string }) => void>();

export function getSocket(): AppSocket {
  if (socket) return socket;
  const s: AppSocket = io({ path: "/socket.io/", withCredentials: true, reconnectionDelay: 250, reconnectionDelayMax: 3000 });
  s.on("term:output", (f) => outputs.get(f.terminalId)?.(f));
  s.on("term:exit", (m) => exits.get(m.terminalId)?.({ code: m.code, reason: m.reason }));
  s.on("protocol:error", (e) => {
    if (e.code === "unauthenticated") return signedOut();
    console.warn(`faultline: ${e.event}: ${e.code}: ${e.message}`);
  });
  s.on("connect_error", (e) => {
    if (e.message === "unauthenticated") signedOut();
  });
  socket = s;
  return s;
}

/** The session ended elsewhere (signed out, expired, disabled): a fresh page at the login. */
function signedOut(): void {
  closeSocket();
  location.assign(`/login?next=${encodeURIComponent(location.pathname)}`);
}

/** Signing out: the connection goes with the session. */
export function closeSocket(): void {
  socket?.close();
  socket = null;
  outputs.clear();
  exits.clear();
}

export function onTerminal(id: string, handlers: { output: (f: OutputFrame) => void; exit: (m: { code: number | null; reason: string }) => void }): () => void {
  outputs.set(id, handlers.output);
  exits.set(id, handlers.exit);
  return () => {
    if (outputs.get(id) === handlers.output) outputs.delete(id);
    if (exits.get(id) === handlers.exit) exits.delete(id);
  };
}

/**
 * Sends a request; `onReply` runs inside socket.io's acknowledgement callback, before any later
 * message is handled (a terminal registers for its output there).
 */
export function requestNow<E extends ClientEvent & keyof Replies>(event: E, msg: ClientMessage<E>, onReply: (r: Reply<E>) => void): void {
  const s = getSocket();
  (s.emit as (e: string, m: unknown, ack: (r: Reply<E>) => void) => void)(event, msg, onReply);
}

export function request<E extends ClientEvent & keyof Replies>(event: E, msg: ClientMessage<E>): Promise<Reply<E>> {
  return new Promise((resolve) => requestNow(event, msg, resolve));
}

/** Runs `fn` now if connected, and again after every reconnection; returns the unsubscribe. */
export function onConnect(fn: () => void): () => void {
  const s = getSocket();
  s.on("connect", fn);
  if (s.connected) fn();
  return () => s.off("connect", fn);
}
