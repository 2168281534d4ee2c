/**
 * Idle CPU of sim sandboxes: what a sandbox costs while nobody types anything. `--sandboxes N` (1)
 * flagship sandboxes are brought up one after another, left alone for `--warmup` seconds (20), then
 * measured over `--windows` (5) windows of `--window` seconds (60).
 *
 * Per sandbox and window: CPU time of every process of the sandbox (its uid range plus its host-side
 * `unshare`): the exact run time of its threads (schedstat) plus the time of the children it reaped
 * (cutime + cstime), so processes that ran and were reaped within the window (an `iptables-save`
 * spawned by a periodic sync, say) count in their parent.
 * Reported as ms of CPU per second of wall time (10 ms/s = 1 % of one core), in total and per process
 * role (supervisor, API server, socat, tini ...); and wake-ups per second, the context switches of every
 * thread (voluntary + involuntary, /proc/<pid>/task/<tid>/status): a timer or a poll that never goes
 * idle shows there even when each wake-up costs little. Processes started during a window are counted
 * too (a sandbox at rest should start none).
 *
 * The figure to compare is the median over every (sandbox, window) sample; the sum over all sandboxes
 * per window is what N trainees' idle sandboxes take from the host. Both are measured in CPU time
 * charged to the sandboxes' processes, so other load on the machine changes them little (it does
 * change cache and scheduling costs a bit: compare runs made under similar load).
 *
 * Usage: npm run bench:idle -- [--sandboxes N] [--warmup S] [--window S] [--windows N] [--lab ID] [--json-only]
 * Writes bench/results/idle-<start time>.json. Needs what `faultline sandbox up` needs.
 */
