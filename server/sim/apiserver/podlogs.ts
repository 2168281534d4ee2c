/**
 * GET /api/v1/namespaces/{ns}/pods/{name}/log — what `kubectl logs` reads. A sandbox's built-in
 * workloads append their lines to `<logsDir>/<namespace>_<pod>.log` (the supervisor's startWorkloads);
 * this serves that file as the kubelet would serve the container's log: plain text, `tailLines`,
 * `limitBytes`, and `follow=true` streaming appended lines until the client goes away (or the pod does).
 * A pod without a workload has written nothing, so its log is empty, not an error.
 */
import { open, stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import type { KObject } from "./objects.js";
import { badRequest, methodNotAllowed, notFound } from "./status.js";
import type { Store } from "./store.js";

/** How often a follow checks the file for new lines; the workloads log a handful of lines at most per second. */
const FOLLOW_POLL_MS = 200;
/** Logs are read from the end: more than this of history is not sent (the kubelet rotates at 10 MiB). */
const MAX_READ = 10 * 1024 * 1024;

export interface PodLogContext {
  store: Store;
  logsDir?: string | undefined;
}

const POD = { group: "", plural: "pods" } as const;

/** The container names a request may name, as the registry's LogLocation/ExecLocation accept them. */
export function containerNames(pod: KObject): string[] {
  const spec = (pod.spec ?? {}) as Record<string, unknown>;
  const names: string[] = [];
  for (const key of ["containers", "initContainers", "ephemeralContainers"]) {
    const list = spec[key];
    if (!Array.isArray(list)) continue;
    for (const c of list) if (c && typeof c === "object" && typeof (c as { name?: unknown }).name === "string") names.push((c as { name: string }).name);
  }
  return names;
}

/**
 * The pod, after the checks kube-apiserver makes before it dials the kubelet: the pod exists, and the
 * container named (if any) is one of its own. Throws the real NotFound / BadRequest Status otherwise.
 */
export function podFor(store: Store, namespace: string, name: string, container: string | null): KObject {
  const pod = store.tryGet("pods", namespace, name);
  if (!pod) throw notFound(POD, name);
  const names = containerNames(pod);
  if (container !== null && container !== "" && !names.includes(container)) throw badRequest(`container ${container} is not valid for pod ${name}`);
  if ((container === null || container === "") && names.length > 1) {
    throw badRequest(`a container name must be specified for pod ${name}, choose one of: [${(((pod.spec ?? {}) as { containers?: Array<{ name: string }> }).containers ?? []).map((c) => c.name).join(" ")}]`);
  }
  return pod;
}

function intParam(url: URL, k: string): number | undefined {
  const v = url.searchParams.get(k);
  if (v === null || v === "") return undefined;
  if (!/^-?\d+$/.test(v)) throw badRequest(`${k}: Invalid value: "${v}": strconv.ParseInt: parsing "${v}": invalid syntax`);
  return Number(v);
}

function boolParam(url: URL, k: string): boolean {
  const v = url.searchParams.get(k);
  return v === "true" || v === "1" || v === "True";
}

/** The log file of a pod; undefined when there is no logs directory or the name could escape it. */
export function logFile(logsDir: string | undefined, namespace: string, name: string): string | undefined {
  if (!logsDir) return undefined;
  const base = `${namespace}_${name}.log`;
  if (base.includes("/") || base.includes("\0")) return undefined;
  return path.join(logsDir, base);
}

/** Reads [start, end) of a file; empty if it does not exist. */
async function readRange(file: string, start: number, end: number): Promise<Buffer> {
  if (end <= start) return Buffer.alloc(0);
  let fh;
  try {
    fh = await open(file, "r");
  } catch {
    return Buffer.alloc(0);
  }
  try {
    const buf = Buffer.alloc(end - start);
    const { bytesRead } = await fh.read(buf, 0, buf.length, start);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

async function sizeOf(file: string | undefined): Promise<number> {
  if (!file) return 0;
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

/** The last `n` lines of text (a trailing partial line counts as a line, as the kubelet's tail does). */
export function tailLines(text: Buffer, n: number): Buffer {
  if (n <= 0) return Buffer.alloc(0);
  let end = text.length;
  // the final newline ends the last line; it does not start another
  if (end > 0 && text[end - 1] === 0x0a) end--;
  let i = end;
  let seen = 0;
  while (i > 0) {
    const j = text.lastIndexOf(0x0a, i - 1);
    seen++;
    if (seen === n) return text.subarray(j + 1);
    if (j < 0) break;
    i = j;
  }
  return text;
}

/** Serves one log request; resolves when the (possibly followed) response has ended. */
export async function serveLogs(ctx: PodLogContext, req: IncomingMessage, res: ServerResponse, url: URL, namespace: string, name: string): Promise<void> {
  if ((req.method ?? "GET") !== "GET") throw methodNotAllowed();
  const container = url.searchParams.get("container");
  const pod = podFor(ctx.store, namespace, name, container);
  const containerName = container || containerNames(pod)[0] || "";
  const tail = intParam(url, "tailLines");
  const limitBytes = intParam(url, "limitBytes");
  if (tail !== undefined && tail < 0) throw badRequest(`tailLines: Invalid value: ${tail}: must be greater than or equal to 0`);
  if (limitBytes !== undefined && limitBytes < 1) throw badRequest(`limitBytes: Invalid value: ${limitBytes}: must be greater than 0`);
  // workloads never restart here, so there is never a previous instance; the kubelet's own words
  if (boolParam(url, "previous")) throw badRequest(`previous terminated container "${containerName}" in pod "${name}" not found`);
  const follow = boolParam(url, "follow");

  const file = logFile(ctx.logsDir, namespace, name);
  const size = await sizeOf(file);
  let body = file ? await readRange(file, Math.max(0, size - MAX_READ), size) : Buffer.alloc(0);
  if (tail !== undefined) body = tailLines(body, tail);
  let budget = limitBytes ?? Infinity;
  if (body.length > budget) body = body.subarray(0, budget);
  budget -= body.length;

  if (!follow) {
    res.writeHead(200, { "Content-Type": "text/plain", "Cache-Control": "no-cache, private", "Content-Length": body.length });
    res.end(body);
    return;
  }
  res.writeHead(200, { "Content-Type": "text/plain", "Cache-Control": "no-cache, private", "Transfer-Encoding": "chunked" });
  if (body.length) res.write(body);
  else res.flushHeaders();
  if (budget <= 0) return void res.end();

  // Polling rather than fs.watch: the file may not exist yet (the workload starts after the API server),
  // and polling one stat per follower is cheap and behaves the same on every filesystem.
  await new Promise<void>((resolve) => {
    let offset = size;
    let busy = false;
    const done = () => {
      clearInterval(timer);
      res.off("close", done);
      if (!res.writableEnded && !res.destroyed) res.end();
      resolve();
    };
    const timer = setInterval(() => {
      if (busy) return;
      // the kubelet ends the stream when the container goes away; here the pod object is the container
      if (!ctx.store.tryGet("pods", namespace, name)) return done();
      busy = true;
      void (async () => {
        try {
          const now = await sizeOf(file);
          if (now < offset) offset = 0; // truncated: start over, as tail -F does
          if (now > offset) {
            let chunk = await readRange(file!, offset, Math.min(now, offset + MAX_READ));
            offset += chunk.length;
            if (chunk.length > budget) chunk = chunk.subarray(0, budget);
            budget -= chunk.length;
            if (chunk.length && !res.destroyed) res.write(chunk);
            if (budget <= 0) return done();
          }
        } finally {
          busy = false;
        }
      })();
    }, FOLLOW_POLL_MS);
    res.on("close", done);
  });
}
