/**
 * `kubectl exec` against the sim: the WebSocket upgrade on /api/v1/namespaces/{ns}/pods/{name}/exec,
 * speaking the Kubernetes remotecommand channel protocol (v5.channel.k8s.io, or v4.channel.k8s.io):
 * every binary message starts with a channel byte — 0 stdin, 1 stdout, 2 stderr, 3 error (one v1
 * Status when the command ends), 4 resize ({"Width","Height"}), and in v5, 255 "close this stream".
 *
 * The command runs in the pod's agent (the sandbox process whose namespaces are the pod's), entered
 * with nsenter exactly as the driver enters a target, so it sees the pod's hostname, interfaces and
 * root. With tty=true it runs on a PTY; otherwise on pipes.
 *
 * kubectl 1.31+ tries WebSocket first and falls back to SPDY only when the upgrade fails. SPDY is not
 * implemented: such a request gets the same pre-checks (so a missing pod or container is reported in
 * the real words) and then a BadRequest Status saying to use WebSocket, which kubectl prints as
 * `Error from server (BadRequest): ...` instead of hanging.
 */
import { killProcessGroup } from "../../proc.js";
import { spawn, type ChildProcess } from "node:child_process";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { spawn as spawnPty, type IPty } from "@lydell/node-pty";
import type { Logger } from "../../log.js";
import { podFor } from "./podlogs.js";
import { ApiError, badRequest, internalError, pathNotFound, unauthorized } from "./status.js";
import type { Store } from "./store.js";
import type { KObject } from "./objects.js";
import { acceptKey, closeFrame, encodeFrame, FrameDecoder, OPCODE, ProtocolError } from "./websocket.js";
import type { AuthResult } from "./handler.js";
import { sandboxEnv } from "../../sandboxes/sim/env.js";

export const CHANNEL = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4, close: 255 } as const;
/** Best first: v5 adds the close signal kubectl uses to end stdin. */
export const EXEC_PROTOCOLS = ["v5.channel.k8s.io", "v4.channel.k8s.io"] as const;

/** The sandbox's environment; a container runtime sets TERM=xterm only for a TTY exec. */
function targetEnv(tty: boolean): string[] {
  return Object.entries(sandboxEnv(tty ? "xterm" : null)).map(([k, v]) => `${k}=${v}`);
}

/** argv that runs `command` inside the agent `pid`'s namespaces (the API server shares its pid namespace). */
export function execArgv(pid: number, command: string[], tty: boolean): string[] {
  return ["nsenter", "-t", String(pid), "-m", "-u", "-i", "-n", "-p", "--", "env", "-i", "-C", "/root", ...targetEnv(tty), ...command];
}

export interface ExecContext {
  store: Store;
  log: Logger;
  authenticate(req: IncomingMessage): AuthResult;
  /** Agent pids by target (`pod/<ns>/<name>`), read when a command starts. */
  agents?: (() => Record<string, number>) | undefined;
}

