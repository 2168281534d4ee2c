/**
 * The smallest Kubernetes client a workload needs: GET a path with the credentials of a kubeconfig
 * file (embedded `*-data` or file paths; client certificate or bearer token), verifying the server
 * against the kubeconfig's CA. The file is re-read when it changes, because in a sandbox the API
 * server writes admin.conf only once it listens — possibly after the workload started.
 */
import { readFileSync, statSync } from "node:fs";
import { request as httpsRequest } from "node:https";
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
}

/**
 * A client that reads `kubeconfigPath` lazily and again whenever its mtime changes.
 *
 * @example const pools = await kubeClient(adminConf).get("/apis/metallb.io/v1beta1/namespaces/metallb-system/ipaddresspools")
 */
export function kubeClient(kubeconfigPath: string): KubeClient {
  let cached: { mtimeMs: number; creds: KubeCredentials } | undefined;
  const creds = (): KubeCredentials => {
    const { mtimeMs } = statSync(kubeconfigPath);
    if (!cached || cached.mtimeMs !== mtimeMs) cached = { mtimeMs, creds: loadKubeconfig(kubeconfigPath) };
    return cached.creds;
  };
  return {
    get: (apiPath, timeoutMs = 5000) =>
      new Promise<KubeResponse>((resolve, reject) => {
        let c: KubeCredentials;
        try {
          c = creds();
        } catch (err) {
          reject(err);
          return;
        }
        const url = new URL(apiPath, c.server);
        const req = httpsRequest(
          url,
          {
            method: "GET",
            headers: { accept: "application/json", "user-agent": "controller/v0.0.0 (linux/amd64) kubernetes/$Format", ...(c.token ? { authorization: `Bearer ${c.token}` } : {}) },
            ...(c.ca ? { ca: c.ca } : {}),
            ...(c.cert ? { cert: c.cert } : {}),
            ...(c.key ? { key: c.key } : {}),
            timeout: timeoutMs,
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (d: Buffer) => chunks.push(d));
            res.on("end", () => {
              const text = Buffer.concat(chunks).toString("utf8");
              let body: unknown;
              try {
                body = JSON.parse(text);
              } catch {
                body = undefined;
              }
              resolve({ status: res.statusCode ?? 0, body });
            });
            res.on("error", reject);
          },
        );
        // client-go words a client-side timeout like this; the reason reaches the denial text
        req.on("timeout", () => req.destroy(new Error(`Get "${url.href}": context deadline exceeded`)));
        req.on("error", reject);
        req.end();
      }),
  };
}
