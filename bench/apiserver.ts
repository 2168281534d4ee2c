/**
 * The API server part of the benchmark (issue 3), against one flagship sandbox reached from the host
 * through its loopback relay (`SimDriver.kubeconfig`), with the admin client certificate:
 *
 *  1. `kubectl get pods -A`: the real binary end to end (the first run with an empty discovery cache
 *     reported apart), and the same request made from Node (`GET /api/v1/pods?limit=500`, asking for
 *     a Table as kubectl does) on a kept-alive connection and on a new TLS connection each time. The
 *     variants take turns in every round, so a noisy moment hits all of them alike.
 *  2. Watch fan-out: `--api-watchers` watchers on configmaps in `default`, then `--api-events`
 *     ConfigMaps created one at a time; per event, the time until the last watcher has its ADDED event.
 *     Every watcher must get every event once and in order, and close cleanly (a failed check is a bug
 *     and makes the benchmark exit 1).
 *  3. Memory of the API server process (its cmdline holds `sandbox/apiserver.blob` or `.cjs`, the bundled API server): RSS, PSS and private
 *     memory from /proc/<pid>/smaps_rollup, idle after ready, after the get-pods rounds, with the
 *     watchers open, and after they closed.
 */
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { Agent, request as httpsRequest } from "node:https";
import path from "node:path";
import { loadKubeconfig, kubeClient, type KubeCredentials } from "../server/sim/workloads/kubeclient.js";
import { processMemory, sandboxProcesses, scanProcesses, type ProcInfo } from "./procs.js";
import type { ApiMemorySample, ApiResult, WatchResult } from "./report.js";
import { Aborted, type BenchSession } from "./session.js";
import { median, summarize } from "./stats.js";

export const KUBECTL = "/usr/bin/kubectl";
const LAB = "webhook-to-kernel";
/** What kubectl sends for `get` (k8s.io/cli-runtime's table negotiation). */
const TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
const PODS_PATH = "/api/v1/pods?limit=500";
const WATCH_PATH = "/api/v1/namespaces/default/configmaps?watch=true";
const FANOUT_PREFIX = "bench-fanout-";
const UP_TIMEOUT_MS = 120_000;
const KUBECTL_TIMEOUT_MS = 30_000;
/** How long one event may take to reach every watcher, and the watchers to open or close. */
const DELIVERY_TIMEOUT_MS = 10_000;
/** Let start-up work (lazy module loading, the first informer lists) settle before the idle sample. */
const IDLE_SETTLE_MS = 2000;