export interface ExecRequest {
  namespace: string;
  name: string;
  command: string[];
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

/** /api/v1/namespaces/{ns}/pods/{name}/exec → namespace and name; undefined for any other path. */
export function matchPodSubresource(pathname: string, sub: string): { namespace: string; name: string } | undefined {
  const seg = pathname.split("/").filter((s) => s !== "");
  if (seg.length !== 7 || seg[0] !== "api" || seg[1] !== "v1" || seg[2] !== "namespaces" || seg[4] !== "pods" || seg[6] !== sub) return undefined;
  try {
    return { namespace: decodeURIComponent(seg[3]!), name: decodeURIComponent(seg[5]!) };
  } catch {
    return undefined;
  }
}

const truthy = (v: string | null) => v === "true" || v === "1" || v === "True";

/** The checks kube-apiserver makes before it proxies to the kubelet, and the agent pid. Throws a Status. */
export function checkExec(ctx: ExecContext, url: URL, namespace: string, name: string, sub: "exec" | "attach" = "exec"): { request: ExecRequest; pid: number } {
  const q = url.searchParams;
  const pod = podFor(ctx.store, namespace, name, q.get("container"));
  const command = sub === "attach" ? attachCommand(pod, q.get("container")) : q.getAll("command");
  if (command.length === 0) throw badRequest("you must specify at least one command for the container");
  const tty = truthy(q.get("tty"));
  const request: ExecRequest = { namespace, name, command, stdin: truthy(q.get("stdin")), stdout: truthy(q.get("stdout")), stderr: truthy(q.get("stderr")) && !tty, tty };
  if (!request.stdin && !request.stdout && !request.stderr) throw badRequest("you must specify at least 1 of stdin, stdout, stderr");
  const pid = ctx.agents?.()[`pod/${namespace}/${name}`];
  if (pid === undefined) {
    // seeded or trainee-made pods that the sandbox did not start have nothing to run a command in
    throw badRequest(`pod ${name} in namespace ${namespace} has no running container in this sandbox to exec into (only the lab's pods can run commands)`);
  }
  return { request, pid };
}

/**
 * What `kubectl attach` (and `kubectl run -it`) connects to: the container's main process. A sim pod's
 * container is not a process of its own until someone attaches, so attaching starts the container's
 * command (or its image's default shell) in the pod, on a TTY when asked: what the trainee sees is the
 * same. Exiting it ends the attach, as the real container's exit would.
 */
function attachCommand(pod: KObject, container: string | null): string[] {
  const containers = ((pod.spec ?? {}) as { containers?: Array<{ name: string; command?: string[]; args?: string[] }> }).containers ?? [];
  const c = containers.find((x) => x.name === container) ?? containers[0];
  const argv = [...(c?.command ?? []), ...(c?.args ?? [])];
  return argv.length ? argv : ["sh"];
}

/** Writes a plain HTTP error answer on an upgrade socket (no HTTP machinery exists there) and closes it. */
function rejectUpgrade(socket: Duplex, err: unknown): void {
  const apiErr = err instanceof ApiError ? err : internalError(err instanceof Error ? err.message : String(err));
  const body = JSON.stringify(apiErr.status) + "\n";
  const reason = { 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 500: "Internal Server Error" }[apiErr.code] ?? "Error";
  socket.end(`HTTP/1.1 ${apiErr.code} ${reason}\r\nContent-Type: application/json\r\nCache-Control: no-cache, private\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/** The Status kubelet sends on the error channel when the command has ended. */
export function exitStatus(code: number, command: string[]): Record<string, unknown> {
  if (code === 0) return { metadata: {}, status: "Success" };
  return {
    metadata: {},
    status: "Failure",
    message: `command terminated with non-zero exit code: error executing command [${command.join(" ")}], exit code ${code}`,
    reason: "NonZeroExitCode",
    details: { causes: [{ reason: "ExitCode", message: String(code) }] },
  };
}

/** One channel message: the channel byte, then the data. */
export function channelFrame(channel: number, data: Buffer | string): Buffer {
  const d = typeof data === "string" ? Buffer.from(data) : data;
  return encodeFrame(OPCODE.binary, Buffer.concat([Buffer.from([channel]), d]));
}

/**
 * The server's 'upgrade' event. Every upgrade request lands here (Node routes any `Upgrade:` header
 * away from the request handler once an upgrade listener exists); only pod exec and attach are served.
 */
export function handleUpgrade(ctx: ExecContext, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on("error", () => {});
  let url: URL;
  try {
    url = new URL(req.url ?? "/", "https://apiserver.invalid");
  } catch {
    return rejectUpgrade(socket, badRequest("malformed request URL"));
  }
  try {
    const auth = ctx.authenticate(req);
    if (auth === "invalid" || auth === "anonymous") throw unauthorized();
    const exec = matchPodSubresource(url.pathname, "exec");
    const attach = exec ? undefined : matchPodSubresource(url.pathname, "attach");
    const target = exec ?? attach;
    if (!target) throw pathNotFound();
    const { request, pid } = checkExec(ctx, url, target.namespace, target.name, attach ? "attach" : "exec");
    const upgrade = String(req.headers.upgrade ?? "").toLowerCase();
    if (upgrade !== "websocket") {
      throw badRequest(`this API server streams exec only over WebSocket (${EXEC_PROTOCOLS.join(", ")}); ${req.headers.upgrade ?? "this"} upgrade is not supported — use kubectl 1.30 or newer`);
    }
    const key = req.headers["sec-websocket-key"];
    if (typeof key !== "string" || key === "") throw badRequest("missing Sec-WebSocket-Key");
    const offered = String(req.headers["sec-websocket-protocol"] ?? "").split(",").map((s) => s.trim());
    const protocol = EXEC_PROTOCOLS.find((p) => offered.includes(p));
    if (!protocol) throw badRequest(`no supported stream protocol offered: want one of ${EXEC_PROTOCOLS.join(", ")}, got ${JSON.stringify(offered.filter(Boolean))}`);
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\nSec-WebSocket-Protocol: ${protocol}\r\n\r\n`);
    ctx.log.info("apiserver.exec", { namespace: request.namespace, pod: request.name, command: request.command, tty: request.tty });
    runSession(ctx, socket, head, request, pid, protocol, attach ? (code) => containerExited(ctx.store, target.namespace, target.name, url.searchParams.get("container"), code) : undefined);
  } catch (err) {
    if (!(err instanceof ApiError)) ctx.log.error("apiserver.exec_failed", { err });
    rejectUpgrade(socket, err);
  }
}

