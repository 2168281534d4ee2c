/**
 * Faultline benchmark for the flagship lab (webhook-to-kernel: 7 nodes, 13 pods) on the sim driver:
 *
 *  1. provision-to-ready: `--runs N` (20) sequential driver.up calls, wall time and per-phase time;
 *  2. destroy: driver.down after each, checking that no process is left in the sandbox's id range;
 *  3. memory of one sandbox: PSS (and RSS) of its processes, sampled right after each run is ready;
 *  4. concurrency: `--concurrent N` (50) sandboxes brought up at once, then all downed at once;
 *  5. the API server of one more flagship sandbox (bench/apiserver.ts): `kubectl get pods -A` end to end
 *     and server side, watch fan-out to 50 watchers, memory of the API server process.
 *
 * Prints a table (or only JSON with --json-only) and writes bench/results/<timestamp>.json.
 * Usage: npm run bench -- [--runs N] [--concurrent N] [--pool N] [--skip-concurrent] [--skip-api | --api-only] [--json-only]
 * Needs what `faultline sandbox up` needs (root, or a user with subordinate ids; see docs/sandboxes.md).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { projectRoot } from "../server/paths.js";
import { apiBenchmark } from "./apiserver.js";
import { gitInfo } from "./git.js";
import { memAvailableKb, processesInRange, sandboxMemory, scanProcesses, type SandboxMemory } from "./procs.js";
import {
  phaseTable, renderTable,
  type ApiResult, type ConcurrencyResult, type ConcurrentSandbox, type Goal, type MachineInfo, type Results, type RunResult,
} from "./report.js";
import { Aborted, BenchSession, type CleanupReport, type UpRecord } from "./session.js";
import { median, summarize } from "./stats.js";

const LAB = "webhook-to-kernel";
const GOAL_READY_MS = 1000;
const GOAL_MEMORY_MIB = 100;
const GOAL_CONCURRENT = 50;
/** Issue 3: the API server adds at most 60 MB to a sandbox (taken as MiB, like the other goals). */
const GOAL_API_MEMORY_MIB = 60;
/** driver.up has no timeout of its own; the benchmark gives up waiting after these. */
const UP_TIMEOUT_MS = 120_000;
const CONCURRENT_UP_TIMEOUT_MS = 600_000;

const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Options {
  runs: number;
  concurrent: number;
  pool: number;
  skipConcurrent: boolean;
  skipApi: boolean;
  apiOnly: boolean;
  apiRuns: number;
  apiWatchers: number;
  apiEvents: number;
  jsonOnly: boolean;
}

