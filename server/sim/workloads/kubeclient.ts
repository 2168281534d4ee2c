/**
 * The smallest Kubernetes client a workload needs: GET a path with the credentials of a kubeconfig
 * file (embedded `*-data` or file paths; client certificate or bearer token), verifying the server
 * against the kubeconfig's CA. The file is re-read when it changes, because in a sandbox the API
 * server writes admin.conf only once it listens — possibly after the workload started.
 */
import { readFileSync, statSync } from "node:fs";
import type { ClientRequest, IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from "node:https";
import { createSecureContext, type ConnectionOptions, type SecureContext } from "node:tls";
import path from "node:path";
import { parse } from "yaml";

/** What a request needs from a kubeconfig's current context. */
export interface KubeCredentials {
  server: string;
  ca?: string;
  cert?: string;
  key?: string;
  token?: string;
}

interface NamedEntry<T> {
  name?: string;
  cluster?: T;
  user?: T;
  context?: T;
}

type Fields = Record<string, unknown>;

function pick(list: unknown, name: string | undefined, field: "cluster" | "user" | "context"): Fields | undefined {
  if (!Array.isArray(list)) return undefined;
  const entries = list as Array<NamedEntry<Fields>>;
  const hit = (name === undefined ? entries[0] : entries.find((e) => e.name === name)) ?? undefined;
  return hit?.[field];
}

/** `<key>-data` (base64) or `<key>` (a path relative to the kubeconfig's folder). */
function material(obj: Fields | undefined, key: string, dir: string): string | undefined {
  const data = obj?.[`${key}-data`];
  if (typeof data === "string") return Buffer.from(data, "base64").toString("utf8");
  const file = obj?.[key];
  if (typeof file === "string") return readFileSync(path.resolve(dir, file), "utf8");
  return undefined;
}

/**
 * Reads the current context's server and credentials from a kubeconfig file.
 * Throws (ENOENT, YAML errors, a missing server) with the underlying message.
 */
export function loadKubeconfig(file: string): KubeCredentials {
  const doc = (parse(readFileSync(file, "utf8")) ?? {}) as Fields;
  const dir = path.dirname(file);
  const current = typeof doc["current-context"] === "string" ? doc["current-context"] : undefined;
  const ctx = pick(doc.contexts, current, "context");
  const cluster = pick(doc.clusters, typeof ctx?.cluster === "string" ? ctx.cluster : undefined, "cluster");
  const user = pick(doc.users, typeof ctx?.user === "string" ? ctx.user : undefined, "user");
  const server = cluster?.server;
  if (typeof server !== "string" || server === "") throw new Error(`kubeconfig ${file} names no server`);
  const creds: KubeCredentials = { server };
  const ca = material(cluster, "certificate-authority", dir);
  const cert = material(user, "client-certificate", dir);
  const key = material(user, "client-key", dir);
  if (ca) creds.ca = ca;
  if (cert) creds.cert = cert;
  if (key) creds.key = key;
  if (typeof user?.token === "string") creds.token = user.token;
  return creds;
}

/** A response: the status code and the parsed JSON body (undefined when not JSON). */
export interface KubeResponse {
  status: number;
  body: unknown;
}

/** A client bound to one kubeconfig file. */
export interface KubeClient {
  get(apiPath: string, timeoutMs?: number): Promise<KubeResponse>;
  /** Any verb; `body` is sent as JSON unless it is a string (then as is, with `contentType`). */
  request(method: string, apiPath: string, body?: unknown, opts?: { contentType?: string; timeoutMs?: number }): Promise<KubeResponse>;
  /**
   * A streaming GET (`?watch=true`): calls `onLine` for every newline-terminated line of the body and
   * `onEnd` once when the stream ends for any reason (the error, if any). Returns a function that aborts it.
   */
  stream(apiPath: string, onLine: (line: string) => void, onEnd: (err?: Error) => void): () => void;
  /** Closes the pool's idle kept-alive connections (open requests and watches go on). */
  closeIdle(): void;
}

/**
 * How long a kept-alive connection may sit unused in a client's pool before it is closed: below the
 * API server's keep-alive timeout (65 s, as kube-apiserver's), so the client closes first and never
 * sends a request on a connection the server is closing.
 */
const IDLE_CONNECTION_MS = 30_000;

/**
 * A client that reads `kubeconfigPath` lazily and again whenever its mtime changes.
 *
 * Requests share the client's own pool of kept-alive connections, as client-go's transport does, so a
 * list or a status update does not pay a TLS handshake. Watches get no idle timeout: a quiet watch is
 * the normal case. (Node's global agent closes a socket after 5 s without traffic, which ended every
 * quiet watch every 5 s, and with it a re-list and a new handshake per informer: most of an idle
 * sandbox's CPU.)
 *
 * @example const pools = await kubeClient(adminConf).get("/apis/metallb.io/v1beta1/namespaces/metallb-system/ipaddresspools")
 */
export function kubeClient(kubeconfigPath: string, userAgent = "controller/v0.0.0 (linux/amd64) kubernetes/$Format"): KubeClient {
  // Per version of the kubeconfig: its credentials, one TLS context for all its connections (made once:
  // Node would otherwise parse the CA, certificate and key again for every new connection), and a
  // pool of its own, so no connection made with older credentials is reused.
  let cached: { mtimeMs: number; creds: KubeCredentials; secureContext: SecureContext; agent: HttpsAgent } | undefined;
  const current = () => {
    const { mtimeMs } = statSync(kubeconfigPath);
    if (!cached || cached.mtimeMs !== mtimeMs) {
      const creds = loadKubeconfig(kubeconfigPath);
      const secureContext = createSecureContext({
        ...(creds.ca ? { ca: creds.ca } : {}),
        ...(creds.cert ? { cert: creds.cert } : {}),
        ...(creds.key ? { key: creds.key } : {}),
      });
      cached = { mtimeMs, creds, secureContext, agent: new HttpsAgent({ keepAlive: true, timeout: IDLE_CONNECTION_MS }) };
    }
    return cached;
  };
  const open = (method: string, apiPath: string, headers: Record<string, string>, timeoutMs: number | undefined, onResponse: (res: IncomingMessage) => void): ClientRequest => {
    const { creds: c, secureContext, agent } = current();
    const url = new URL(apiPath, c.server);
    // https passes secureContext on to tls.connect; its RequestOptions type does not list it.
    const options: RequestOptions & Pick<ConnectionOptions, "secureContext"> = {
      agent,
      method,
      headers: { accept: "application/json", "user-agent": userAgent, ...(c.token ? { authorization: `Bearer ${c.token}` } : {}), ...headers },
      secureContext,
      // 0 (a watch) turns the pool's idle timeout off for this request's connection
      ...(timeoutMs !== undefined ? { timeout: timeoutMs } : {}),
    };
    const req = httpsRequest(url, options, onResponse);
    // client-go words a client-side timeout like this; the reason reaches the denial text
    req.on("timeout", () => req.destroy(new Error(`${method[0]}${method.slice(1).toLowerCase()} "${url.href}": context deadline exceeded`)));
    return req;
  };
  const request: KubeClient["request"] = (method, apiPath, body, opts = {}) =>
    new Promise<KubeResponse>((resolve, reject) => {
      const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
      const headers: Record<string, string> = payload === undefined ? {} : { "content-type": opts.contentType ?? "application/json" };
      let req: ClientRequest;
      try {
        req = open(method, apiPath, headers, opts.timeoutMs ?? 5000, (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (d: Buffer) => chunks.push(d));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let parsed: unknown;
            try {
              parsed = JSON.parse(text);
            } catch {
              parsed = undefined;
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
          res.on("error", reject);
        });
      } catch (err) {
        reject(err);
        return;
      }
      req.on("error", reject);
      req.end(payload);
    });
  return {
    closeIdle() {
      // A pool's free sockets are the idle ones; destroying them ends nothing in flight.
      for (const sockets of Object.values(cached?.agent.freeSockets ?? {})) for (const socket of sockets ?? []) socket.destroy();
    },
    get: (apiPath, timeoutMs = 5000) => request("GET", apiPath, undefined, { timeoutMs }),
    request,
    stream(apiPath, onLine, onEnd) {
      let ended = false;
      const end = (err?: Error) => {
        if (ended) return;
        ended = true;
        onEnd(err);
      };
      let req: ClientRequest;
      try {
        req = open("GET", apiPath, {}, 0, (res) => {
          if ((res.statusCode ?? 0) >= 300) {
            res.resume();
            return end(new Error(`GET ${apiPath}: HTTP ${res.statusCode}`));
          }
          let buf = "";
          res.on("data", (d: Buffer) => {
            buf += d.toString("utf8");
            for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
              const line = buf.slice(0, nl);
              buf = buf.slice(nl + 1);
              if (line.trim()) onLine(line);
            }
          });
          res.on("end", () => end());
          res.on("error", (e) => end(e));
          res.on("close", () => end());
        });
      } catch (err) {
        end(err as Error);
        return () => {};
      }
      req.on("error", (e) => end(e));
      req.end();
      return () => req.destroy();
    },
  };
}