/** The started command, behind one face for pipes and PTY. */
interface Proc {
  write(data: Buffer): void;
  endInput(): void;
  resize(cols: number, rows: number): void;
  kill(): void;
}

function startProc(argv: string[], req: ExecRequest, out: (ch: number, d: Buffer) => void, onExit: (code: number) => void, onError: (e: Error) => void): Proc {
  if (req.tty) {
    let pty: IPty;
    try {
      pty = spawnPty(argv[0]!, argv.slice(1), { name: "xterm", cols: 80, rows: 24, env: {} });
    } catch (e) {
      onError(e as Error);
      return { write() {}, endInput() {}, resize() {}, kill() {} };
    }
    pty.onData((d) => out(CHANNEL.stdout, Buffer.from(d, "utf8")));
    // node-pty reports exit only after the last output was read, so the status follows the data
    pty.onExit(({ exitCode, signal }) => onExit(signal ? 128 + signal : exitCode));
    return {
      write: (d) => pty.write(d.toString("utf8")),
      // a terminal's end of input is ^D, which is what a real tty session sends too
      endInput: () => pty.write("\x04"),
      resize: (c, r) => {
        try {
          pty.resize(c, r);
        } catch {
          // already exited
        }
      },
      kill: () => killProcessGroup(pty.pid),
    };
  }
  // its own process group, so a disconnect kills nsenter's forked child (in the pod's pid namespace) too
  const child: ChildProcess = spawn(argv[0]!, argv.slice(1), { stdio: [req.stdin ? "pipe" : "ignore", "pipe", "pipe"], env: {}, detached: true });
  child.stdout!.on("data", (d: Buffer) => req.stdout && out(CHANNEL.stdout, d));
  child.stderr!.on("data", (d: Buffer) => req.stderr && out(CHANNEL.stderr, d));
  child.stdin?.on("error", () => {});
  child.on("error", onError);
  child.on("close", (code, sig) => onExit(code ?? (sig ? 128 + 9 : 1)));
  return {
    write: (d) => child.stdin?.writable && child.stdin.write(d),
    endInput: () => child.stdin?.end(),
    resize: () => {},
    kill: () => child.pid !== undefined && killProcessGroup(child.pid),
  };
}