function parse() {
  return parseArgs({
    options: {
      runs: { type: "string", default: "20" },
      concurrent: { type: "string", default: String(GOAL_CONCURRENT) },
      pool: { type: "string", default: "0" },
      "skip-concurrent": { type: "boolean", default: false },
      "skip-api": { type: "boolean", default: false },
      "api-only": { type: "boolean", default: false },
      "api-runs": { type: "string", default: "30" },
      "api-watchers": { type: "string", default: "50" },
      "api-events": { type: "string", default: "20" },
      "json-only": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
}

const USAGE = [
  "usage: npm run bench -- [options]",
  "  --runs N           sequential up/down runs (default 20)",
  "  --concurrent N     sandboxes brought up at once (default 50)",
  "  --pool N           cap driver.up calls in flight during the concurrency test (default 0 = all at once)",
  "  --skip-concurrent  skip the concurrency test",
  "  --skip-api         skip the API server test",
  "  --api-only         run only the API server test (one sandbox; no provisioning runs, no concurrency)",
  "  --api-runs N       kubectl get pods -A rounds in the API server test (default 30)",
  "  --api-watchers N   concurrent watchers in the watch fan-out (default 50)",
  "  --api-events N     ConfigMaps created, one event each, in the watch fan-out (default 20)",
  "  --json-only        print only the JSON document on stdout (progress still goes to stderr)",
  "",
].join("\n");

function parseOptions(): Options {
  let parsed;
  try {
    parsed = parse();
  } catch (e) {
    process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
    process.exit(2);
  }
  const { values } = parsed;
  if (values["skip-api"] && values["api-only"]) {
    process.stderr.write(`bench: --skip-api and --api-only exclude each other\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const int = (name: string, v: string, min: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) {
      process.stderr.write(`bench: --${name} needs an integer >= ${min}, got "${v}"\n`);
      process.exit(2);
    }
    return n;
  };
  return {
    runs: int("runs", values.runs, 1),
    concurrent: int("concurrent", values.concurrent, 1),
    pool: int("pool", values.pool, 0),
    skipConcurrent: values["skip-concurrent"],
    skipApi: values["skip-api"],
    apiOnly: values["api-only"],
    apiRuns: int("api-runs", values["api-runs"], 1),
    apiWatchers: int("api-watchers", values["api-watchers"], 1),
    apiEvents: int("api-events", values["api-events"], 1),
    jsonOnly: values["json-only"],
  };
}

function machineInfo(): MachineInfo {
  const read = (f: string) => {
    try {
      return readFileSync(f, "utf8").trim();
    } catch {
      return "?";
    }
  };
  const limits: Record<string, string> = {};
  for (const [k, f] of [
    ["user.max_user_namespaces", "/proc/sys/user/max_user_namespaces"],
    ["user.max_net_namespaces", "/proc/sys/user/max_net_namespaces"],
    ["user.max_mnt_namespaces", "/proc/sys/user/max_mnt_namespaces"],
    ["user.max_pid_namespaces", "/proc/sys/user/max_pid_namespaces"],
    ["fs.inotify.max_user_instances", "/proc/sys/fs/inotify/max_user_instances"],
    ["fs.inotify.max_user_watches", "/proc/sys/fs/inotify/max_user_watches"],
    ["kernel.pid_max", "/proc/sys/kernel/pid_max"],
    ["kernel.threads-max", "/proc/sys/kernel/threads-max"],
    ["fs.file-max", "/proc/sys/fs/file-max"],
  ] as const) limits[k] = read(f);
  for (const line of read("/proc/self/limits").split("\n")) {
    const m = /^(Max open files|Max processes)\s+(\S+)\s+(\S+)/.exec(line);
    if (m) limits[`rlimit ${m[1]!.toLowerCase()} (soft/hard)`] = `${m[2]}/${m[3]}`;
  }
  return {
    nproc: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model.trim() ?? "?",
    totalMemMiB: Math.round(os.totalmem() / 2 ** 20),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    loadavgStart: os.loadavg(),
    loadavgEnd: [],
    limits,
  };
}

async function eventuallyEmpty(base: number, timeoutMs: number): Promise<number[]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const left = processesInRange(base);
    if (!left.length || Date.now() > end) return left;
    await sleep(100);
  }
}

/** Sequential up -> sample memory -> down runs. */
async function sequentialRuns(s: BenchSession, opts: Options, runs: RunResult[], lab: { nodes: number | null; pods: number | null }, loop: IntervalHistogram): Promise<void> {
  const tag = process.pid.toString(36);
  for (let i = 1; i <= opts.runs; i++) {
    s.check();
    const name = `bench-${tag}-s${i}`;
    loop.enable();
    const rec = await s.up(LAB, name, UP_TIMEOUT_MS);
    loop.disable();
    const run: RunResult = { run: i, name, ok: rec.ok, upMs: rec.ms, phases: rec.phases };
    runs.push(run);
    if (!rec.ok || !rec.meta) {
      run.error = rec.error;
      if (rec.hint) run.hint = rec.hint;
      log(`run ${i}/${opts.runs}: up FAILED after ${Math.round(rec.ms)} ms: ${rec.error}`);
      continue;
    }
    if (rec.plan) (lab.nodes = rec.plan.nodes.length), (lab.pods = rec.plan.pods.length);
    run.memory = sandboxMemory(rec.meta);
    run.supervisorPhases = s.supervisorTimeline(rec);
    s.check();
    const t = performance.now();
    await s.driver.down(name);
    run.downMs = performance.now() - t;
    run.leftoverAfterDown = processesInRange(rec.meta.uidBase);
    run.leftoverAfter5s = run.leftoverAfterDown.length ? await eventuallyEmpty(rec.meta.uidBase, 5000) : [];
    log(
      `run ${i}/${opts.runs}: up ${Math.round(rec.ms)} ms, PSS ${(run.memory.pssKb / 1024).toFixed(1)} MiB (${run.memory.processes} processes), down ${Math.round(run.downMs)} ms` +
        (run.leftoverAfterDown.length ? `, LEFT ${run.leftoverAfterDown.length} processes` : ""),
    );
  }
}

/** `n` driver.up calls at once (or `pool` at a time), then all downs at once. */
async function concurrency(s: BenchSession, opts: Options): Promise<ConcurrencyResult> {
  const tag = process.pid.toString(36);
  const names = Array.from({ length: opts.concurrent }, (_, i) => `bench-${tag}-c${i + 1}`);
  log(`concurrency: bringing up ${names.length} sandboxes ${opts.pool ? `(at most ${opts.pool} at a time)` : "at once"} ...`);
  const availBefore = memAvailableKb();
  const records: UpRecord[] = new Array<UpRecord>(names.length);
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const t0 = performance.now();
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < names.length) {
      const i = next++;
      records[i] = await s.up(LAB, names[i]!, CONCURRENT_UP_TIMEOUT_MS);
      done++;
      if (done % 10 === 0 || done === names.length) log(`concurrency: ${done}/${names.length} settled (${records.filter((r) => r && !r.ok).length} failed so far), ${Math.round(performance.now() - t0)} ms`);
    }
  };
  await Promise.all(Array.from({ length: opts.pool || names.length }, worker));
  const totalMs = performance.now() - t0;
  loop.disable();
  const ok = records.filter((r) => r.ok && r.meta);

  const procs = scanProcesses();
  const mems = new Map<string, SandboxMemory>(ok.map((r) => [r.name, sandboxMemory(r.meta!, procs)]));
  const memAvailableDropKb = availBefore - memAvailableKb();
  const sandboxes: ConcurrentSandbox[] = records.map((r) => ({
    name: r.name, ok: r.ok, upMs: r.ms, phases: r.phases,
    ...(r.ok ? { supervisorPhases: s.supervisorTimeline(r) } : {}),
    ...(r.error ? { error: r.error } : {}), ...(r.hint ? { hint: r.hint } : {}),
    ...(mems.get(r.name) ? { memory: mems.get(r.name)! } : {}),
  }));
  log(`concurrency: ${ok.length} up, ${records.length - ok.length} failed in ${Math.round(totalMs)} ms; downing them all at once ...`);

  const tDown = performance.now();
  const downErrors: string[] = [];
  await Promise.all(
    sandboxes.filter((x) => x.ok).map(async (x) => {
      const t = performance.now();
      try {
        await s.driver.down(x.name);
        x.downMs = performance.now() - t;
      } catch (e) {
        x.downError = e instanceof Error ? e.message : String(e);
        downErrors.push(`${x.name}: ${x.downError}`);
      }
    }),
  );
  const downTotalMs = performance.now() - tDown;
  const bases = records.map((r) => r.meta?.uidBase ?? r.uidBase).filter((b): b is number => b !== null);
  const leftovers = Object.fromEntries([...s.leftovers(bases)].map(([b, pids]) => [String(b), pids]));
  let later = s.leftovers(bases);
  for (const end = Date.now() + 5000; later.size && Date.now() < end; later = s.leftovers(bases)) await sleep(100);
  const leftoversAfter5s = Object.fromEntries([...later].map(([b, pids]) => [String(b), pids]));

  const groups = new Map<string, ConcurrencyResult["failureGroups"][number] & { times: number[] }>();
  for (const r of records.filter((x) => !x.ok)) {
    const text = r.error ?? "?";
    const pattern = text.replaceAll(r.name, "<name>").replace(/\d+(\.\d+)?/g, "N");
    const g = groups.get(pattern) ?? { pattern, count: 0, example: text, ...(r.hint ? { hint: r.hint } : {}), lastPhase: {}, msToFailure: summarize([]), times: [] };
    g.count++;
    const last = r.phases.at(-1)?.phase ?? "(none)";
    g.lastPhase[last] = (g.lastPhase[last] ?? 0) + 1;
    g.times.push(r.ms);
    groups.set(pattern, g);
  }
  const failureGroups = [...groups.values()]
    .sort((a, b) => b.count - a.count)
    .map(({ times, ...g }) => ({ ...g, msToFailure: summarize(times) }));

  return {
    requested: names.length,
    pool: opts.pool,
    totalMs,
    succeeded: ok.length,
    failed: records.length - ok.length,
    upMs: summarize(ok.map((r) => r.ms)),
    phases: phaseTable(ok.map((r) => r.phases), sandboxes.flatMap((x) => (x.supervisorPhases ? [x.supervisorPhases] : []))),
    readyLagMs: readyLag(sandboxes),
    hostEventLoopDelay: loopDelay(loop),
    failureGroups,
    memory: {
      pssKb: [...mems.values()].reduce((a, m) => a + m.pssKb, 0),
      rssKb: [...mems.values()].reduce((a, m) => a + m.rssKb, 0),
      processes: [...mems.values()].reduce((a, m) => a + m.processes, 0),
      foreign: [...mems.values()].reduce((a, m) => a + m.foreign, 0),
      memAvailableDropKb,
    },
    down: { totalMs: downTotalMs, each: summarize(sandboxes.flatMap((x) => (x.downMs === undefined ? [] : [x.downMs]))), errors: downErrors },
    leftovers,
    leftoversAfter5s,
    sandboxes,
  };
}

/** The benchmark process's event-loop delay (driver.up's host side runs in it), in ms. */
function loopDelay(h: IntervalHistogram): { p50: number; p99: number; max: number } {
  return { p50: h.percentile(50) / 1e6, p99: h.percentile(99) / 1e6, max: h.max / 1e6 };
}

/** Per ok sandbox: from the supervisor logging "ready" to driver.up resolving. */
function readyLag(xs: Array<{ ok: boolean; upMs: number; supervisorPhases?: Array<{ phase: string; ms: number }> }>) {
  return summarize(
    xs.flatMap((x) => {
      const ready = x.ok ? x.supervisorPhases?.find((p) => p.phase === "ready") : undefined;
      return ready ? [x.upMs - ready.ms] : [];
    }),
  );
}

function goals(r: Omit<Results, "goals">): Goal[] {
  const up = r.provision.upMs.median;
  const pss = r.memory.pssKb.median / 1024;
  const c = r.concurrency;
  // --api-only runs no provisioning runs; its one sandbox's up time is shown, not judged.
  const notRun = { value: "not run (--api-only)", pass: null };
  const apiUp = r.api ? `; the API test's sandbox came up in ${Math.round(r.api.upMs)} ms` : "";
  return [
    {
      goal: `provision-to-ready median <= ${GOAL_READY_MS} ms`,
      ...(r.options.apiOnly ? { ...notRun, value: notRun.value + apiUp } : { value: Number.isNaN(up) ? "no ok run" : `${Math.round(up)} ms`, pass: Number.isNaN(up) ? false : up <= GOAL_READY_MS }),
    },
    {
      goal: `memory per sandbox <= ${GOAL_MEMORY_MIB} MiB (PSS, median)`,
      ...(r.options.apiOnly ? notRun : { value: Number.isNaN(pss) ? "no sample" : `${pss.toFixed(1)} MiB`, pass: Number.isNaN(pss) ? false : pss <= GOAL_MEMORY_MIB }),
    },
    !c
      ? { goal: `${GOAL_CONCURRENT} concurrent sandboxes, no failure`, value: "not run", pass: null }
      : {
          goal: `${GOAL_CONCURRENT} concurrent sandboxes, no failure`,
          value: `${c.succeeded}/${c.requested} ok${c.pool ? ` (pool ${c.pool})` : " (all at once)"}, ${Math.round(c.totalMs)} ms`,
          pass: c.requested < GOAL_CONCURRENT ? null : c.failed === 0 && c.down.errors.length === 0 && Object.keys(c.leftoversAfter5s).length === 0,
        },
    ...apiGoals(r.api, r.options.skipApi),
  ];
}

function apiGoals(a: ApiResult | null, skipped: boolean): Goal[] {
  const getPods = "kubectl get pods -A, server side (median; issue 3 sets no figure)";
  const memory = `API server adds <= ${GOAL_API_MEMORY_MIB} MiB (PSS, largest sample)`;
  const fanout = "watch fan-out: every watcher gets every event";
  if (!a) return [getPods, memory, fanout].map((goal) => ({ goal, value: skipped ? "not run (--skip-api)" : "not run", pass: null }));
  const largest = a.memory.length ? Math.max(...a.memory.map((m) => m.pssKb)) / 1024 : Number.NaN;
  const w = a.watch;
  return [
    {
      goal: getPods,
      value: a.server && a.kubectl ? `${a.server.keepAliveMs.median.toFixed(1)} ms (kubectl end to end ${Math.round(a.kubectl.warmMs.median)} ms)` : "not measured",
      pass: null,
    },
    { goal: memory, value: Number.isNaN(largest) ? "no sample" : `${largest.toFixed(1)} MiB`, pass: Number.isNaN(largest) ? false : largest <= GOAL_API_MEMORY_MIB },
    {
      goal: fanout,
      value: w ? `${w.complete ? "yes" : `NO (${w.problems.length} problems)`}; last of ${w.watchers} watchers ${Math.round(w.lastWatcherMs.median)} ms (median)` : "not measured",
      pass: w ? w.complete : false,
    },
  ];
}

/** JSON replacer: fractional numbers (performance.now() differences) to 0.1. */
function roundMs(_key: string, v: unknown): unknown {
  return typeof v === "number" && !Number.isInteger(v) ? Math.round(v * 10) / 10 : v;
}

async function main(): Promise<number> {
  const opts = parseOptions();
  const startedAt = new Date().toISOString();
  const machine = machineInfo();
  const git = gitInfo();
  const session = new BenchSession(log);

  let interrupts = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    interrupts++;
    if (interrupts === 1) {
      log(`${sig}: stopping; bringing down every sandbox created so far (again to force) ...`);
      session.abort();
    } else {
      log(`${sig} again: killing the sandboxes' namespaces and exiting`);
      if (!session.forceKill()) log(`could not remove ${session.dataDir}`);
      process.exit(130);
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  log(
    `data dir ${session.dataDir}; lab ${LAB}; ` +
      (opts.apiOnly ? "the API server test only" : `${opts.runs} runs${opts.skipApi ? "" : ", then the API server test"}${opts.skipConcurrent ? "" : `, then ${opts.concurrent} concurrent`}`),
  );
  const runs: RunResult[] = [];
  const lab = { nodes: null as number | null, pods: null as number | null };
  let conc: ConcurrencyResult | null = null;
  let api: ApiResult | null = null;
  const seqLoop = monitorEventLoopDelay({ resolution: 10 });
  let interrupted = false;
  let crash: unknown = null;
  let cleanup: CleanupReport | null = null;
  try {
    if (!opts.apiOnly) await sequentialRuns(session, opts, runs, lab, seqLoop);
    // Before the concurrency test, whose 50 downs leave the machine busy for a while.
    if (!opts.skipApi) api = await apiBenchmark(session, { runs: opts.apiRuns, watchers: opts.apiWatchers, events: opts.apiEvents }, log);
    if (!opts.skipConcurrent && !opts.apiOnly) conc = await concurrency(session, opts);
  } catch (e) {
    if (e instanceof Aborted) interrupted = true;
    else crash = e;
  } finally {
    cleanup = await session.cleanup().catch((e: unknown) => {
      log(`cleanup failed: ${e instanceof Error ? e.message : String(e)} (data dir ${session.dataDir})`);
      return null;
    });
  }
  interrupted ||= session.aborted && interrupts > 0;
  machine.loadavgEnd = os.loadavg();

  const ok = runs.filter((r) => r.ok && r.memory);
  const pssSamples = ok.map((r) => r.memory!.pssKb);
  const medianRun = ok.length ? ok.reduce((best, r) => (Math.abs(r.memory!.pssKb - median(pssSamples)) < Math.abs(best.memory!.pssKb - median(pssSamples)) ? r : best)) : null;
  const partial: Omit<Results, "goals"> = {
    schema: 1,
    startedAt,
    finishedAt: new Date().toISOString(),
    interrupted,
    lab: { id: LAB, ...lab },
    options: {
      runs: opts.runs, concurrent: opts.concurrent, pool: opts.pool, skipConcurrent: opts.skipConcurrent,
      apiOnly: opts.apiOnly, skipApi: opts.skipApi, apiRuns: opts.apiRuns, apiWatchers: opts.apiWatchers, apiEvents: opts.apiEvents,
    },
    git,
    machine,
    provision: {
      runs,
      upMs: summarize(runs.filter((r) => r.ok).map((r) => r.upMs)),
      phases: phaseTable(
        runs.filter((r) => r.ok).map((r) => r.phases),
        runs.flatMap((r) => (r.supervisorPhases ? [r.supervisorPhases] : [])),
      ),
      readyLagMs: readyLag(runs),
      hostEventLoopDelay: loopDelay(seqLoop),
      downMs: summarize(runs.flatMap((r) => (r.downMs === undefined ? [] : [r.downMs]))),
      failures: runs.filter((r) => !r.ok).length,
      leftoverRuns: runs.filter((r) => r.leftoverAfterDown?.length).length,
      leakedRuns: runs.filter((r) => r.leftoverAfter5s?.length).length,
    },
    memory: {
      samples: ok.length,
      pssKb: summarize(pssSamples),
      rssKb: summarize(ok.map((r) => r.memory!.rssKb)),
      processes: medianRun?.memory?.processes ?? 0,
      byName: medianRun
        ? Object.entries(medianRun.memory!.byName)
            .map(([name, v]) => ({ name, ...v }))
            .sort((a, b) => b.pssKb - a.pssKb)
        : [],
      foreign: Math.max(0, ...ok.map((r) => r.memory!.foreign)),
    },
    concurrency: conc,
    api,
    cleanup: cleanup && { downed: cleanup.downed.length, downErrors: cleanup.downErrors, killedUnshare: cleanup.killedUnshare, killedLeftovers: cleanup.killedLeftovers },
  };
  const results: Results = { ...partial, goals: goals(partial) };

  const dir = path.join(projectRoot, "bench", "results");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${startedAt.replace(/:/g, "-").replace(/\.\d+Z$/, "Z")}.json`);
  const json = JSON.stringify(results, roundMs, 2) + "\n";
  writeFileSync(file, json);
  if (opts.jsonOnly) process.stdout.write(json);
  else process.stdout.write(renderTable(results) + "\n\nresults: " + path.relative(process.cwd(), file) + "\n");

  if (crash) {
    log(`the benchmark itself failed: ${crash instanceof Error ? (crash.stack ?? crash.message) : String(crash)}`);
    return 1;
  }
  if (interrupted) return 130;
  // Goals are reported, not enforced; a process left behind after down is a bug, so it fails the run, as
  // does an API server test that could not finish or a watcher that missed an event.
  const leaked = results.provision.leakedRuns > 0 || (conc !== null && Object.keys(conc.leftoversAfter5s).length > 0);
  const apiBroken = api !== null && (api.error !== undefined || api.watch?.complete === false);
  return leaked || apiBroken ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