export interface ApiOptions {
  runs: number;
  watchers: number;
  events: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

export async function apiBenchmark(s: BenchSession, opts: ApiOptions, log: (msg: string) => void): Promise<ApiResult> {
  const name = `bench-${process.pid.toString(36)}-api`;
  log(`api: bringing up ${name} ...`);
  const rec = await s.up(LAB, name, UP_TIMEOUT_MS);
  const res: ApiResult = {
    sandbox: name, upMs: rec.ms, pods: null, tableBytes: null, runs: opts.runs,
    kubectl: null, server: null, getPodsFailures: [], watch: null, memory: [],
  };
  if (!rec.ok || !rec.meta) {
    res.error = `up failed: ${rec.error ?? "?"}`;
    return res;
  }
  const meta = rec.meta;
  try {
    const dir = path.join(s.dataDir, "api-bench");
    mkdirSync(path.join(dir, "home"), { recursive: true, mode: 0o700 });
    const kubeconfig = path.join(dir, "kubeconfig");
    writeFileSync(kubeconfig, s.driver.kubeconfig(name), { mode: 0o600 });
    const creds = loadKubeconfig(kubeconfig);
    const sample = (when: string) => {
      const m = apiServerMemory(meta, when);
      res.memory.push(m);
      log(`api: memory ${when}: PSS ${(m.pssKb / 1024).toFixed(1)} MiB, RSS ${(m.rssKb / 1024).toFixed(1)} MiB, ${m.fds} fds`);
    };
    await sleep(IDLE_SETTLE_MS);
    sample(`idle, ${IDLE_SETTLE_MS / 1000} s after ready`);
    await getPods(s, res, { dir, kubeconfig, creds, runs: opts.runs }, log);
    sample(`after ${opts.runs} get-pods rounds`);
    res.watch = await watchFanout(s, kubeconfig, meta, opts, sample, log);
  } catch (e) {
    // Interrupted: keep what was measured; the session's cleanup downs the sandbox.
    res.error = e instanceof Aborted ? "interrupted" : message(e);
    if (!(e instanceof Aborted)) log(`api: FAILED: ${res.error}`);
  } finally {
    if (!s.aborted) await s.driver.down(name).catch((e: unknown) => log(`api: down ${name} failed: ${message(e)}`));
  }
  return res;
}

type Meta = { uidBase: number; unsharePid: number };

/** The API server's pid among the sandbox's processes (nsenter execs node, so it is one process). */
function apiServerPid(meta: Meta, procs: ProcInfo[] = scanProcesses()): number {
  const hit = sandboxProcesses(meta, procs).find((p) => /sandbox\/apiserver\.(blob|cjs)\b/.test(p.cmdline) && p.name !== "nsenter");
  if (!hit) throw new Error("no process with sandbox/apiserver.blob or .cjs in its command line among the sandbox's processes");
  return hit.pid;
}

function apiServerMemory(meta: Meta, when: string): ApiMemorySample {
  const pid = apiServerPid(meta);
  const m = processMemory(pid);
  if (!m) throw new Error(`the API server (pid ${pid}) exited`);
  return { when, pid, ...m, fds: fdCount(pid) };
}

function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return Number.NaN;
  }
}

/** Open fds of the API server (one socket per connection) and the relay's socat processes (the listener and one fork per connection). */
function connections(meta: Meta): { fds: number; relays: number } {
  const procs = scanProcesses();
  const relays = sandboxProcesses(meta, procs).filter((p) => p.name === "socat" && p.cmdline.includes("apiserver.sock"));
  return { fds: fdCount(apiServerPid(meta, procs)), relays: relays.length };
}

// ---------------------------------------------------------------------------------------------------
// 1. get pods -A

interface Exec {
  ms: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; `ms` is the wall time from spawn to exit, as a shell would see it. */
function timedExec(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Exec> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"], timeout: KUBECTL_TIMEOUT_MS });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ ms: performance.now() - t, code, stdout, stderr }));
  });
}

interface Fetched {
  ms: number;
  status: number;
  body: string;
}