/** Pumps channels between the WebSocket and the command until either side ends. */
function runSession(ctx: ExecContext, socket: Duplex, head: Buffer, req: ExecRequest, pid: number, protocol: string, onExit?: (code: number) => void): void {
  const decoder = new FrameDecoder();
  let finished = false;
  const send = (b: Buffer) => {
    if (!socket.destroyed && socket.writable) socket.write(b);
  };
  const finish = (status: Record<string, unknown> | undefined, closeCode = 1000) => {
    if (finished) return;
    finished = true;
    if (status) send(channelFrame(CHANNEL.error, JSON.stringify(status)));
    // the client sees every stream end when the connection closes; give it a moment to answer the close
    send(closeFrame(closeCode));
    socket.end();
    setTimeout(() => socket.destroy(), 2000).unref();
  };
  const proc = startProc(
    execArgv(pid, req.command, req.tty),
    req,
    (ch, d) => send(channelFrame(ch, d)),
    (code) => {
      ctx.log.debug("apiserver.exec_exit", { namespace: req.namespace, pod: req.name, code });
      // An attach ends without an error: the exit code is the container's, read from the pod's status.
      if (onExit) {
        onExit(code);
        finish(exitStatus(0, req.command));
      } else finish(exitStatus(code, req.command));
    },
    (e) => finish(failureStatus(`failed to run the command in the pod: ${e.message}`)),
  );
  const onData = (chunk: Buffer) => {
    let messages;
    try {
      messages = decoder.push(chunk);
    } catch (e) {
      proc.kill();
      return finish(undefined, e instanceof ProtocolError ? e.closeCode : 1002);
    }
    for (const m of messages) {
      if (m.opcode === OPCODE.ping) send(encodeFrame(OPCODE.pong, m.payload));
      else if (m.opcode === OPCODE.close) {
        // the client hung up (or answered our close): the command has no one to talk to any more
        proc.kill();
        finish(undefined);
      } else if (m.opcode === OPCODE.binary || m.opcode === OPCODE.text) {
        if (m.payload.length === 0) continue;
        const ch = m.payload[0]!;
        const data = m.payload.subarray(1);
        if (ch === CHANNEL.stdin && req.stdin) proc.write(data);
        else if (ch === CHANNEL.resize) {
          try {
            const size = JSON.parse(data.toString("utf8")) as { Width?: unknown; Height?: unknown };
            if (typeof size.Width === "number" && typeof size.Height === "number" && size.Width > 0 && size.Height > 0) proc.resize(size.Width, size.Height);
          } catch {
            // a malformed resize is ignored, as the kubelet logs and ignores it
          }
        } else if (ch === CHANNEL.close && protocol === "v5.channel.k8s.io" && data[0] === CHANNEL.stdin) proc.endInput();
      }
    }
  };
  socket.on("data", onData);
  socket.on("close", () => {
    if (!finished) {
      finished = true;
      proc.kill();
    }
  });
  if (head.length) onData(head);
}

/**
 * The attached command was the container's main process: its end is the container's, reported as the
 * kubelet would. restartPolicy Never (and OnFailure after success) ends the pod Succeeded or Failed,
 * which `kubectl run -i --rm --restart=Never` waits for to take the exit code; otherwise the container
 * is restarted and the restart counted.
 */
function containerExited(store: Store, namespace: string, name: string, container: string | null, code: number): void {
  const pod = store.tryGet("pods", namespace, name);
  if (!pod) return;
  const spec = (pod.spec ?? {}) as { restartPolicy?: string; containers?: Array<{ name: string }> };
  const status = structuredClone((pod.status ?? {}) as Record<string, unknown>);
  const cname = container || spec.containers?.[0]?.name;
  const statuses = (status.containerStatuses as Array<Record<string, unknown>> | undefined) ?? [];
  const cs = statuses.find((c) => c.name === cname);
  if (!cs) return;
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
  const started = ((cs.state as { running?: { startedAt?: string } } | undefined)?.running?.startedAt) ?? now;
  const terminated = { exitCode: code, reason: code === 0 ? "Completed" : "Error", startedAt: started, finishedAt: now, containerID: cs.containerID };
  const policy = spec.restartPolicy ?? "Always";
  if (policy === "Never" || (policy === "OnFailure" && code === 0)) {
    cs.state = { terminated };
    cs.ready = false;
    cs.started = false;
    if (statuses.every((c) => (c.state as { terminated?: unknown } | undefined)?.terminated)) {
      status.phase = statuses.every((c) => (c.state as { terminated: { exitCode: number } }).terminated.exitCode === 0) ? "Succeeded" : "Failed";
      for (const cond of (status.conditions as Array<Record<string, unknown>> | undefined) ?? []) {
        if (cond.type === "Ready" || cond.type === "ContainersReady") Object.assign(cond, { status: "False", reason: "PodCompleted", lastTransitionTime: now });
      }
    }
  } else {
    cs.lastState = { terminated };
    cs.restartCount = Number(cs.restartCount ?? 0) + 1;
    cs.state = { running: { startedAt: now } };
  }
  try {
    store.update("pods", { ...pod, status }, { subresource: "status" });
  } catch {
    // the pod changed or went away meanwhile: nothing to report any more
  }
}

function failureStatus(message: string): Record<string, unknown> {
  return { metadata: {}, status: "Failure", message, reason: "InternalError", code: 500 };
}