import { readdirSync, readFileSync, mkdirSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { projectRoot } from "../server/paths.js";
import { gitInfo } from "./git.js";
import { sandboxProcesses, scanProcesses, type ProcInfo } from "./procs.js";
import { table } from "./report.js";
import { Aborted, BenchSession } from "./session.js";
import { median, summarize, type Summary } from "./stats.js";

const log = (msg: string) => process.stderr.write(`bench:idle: ${msg}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const UP_TIMEOUT_MS = 120_000;

/** Clock ticks per second of /proc/<pid>/stat's times (100 on every Linux we run on; asked anyway). */
const HZ = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** One process at one moment. */
interface ProcSample {
  pid: number;
  role: string;
  cmdline: string;
  /** Run time of its threads plus that of the children it reaped (see cpuNs). */
  ns: number;
  /** Context switches of all its threads. */
  switches: number;
}

/**
 * What a process is, for the breakdown: the supervisor and the API server by their script (plain or
 * bundled build), everything else by its program's name.
 */
function roleOf(p: Pick<ProcInfo, "name" | "cmdline">): string {
  // Only node itself: the `unshare` and tini above the supervisor carry its script in their arguments too.
  if (p.name === "node" && /\bsupervisor\.m?js\b/.test(p.cmdline)) return "supervisor";
  if (p.name === "node" && /apiserver(\/main)?\.m?js\b/.test(p.cmdline)) return "apiserver";
  return p.name;
}

/**
 * CPU time of a process in ns: the exact run time of each of its threads (/proc/<pid>/task/<tid>/schedstat,
 * first field) plus, from /proc/<pid>/stat, the time of the children it has reaped (cutime + cstime,
 * in clock ticks). utime and stime alone are sampled at each tick: a process that runs for 30 µs a
 * second shows 0 or 10 ms at random. Falls back to them where schedstat is missing. Null once gone.
 */
function cpuNs(pid: number): { ns: number; switches: number } | null {
  let f: string[];
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // the fields after the command name, which may itself hold spaces and parentheses
    f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return null;
  }
  const tickNs = 1e9 / HZ;
  const reaped = (Number(f[13]) + Number(f[14])) * tickNs;
  let own = 0;
  let switches = 0;
  let exact = true;
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return null;
  }
  for (const tid of tids) {
    try {
      own += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      exact = false;
    }
    try {
      const s = readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8");
      switches += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(s)?.[1] ?? 0) + Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(s)?.[1] ?? 0);
    } catch {
      /* the thread ended */
    }
  }
  if (!exact || Number.isNaN(own)) own = (Number(f[11]) + Number(f[12])) * tickNs;
  return { ns: own + reaped, switches };
}

type Meta = { uidBase: number; unsharePid: number };

function sampleSandbox(meta: Meta, procs: ProcInfo[]): Map<number, ProcSample> {
  const out = new Map<number, ProcSample>();
  for (const p of sandboxProcesses(meta, procs)) {
    const cpu = cpuNs(p.pid);
    if (cpu === null) continue;
    out.set(p.pid, { pid: p.pid, role: roleOf(p), cmdline: p.cmdline.slice(0, 200), ns: cpu.ns, switches: cpu.switches });
  }
  return out;
}

/** One sandbox over one window. */
interface IdleWindow {
  sandbox: string;
  window: number;
  seconds: number;
  /** ms of CPU per second, every process of the sandbox (reaped children included). */
  cpuMsPerS: number;
  wakeupsPerS: number;
  /** Per role: ms of CPU per second, wake-ups per second, how many processes. */
  byRole: Record<string, { cpuMsPerS: number; wakeupsPerS: number; count: number }>;
  /** Processes that appeared / disappeared during the window. */
  started: number;
  ended: number;
  /** The busiest processes of the window (pid, role, command line, ms/s). */
  top: Array<{ pid: number; role: string; cmdline: string; cpuMsPerS: number; wakeupsPerS: number }>;
}

function compareWindow(sandbox: string, window: number, seconds: number, a: Map<number, ProcSample>, b: Map<number, ProcSample>): IdleWindow {
  const sum = (m: Map<number, ProcSample>, k: "ns" | "switches") => [...m.values()].reduce((acc, p) => acc + p[k], 0);
  // Totals over the sets: a child reaped during the window moves its time into its parent's cutime, so
  // the difference of the sums counts it once (a process reaped outside the sandbox would be missed).
  const cpuMsPerS = (sum(b, "ns") - sum(a, "ns")) / 1e6 / seconds;
  const byRole: IdleWindow["byRole"] = {};
  const top: IdleWindow["top"] = [];
  let switches = 0;
  for (const p of b.values()) {
    const before = a.get(p.pid);
    const cpu = (p.ns - (before?.ns ?? 0)) / 1e6 / seconds;
    const wake = (p.switches - (before?.switches ?? 0)) / seconds;
    switches += wake;
    const r = (byRole[p.role] ??= { cpuMsPerS: 0, wakeupsPerS: 0, count: 0 });
    r.cpuMsPerS += cpu;
    r.wakeupsPerS += wake;
    r.count++;
    if (cpu >= 0.01 || wake >= 0.5) top.push({ pid: p.pid, role: p.role, cmdline: p.cmdline, cpuMsPerS: cpu, wakeupsPerS: wake });
  }
  top.sort((x, y) => y.cpuMsPerS - x.cpuMsPerS || y.wakeupsPerS - x.wakeupsPerS);
  return {
    sandbox, window, seconds, cpuMsPerS, wakeupsPerS: switches, byRole,
    started: [...b.keys()].filter((pid) => !a.has(pid)).length,
    ended: [...a.keys()].filter((pid) => !b.has(pid)).length,
    top: top.slice(0, 12),
  };
}

/** Host-wide busy time from /proc/stat (all CPUs, ms), for context: other load on the machine. */
function hostBusyMs(): number {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return ((f.slice(0, 8).reduce((a, b) => a + b, 0) - idle) * 1000) / HZ;
}

interface IdleResults {
  schema: 1;
  kind: "idle";
  startedAt: string;
  finishedAt: string;
  interrupted: boolean;
  git: { commit: string; dirty: boolean } | null;
  machine: { nproc: number; kernel: string; node: string; loadavgStart: number[]; loadavgEnd: number[] };
  options: { lab: string; sandboxes: number; warmupS: number; windowS: number; windows: number };
  up: Array<{ name: string; ok: boolean; ms: number; error?: string }>;
  /** Over every (sandbox, window) sample. */
  perSandbox: { cpuMsPerS: Summary; wakeupsPerS: Summary; byRole: Array<{ role: string; count: number; cpuMsPerS: number; wakeupsPerS: number }> };
  /** Per window: all sandboxes together, and the whole host's busy time (ms per second, all cores). */
  perWindow: Array<{ window: number; totalCpuMsPerS: number; hostBusyMsPerS: number; loadavg1: number }>;
  windows: IdleWindow[];
}

function options() {
  const { values } = parseArgs({
    options: {
      sandboxes: { type: "string", default: "1" },
      warmup: { type: "string", default: "20" },
      window: { type: "string", default: "60" },
      windows: { type: "string", default: "5" },
      lab: { type: "string", default: "webhook-to-kernel" },
      "json-only": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write("usage: npm run bench:idle -- [--sandboxes 1] [--warmup 20] [--window 60] [--windows 5] [--lab webhook-to-kernel] [--json-only]\n");
    process.exit(0);
  }
  const int = (name: string, v: string, min: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) {
      log(`--${name} needs an integer >= ${min}, got "${v}"`);
      process.exit(2);
    }
    return n;
  };
  return {
    lab: values.lab,
    sandboxes: int("sandboxes", values.sandboxes, 1),
    warmupS: int("warmup", values.warmup, 0),
    windowS: int("window", values.window, 1),
    windows: int("windows", values.windows, 1),
    jsonOnly: values["json-only"],
  };
}

function render(r: IdleResults): string {
  const f = (v: number, d = 2) => (Number.isNaN(v) ? "-" : v.toFixed(d));
  const out: string[] = [];
  const o = r.options;
  out.push(`Faultline idle benchmark: lab ${o.lab}, ${r.up.filter((u) => u.ok).length}/${o.sandboxes} sandbox(es), ${o.warmupS} s warm-up, ${o.windows} windows of ${o.windowS} s${r.interrupted ? "  [INTERRUPTED: partial results]" : ""}`);
  out.push(`machine: ${r.machine.nproc} cores, ${r.machine.kernel}, node ${r.machine.node}; load average ${r.machine.loadavgStart.map((x) => x.toFixed(2)).join(" ")} at start, ${r.machine.loadavgEnd.map((x) => x.toFixed(2)).join(" ")} at end` + (r.git ? `; commit ${r.git.commit}${r.git.dirty ? " (dirty)" : ""}` : ""));
  out.push("");
  const c = r.perSandbox.cpuMsPerS;
  const w = r.perSandbox.wakeupsPerS;
  out.push(`per sandbox, over ${c.n} (sandbox, window) samples (10 ms/s = 1 % of one core):`);
  out.push(table([
    ["", "median", "p95", "min", "max"],
    ["CPU, ms/s", f(c.median), f(c.p95), f(c.min), f(c.max)],
    ["wake-ups/s", f(w.median, 1), f(w.p95, 1), f(w.min, 1), f(w.max, 1)],
  ]));
  out.push("");
  out.push("by role (median per sandbox):");
  out.push(table([["role", "processes", "CPU ms/s", "wake-ups/s"], ...r.perSandbox.byRole.map((x) => [x.role, String(x.count), f(x.cpuMsPerS), f(x.wakeupsPerS, 1)])]));
  out.push("");
  out.push("per window, all sandboxes together (host busy: the whole machine, all cores):");
  out.push(table([["window", "sandboxes CPU ms/s", "host busy ms/s", "load 1 min"], ...r.perWindow.map((x) => [String(x.window), f(x.totalCpuMsPerS), f(x.hostBusyMsPerS, 0), f(x.loadavg1)])]));
  const mid = [...r.windows].sort((a, b) => a.cpuMsPerS - b.cpuMsPerS)[r.windows.length >> 1];
  if (mid) {
    out.push("");
    out.push(`busiest processes in the median sample (${mid.sandbox}, window ${mid.window}; ${mid.started} started, ${mid.ended} ended during it):`);
    out.push(table([["pid", "role", "CPU ms/s", "wake-ups/s", "command"], ...mid.top.map((p) => [String(p.pid), p.role, f(p.cpuMsPerS), f(p.wakeupsPerS, 1), p.cmdline.slice(0, 90)])]));
  }
  return out.join("\n");
}

async function main(): Promise<number> {
  const opts = options();
  const startedAt = new Date().toISOString();
  const loadavgStart = os.loadavg();
  const session = new BenchSession(log);
  let interrupted = false;
  process.on("SIGINT", () => (log("SIGINT: stopping; bringing down every sandbox ..."), session.abort()));
  process.on("SIGTERM", () => session.abort());

  const tag = process.pid.toString(36);
  const up: IdleResults["up"] = [];
  const windows: IdleWindow[] = [];
  const perWindow: IdleResults["perWindow"] = [];
  const metas = new Map<string, Meta>();
  try {
    for (let i = 1; i <= opts.sandboxes; i++) {
      const rec = await session.up(opts.lab, `idle-${tag}-${i}`, UP_TIMEOUT_MS);
      up.push({ name: rec.name, ok: rec.ok, ms: rec.ms, ...(rec.error ? { error: rec.error } : {}) });
      if (rec.ok && rec.meta) metas.set(rec.name, rec.meta);
      log(`${rec.name}: ${rec.ok ? `up in ${Math.round(rec.ms)} ms` : `FAILED: ${rec.error}`}`);
    }
    if (!metas.size) throw new Error("no sandbox came up");
    log(`warm-up ${opts.warmupS} s ...`);
    await Promise.race([sleep(opts.warmupS * 1000), session.abortSignal]);
    const snapshot = () => {
      const procs = scanProcesses();
      return new Map([...metas].map(([name, meta]) => [name, sampleSandbox(meta, procs)]));
    };
    for (let w = 1; w <= opts.windows; w++) {
      const a = snapshot();
      const busyA = hostBusyMs();
      const t = performance.now();
      await Promise.race([sleep(opts.windowS * 1000), session.abortSignal]);
      const b = snapshot();
      const seconds = (performance.now() - t) / 1000;
      const these = [...metas.keys()].map((name) => compareWindow(name, w, seconds, a.get(name)!, b.get(name)!));
      windows.push(...these);
      const total = these.reduce((acc, x) => acc + x.cpuMsPerS, 0);
      perWindow.push({ window: w, totalCpuMsPerS: total, hostBusyMsPerS: (hostBusyMs() - busyA) / seconds, loadavg1: os.loadavg()[0]! });
      log(`window ${w}/${opts.windows}: ${total.toFixed(2)} ms/s for ${these.length} sandbox(es), median ${median(these.map((x) => x.cpuMsPerS)).toFixed(2)} ms/s each`);
    }
  } catch (e) {
    if (e instanceof Aborted) interrupted = true;
    else throw e;
  } finally {
    await session.cleanup();
  }

  const roles = new Set(windows.flatMap((x) => Object.keys(x.byRole)));
  const results: IdleResults = {
    schema: 1,
    kind: "idle",
    startedAt,
    finishedAt: new Date().toISOString(),
    interrupted,
    git: gitInfo(),
    machine: { nproc: os.availableParallelism(), kernel: `${os.type()} ${os.release()}`, node: process.version, loadavgStart, loadavgEnd: os.loadavg() },
    options: { lab: opts.lab, sandboxes: opts.sandboxes, warmupS: opts.warmupS, windowS: opts.windowS, windows: opts.windows },
    up,
    perSandbox: {
      cpuMsPerS: summarize(windows.map((x) => x.cpuMsPerS)),
      wakeupsPerS: summarize(windows.map((x) => x.wakeupsPerS)),
      byRole: [...roles]
        .map((role) => {
          const xs = windows.map((x) => x.byRole[role] ?? { cpuMsPerS: 0, wakeupsPerS: 0, count: 0 });
          return { role, count: median(xs.map((x) => x.count)), cpuMsPerS: median(xs.map((x) => x.cpuMsPerS)), wakeupsPerS: median(xs.map((x) => x.wakeupsPerS)) };
        })
        .sort((a, b) => b.cpuMsPerS - a.cpuMsPerS || b.wakeupsPerS - a.wakeupsPerS),
    },
    perWindow,
    windows,
  };
  const dir = path.join(projectRoot, "bench", "results");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `idle-${startedAt.replace(/:/g, "-").replace(/\.\d+Z$/, "Z")}.json`);
  const json = JSON.stringify(results, (_k, v: unknown) => (typeof v === "number" && !Number.isInteger(v) ? Math.round(v * 100) / 100 : v), 2) + "\n";
  writeFileSync(file, json);
  if (opts.jsonOnly) process.stdout.write(json);
  else process.stdout.write(render(results) + "\n\nresults: " + path.relative(process.cwd(), file) + "\n");
  return interrupted ? 130 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    log(`failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  },
);