/** One HTTPS GET with the kubeconfig's credentials; `ms` runs from the call until the body's last byte. */
function timedGet(creds: KubeCredentials, apiPath: string, agent: Agent | false): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const req = httpsRequest(new URL(apiPath, creds.server), {
      agent, ca: creds.ca, cert: creds.cert, key: creds.key, timeout: KUBECTL_TIMEOUT_MS,
      headers: { accept: TABLE_ACCEPT, "user-agent": "faultline-bench" },
    }, (r) => {
      const chunks: Buffer[] = [];
      r.on("data", (d: Buffer) => chunks.push(d));
      r.on("end", () => resolve({ ms: performance.now() - t, status: r.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      r.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${apiPath}: no answer within ${KUBECTL_TIMEOUT_MS / 1000} s`)));
    req.on("error", reject);
    req.end();
  });
}

/** The Table's row count, or an error naming what came back instead. */
function tableRows(f: Fetched): number {
  if (f.status !== 200) throw new Error(`GET ${PODS_PATH}: HTTP ${f.status}: ${f.body.slice(0, 200)}`);
  const doc = JSON.parse(f.body) as { kind?: string; rows?: unknown[] };
  if (doc.kind !== "Table" || !Array.isArray(doc.rows)) throw new Error(`GET ${PODS_PATH}: expected a Table, got kind ${String(doc.kind)}`);
  return doc.rows.length;
}

/** The requests kubectl logs at -v=6 (`GET <url> 200 OK in N milliseconds`), as "GET /path 200 in N ms". */
function kubectlRequests(stderr: string): Array<{ line: string; ms: number }> {
  const out: Array<{ line: string; ms: number }> = [];
  for (const m of stderr.matchAll(/round_trippers\.go:\d+\] (\w+) (\S+) (\d{3})\b.*? in (\d+) milliseconds/g)) {
    const url = new URL(m[2]!);
    out.push({ line: `${m[1]} ${url.pathname}${url.search} ${m[3]} in ${m[4]} ms`, ms: Number(m[4]) });
  }
  return out;
}

async function getPods(s: BenchSession, res: ApiResult, o: { dir: string; kubeconfig: string; creds: KubeCredentials; runs: number }, log: (msg: string) => void): Promise<void> {
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: path.join(o.dir, "home") };
  const kubectl = (cache: string, ...extra: string[]) => timedExec(KUBECTL, ["--kubeconfig", o.kubeconfig, "--cache-dir", path.join(o.dir, cache), "get", "pods", "-A", ...extra], env);
  const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
  const failures = res.getPodsFailures;
  const t = { kubectl: [] as number[], verbose: [] as number[], requestMs: [] as number[], startup: [] as number[], keepAlive: [] as number[], fresh: [] as number[] };
  let warmRequests: string[] = [];
  let cold: { version: string; coldMs: number | null; coldRequests: string[] } | null = null;
  try {
    // A first request opens the kept-alive connection and tells what a correct answer looks like.
    const first = await timedGet(o.creds, PODS_PATH, keepAlive);
    res.pods = tableRows(first);
    res.tableBytes = Buffer.byteLength(first.body);
    const checkKubectl = (what: string, r: Exec): boolean => {
      const lines = r.stdout.split("\n").filter(Boolean).length;
      if (r.code === 0 && lines === res.pods! + 1) return true;
      failures.push(`${what}: exit ${r.code}, ${lines} lines (want ${res.pods! + 1}): ${r.stderr.trim().split("\n").at(-1) ?? ""}`);
      return false;
    };
    const version = (await timedExec(KUBECTL, ["version", "--client"], env)).stdout.match(/Client Version: (\S+)/)?.[1] ?? "?";

    // The first run of a kubectl with an empty cache fetches discovery (/api, /apis) before the pods.
    const firstRun = await kubectl("cache");
    const coldRequests = kubectlRequests((await kubectl("cache-verbose", "-v=6")).stderr).map((x) => x.line);
    cold = { version, coldMs: checkKubectl("first run", firstRun) ? firstRun.ms : null, coldRequests };
    log(`api: kubectl ${version}, first run (empty discovery cache) ${Math.round(firstRun.ms)} ms: ${coldRequests.join(", ")}`);

    for (let i = 1; i <= o.runs; i++) {
      s.check();
      const k = await kubectl("cache");
      if (checkKubectl(`run ${i}`, k)) t.kubectl.push(k.ms);
      const v = await kubectl("cache-verbose", "-v=6");
      const reqs = kubectlRequests(v.stderr);
      if (v.code === 0 && reqs.length) {
        t.verbose.push(v.ms);
        t.requestMs.push(reqs.reduce((a, x) => a + x.ms, 0));
        warmRequests = reqs.map((x) => x.line);
      } else failures.push(`run ${i} -v=6: exit ${v.code}, ${reqs.length} requests logged`);
      t.startup.push((await timedExec(KUBECTL, ["version", "--client"], env)).ms);
      for (const [agent, into] of [[keepAlive, t.keepAlive], [false, t.fresh]] as const) {
        const f = await timedGet(o.creds, PODS_PATH, agent);
        try {
          tableRows(f);
          into.push(f.ms);
        } catch (e) {
          failures.push(`run ${i} ${agent ? "kept-alive" : "new connection"}: ${message(e)}`);
        }
      }
      if (i % 10 === 0 || i === o.runs) log(`api: get pods round ${i}/${o.runs}`);
    }
    log(`api: get pods -A medians: kubectl ${Math.round(median(t.kubectl))} ms, server (kept-alive) ${median(t.keepAlive).toFixed(1)} ms, new connection ${median(t.fresh).toFixed(1)} ms`);
  } finally {
    keepAlive.destroy();
    // Also when interrupted or failed part-way: the rounds done so far.
    if (cold) {
      res.kubectl = {
        binary: KUBECTL, ...cold,
        warmMs: summarize(t.kubectl), verboseMs: summarize(t.verbose), requestMs: summarize(t.requestMs), warmRequests,
        startupMs: summarize(t.startup),
      };
      res.server = { keepAliveMs: summarize(t.keepAlive), newConnectionMs: summarize(t.fresh) };
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// 2. watch fan-out

interface Watcher {
  /** Names of our ConfigMaps in the order their ADDED events arrived. */
  got: string[];
  problems: string[];
  ended: boolean;
  closed: Promise<void>;
  stop: () => void;
}

interface Delivery {
  t0: number;
  /** Watcher index -> ms after the create was sent. */
  at: Map<number, number>;
  all: () => void;
}

async function watchFanout(
  s: BenchSession, kubeconfig: string, meta: Meta, opts: ApiOptions,
  sample: (when: string) => void, log: (msg: string) => void,
): Promise<WatchResult> {
  const client = kubeClient(kubeconfig, "faultline-bench");
  const pending = new Map<string, Delivery>();
  const before = connections(meta);
  let closing = false;
  const watchers: Watcher[] = [];
  for (let i = 0; i < opts.watchers; i++) {
    let onClosed!: () => void;
    const w: Watcher = { got: [], problems: [], ended: false, closed: new Promise<void>((r) => (onClosed = r)), stop: () => {} };
    w.stop = client.stream(WATCH_PATH, (line) => {
      const now = performance.now();
      let ev: { type?: string; object?: { metadata?: { name?: string } } };
      try {
        ev = JSON.parse(line) as typeof ev;
      } catch {
        w.problems.push(`not JSON: ${line.slice(0, 100)}`);
        return;
      }
      if (ev.type === "ERROR") w.problems.push(`ERROR event: ${line.slice(0, 200)}`);
      const name = ev.object?.metadata?.name ?? "";
      if (ev.type !== "ADDED" || !name.startsWith(FANOUT_PREFIX)) return;
      w.got.push(name);
      const d = pending.get(name);
      if (!d || d.at.has(i)) return;
      d.at.set(i, now - d.t0);
      if (d.at.size === opts.watchers) d.all();
    }, (err) => {
      w.ended = true;
      if (!closing) w.problems.push(`the stream ended early${err ? `: ${err.message}` : ""}`);
      onClosed();
    });
    watchers.push(w);
  }
  const problems: string[] = [];
  /** Creates one ConfigMap and waits until every watcher has its ADDED event (or the timeout). */
  const createAndDeliver = async (name: string) => {
    let all!: () => void;
    const delivered = new Promise<void>((r) => (all = r));
    const d: Delivery = { t0: performance.now(), at: new Map(), all };
    pending.set(name, d);
    const r = await client.request("POST", "/api/v1/namespaces/default/configmaps", { apiVersion: "v1", kind: "ConfigMap", metadata: { name }, data: { by: "faultline bench" } });
    const createMs = performance.now() - d.t0;
    if (r.status !== 201) throw new Error(`creating ConfigMap ${name}: HTTP ${r.status}: ${JSON.stringify(r.body).slice(0, 200)}`);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([delivered, new Promise<void>((res) => (timer = setTimeout(res, DELIVERY_TIMEOUT_MS))), s.abortSignal]).finally(() => clearTimeout(timer));
    if (d.at.size < opts.watchers) problems.push(`${name}: ${d.at.size}/${opts.watchers} watchers had its ADDED event after ${DELIVERY_TIMEOUT_MS / 1000} s`);
    return { createMs, times: [...d.at.values()] };
  };

  try {
    // The first event (not counted) also proves every watch is established before the timed ones.
    const t0 = performance.now();
    await createAndDeliver(`${FANOUT_PREFIX}warmup`);
    const openMs = performance.now() - t0;
    const open = connections(meta);
    log(`api: ${opts.watchers} watchers open (first event at every one after ${Math.round(openMs)} ms)`);
    const names: string[] = [];
    const createMs: number[] = [];
    const first: number[] = [];
    const last: number[] = [];
    const every: number[] = [];
    for (let i = 1; i <= opts.events; i++) {
      s.check();
      const name = `${FANOUT_PREFIX}${i}`;
      names.push(name);
      const r = await createAndDeliver(name);
      createMs.push(r.createMs);
      every.push(...r.times);
      if (r.times.length) first.push(Math.min(...r.times)), last.push(Math.max(...r.times));
    }
    sample(`${opts.watchers} watchers open, after ${opts.events} events`);

    // Correctness: every watcher has exactly the warm-up and our events, once each, in order.
    const want = [`${FANOUT_PREFIX}warmup`, ...names];
    for (const [i, w] of watchers.entries()) {
      for (const p of w.problems) problems.push(`watcher ${i + 1}: ${p}`);
      if (w.got.join("\n") !== want.join("\n")) {
        const missing = want.filter((n) => !w.got.includes(n)).length;
        problems.push(`watcher ${i + 1}: got ${w.got.length} events (want ${want.length}; ${missing} missing${w.got.length - (want.length - missing) > 0 ? ", some twice" : ""}${missing === 0 ? ", out of order" : ""})`);
      }
    }

    closing = true;
    const tClose = performance.now();
    for (const w of watchers) w.stop();
    await Promise.race([Promise.all(watchers.map((w) => w.closed)), sleep(DELIVERY_TIMEOUT_MS)]);
    const closedMs = performance.now() - tClose;
    const closed = watchers.filter((w) => w.ended).length;
    if (closed < watchers.length) problems.push(`${watchers.length - closed} watcher(s) not closed ${DELIVERY_TIMEOUT_MS / 1000} s after being stopped`);
    // The creates' kept-alive connection is this client's, not the watchers': it goes too.
    client.closeIdle();
    // The server side lets go of a connection a little after the client: wait for its sockets to go.
    let after = connections(meta);
    for (const end = Date.now() + 5000; (after.fds > before.fds || after.relays > before.relays) && Date.now() < end; ) {
      await sleep(100);
      after = connections(meta);
    }
    if (after.fds > before.fds) problems.push(`the API server holds ${after.fds - before.fds} more fds 5 s after the watchers closed than before they opened`);
    if (after.relays > before.relays) problems.push(`${after.relays - before.relays} more relay (socat) processes 5 s after the watchers closed than before they opened`);
    sample("watchers closed");
    log(`api: fan-out: last watcher median ${Math.round(median(last))} ms; ${problems.length ? `${problems.length} PROBLEM(S)` : "every watcher got every event"}`);
    return {
      watchers: opts.watchers, events: opts.events, openMs,
      createMs: summarize(createMs), firstWatcherMs: summarize(first), lastWatcherMs: summarize(last), allDeliveriesMs: summarize(every),
      complete: problems.length === 0, problems,
      close: { ms: closedMs, closed, apiServerFds: { before: before.fds, open: open.fds, after: after.fds }, relays: { before: before.relays, open: open.relays, after: after.relays } },
    };
  } finally {
    closing = true;
    for (const w of watchers) w.stop();
  }
}
