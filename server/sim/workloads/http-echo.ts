/**
 * The HTTP echo workload behind hello-world pods and the connection-refused lab: answers every
 * request with `hello world from <pod name>` and what it saw (method, request target, client
 * address), so a trainee's curl from another pod shows which pod answered and which source address
 * the dataplane left on the packet (SNAT or not). Logs one line per request in Go's `log` format,
 * as the hello-app image it stands in for does.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { withContext } from "../../errors.js";
import { GoLogger, type LineSink } from "./golog.js";
import type { RunningWorkload } from "./types.js";

/** `ip:port`, with IPv6 in brackets and IPv4-mapped IPv6 shown as IPv4. */
export function clientAddress(address: string | undefined, port: number | undefined): string {
  const ip = (address ?? "").replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, "$1");
  return ip.includes(":") ? `[${ip}]:${port ?? 0}` : `${ip}:${port ?? 0}`;
}

/**
 * The response body.
 *
 * @example echoText("hello-world-6d9c-x2kqv", "GET", "/", "10.233.64.7:51234")
 * // "hello world from hello-world-6d9c-x2kqv\nmethod: GET\npath: /\nclient: 10.233.64.7:51234\n"
 */
export function echoText(podName: string, method: string, target: string, client: string): string {
  return `hello world from ${podName}\nmethod: ${method}\npath: ${target}\nclient: ${client}\n`;
}

/** Options of {@link startHttpEcho}. */
export interface HttpEchoOptions {
  /** The pod's name, the first line of every answer. */
  podName: string;
  /** Listen address; default 0.0.0.0. */
  host?: string;
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /**
   * Listen on this unix socket instead of host:port. The sim sandbox does this: one supervisor hosts
   * every pod's workload, and a socat in the pod's network namespace owns the pod's TCP port.
   */
  path?: string;
  /** Where log lines go; default stdout. */
  log?: LineSink;
  /** Injected clock for log timestamps (tests). */
  now?: () => Date;
}

/**
 * Starts the echo server. Rejects with a FaultlineError when the port is taken.
 *
 * @example const w = await startHttpEcho({ podName: "hello-world-6d9c-x2kqv", port: 8080 })
 */
export async function startHttpEcho(opts: HttpEchoOptions): Promise<RunningWorkload> {
  const host = opts.host ?? "0.0.0.0";
  const port = opts.port ?? 8080;
  const log = new GoLogger(opts.log ?? ((l) => process.stdout.write(l + "\n")), "info", opts.now);
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const client = clientAddress(req.socket.remoteAddress, req.socket.remotePort);
    const target = req.url ?? "/";
    log.std(`Serving request: ${req.method ?? "GET"} ${target} from ${client}`);
    const body = echoText(opts.podName, req.method ?? "GET", target, client);
    // drain any request body so keep-alive connections stay usable
    req.resume();
    res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "content-length": String(Buffer.byteLength(body)) });
    res.end(req.method === "HEAD" ? undefined : body);
  });
  server.on("clientError", (_err, socket: Socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request");
    else socket.destroy();
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      const ready = () => {
        server.off("error", reject);
        resolve();
      };
      if (opts.path) server.listen(opts.path, ready);
      else server.listen(port, host, ready);
    });
  } catch (err) {
    throw withContext(`http-echo cannot listen on ${host}:${port}`, err);
  }
  const addr = server.address();
  // On a unix socket the port is the pod's, owned by the relay in its namespace.
  const actual = typeof addr === "object" && addr ? addr.port : port;
  log.std(`Server listening on port ${actual}`);
  return {
    port: actual,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
