/**
 * The benchmark's results: the JSON document written to bench/results/, and the human table printed
 * from it. Times in ms, memory in KiB (as /proc reports it) in JSON, MiB in the table.
 */
import type { Phase } from "../server/sandboxes/sim/driver.js";
import type { ProcessMemory, SandboxMemory } from "./procs.js";
import { median, percentile, type Summary } from "./stats.js";

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  totalMemMiB: number;
  kernel: string;
  node: string;
  loadavgStart: number[];
  loadavgEnd: number[];
  /** Kernel and process limits that concurrency can run into. */
  limits: Record<string, string>;
}

export interface RunResult {
  run: number;
  name: string;
  ok: boolean;
  upMs: number;
  phases: Phase[];
  /** The same phases as the supervisor logged them (ms after the up() call); see BenchSession.supervisorTimeline. */
  supervisorPhases?: TimelineEntry[];
  error?: string;
  hint?: string;
  downMs?: number;
  memory?: SandboxMemory;
  /** Pids in the sandbox's id range right after driver.down resolved, and still there 5 s later. */
  leftoverAfterDown?: number[];
  leftoverAfter5s?: number[];
}

export interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
}

export interface TimelineEntry {
  phase: string;
  ms: number;
}

export interface PhaseRow {
  phase: string;
  /** ms after the driver.up call at which the phase was reported (median). */
  startsAt: number;
  /** ms until the next phase was reported (median, p95). Null for the last ("ready"). */
  duration: number | null;
  durationP95: number | null;
  /** ms after the up() call at which the supervisor logged the phase (median); null for host-side rows. */
  loggedAt: number | null;
  seenIn: number;
}

export interface ConcurrentSandbox {
  name: string;
  ok: boolean;
  upMs: number;
  phases: Phase[];
  supervisorPhases?: TimelineEntry[];
  error?: string;
  hint?: string;
  memory?: SandboxMemory;
  downMs?: number;
  downError?: string;
}

export interface ConcurrencyResult {
  requested: number;
  /** 0 = all at once (Promise.all over driver.up). */
  pool: number;
  totalMs: number;
  succeeded: number;
  failed: number;
  upMs: Summary;
  phases: PhaseRow[];
  /** From the supervisor logging "ready" to driver.up resolving: time the host took to notice. */
  readyLagMs: Summary;
  /** Event-loop delay of the benchmark process while the ups ran: how long the host side blocked it. */
  hostEventLoopDelay: LoopDelay;
  /** Distinct failure messages (digits folded to N), with counts and the first exact text. */
  failureGroups: Array<{ pattern: string; count: number; example: string; hint?: string; lastPhase: Record<string, number>; msToFailure: Summary }>;
  memory: { pssKb: number; rssKb: number; processes: number; foreign: number; memAvailableDropKb: number };
  down: { totalMs: number; each: Summary; errors: string[] };
  /** Pids per id range (ok and failed sandboxes) right after the downs, and what was still there 5 s later. */
  leftovers: Record<string, number[]>;
  leftoversAfter5s: Record<string, number[]>;
  sandboxes: ConcurrentSandbox[];
}

/** One sample of the API server process: its memory (KiB) and open fds (one socket per connection). */
export interface ApiMemorySample extends ProcessMemory {
  when: string;
  pid: number;
  fds: number;
}

/** Watch fan-out: per event, ms from sending the create until a watcher parsed its ADDED event. */
export interface WatchResult {
  watchers: number;
  events: number;
  /** From the warm-up create (not counted) until every watcher had it: the watches are established. */
  openMs: number;
  /** The POST's round trip. */
  createMs: Summary;
  firstWatcherMs: Summary;
  /** Per event, the time to the last watcher: the fan-out figure. */
  lastWatcherMs: Summary;
  /** Every (event, watcher) delivery. */
  allDeliveriesMs: Summary;
  /** Every watcher got every ADDED event once, in order, no stream ended early, and all closed cleanly. */
  complete: boolean;
  problems: string[];
  close: { ms: number; closed: number; apiServerFds: { before: number; open: number; after: number }; relays: { before: number; open: number; after: number } };
}

/** The API server part (bench/apiserver.ts), against one flagship sandbox. */
export interface ApiResult {
  sandbox: string;
  /** driver.up of this sandbox (one sample; the sequential runs are the provisioning figure). */
  upMs: number;
  /** Why the part stopped early, if it did; the figures gathered until then are kept. */
  error?: string;
  /** Rounds of the get-pods comparison; in each, every variant runs once. */
  runs: number;
  /** Rows and bytes of the pods Table. */
  pods: number | null;
  tableBytes: number | null;
  kubectl: {
    binary: string;
    version: string;
    /** The first `get pods -A`, with an empty --cache-dir (discovery fetched); null if it failed. */
    coldMs: number | null;
    coldRequests: string[];
    /** `get pods -A` with the discovery cache: the end-to-end figure. */
    warmMs: Summary;
    /** The same with -v=6, and the sum of the request times it logs (TLS handshake included). */
    verboseMs: Summary;
    requestMs: Summary;
    warmRequests: string[];
    /** `kubectl version --client`: the process's start-up, no request. */
    startupMs: Summary;
  } | null;
  /** The same GET from Node: on one kept-alive connection (the server side), and a new TLS connection each time. */
  server: { keepAliveMs: Summary; newConnectionMs: Summary } | null;
  getPodsFailures: string[];
  watch: WatchResult | null;
  memory: ApiMemorySample[];
}

export interface Goal {
  goal: string;
  value: string;
  pass: boolean | null;
}

export interface Results {
  schema: 1;
  startedAt: string;
  finishedAt: string;
  interrupted: boolean;
  lab: { id: string; nodes: number | null; pods: number | null };
  options: { runs: number; concurrent: number; pool: number; skipConcurrent: boolean; apiOnly: boolean; skipApi: boolean; apiRuns: number; apiWatchers: number; apiEvents: number };
  git: { commit: string; dirty: boolean } | null;
  machine: MachineInfo;
  provision: {
    runs: RunResult[];
    upMs: Summary;
    phases: PhaseRow[];
    readyLagMs: Summary;
    hostEventLoopDelay: LoopDelay;
    downMs: Summary;
    failures: number;
    /** Runs with processes in the id range right after driver.down resolved, and 5 s later (a leak). */
    leftoverRuns: number;
    leakedRuns: number;
  };
  memory: {
    samples: number;
    pssKb: Summary;
    rssKb: Summary;
    processes: number;
    byName: Array<{ name: string; count: number; pssKb: number; rssKb: number }>;
    foreign: number;
  };
  concurrency: ConcurrencyResult | null;
  /** Null with --skip-api. */
  api: ApiResult | null;
  goals: Goal[];
  cleanup: { downed: number; downErrors: string[]; killedUnshare: number[]; killedLeftovers: number[] } | null;
}

/**
 * Per-phase timing from the onPhase reports of many runs. A report marks the start of its phase, so a
 * phase lasts until the next report; repeated names (a second "faults") get a "#2" suffix. A leading
 * "(preflight)" row covers the host's checks and lab loading before "prepare" is reported.
 */
export function phaseTable(runs: Phase[][], timelines: TimelineEntry[][] = []): PhaseRow[] {
  const order: string[] = [];
  const starts = new Map<string, number[]>();
  const durations = new Map<string, number[]>();
  const logged = new Map<string, number[]>();
  for (const t of timelines) for (const p of keyPhases(t)) logged.set(p.key, [...(logged.get(p.key) ?? []), p.ms]);
  for (const phases of runs) {
    if (!phases.length) continue;
    const keyed = [{ key: "(preflight)", ms: 0 }, ...keyPhases(phases)];
    keyed.forEach((p, i) => {
      if (!order.includes(p.key)) order.push(p.key);
      starts.set(p.key, [...(starts.get(p.key) ?? []), p.ms]);
      const next = keyed[i + 1];
      if (next) durations.set(p.key, [...(durations.get(p.key) ?? []), next.ms - p.ms]);
    });
  }
  return order.map((phase) => {
    const d = durations.get(phase) ?? [];
    const l = logged.get(phase) ?? [];
    return {
      phase,
      startsAt: median(starts.get(phase) ?? []),
      duration: d.length ? median(d) : null,
      durationP95: d.length ? percentile(d, 0.95) : null,
      loggedAt: l.length ? median(l) : null,
      seenIn: starts.get(phase)?.length ?? 0,
    };
  });
}

/** Phase names made unique in order of appearance: a second "faults" becomes "faults#2". */
function keyPhases(phases: Array<{ phase: string; ms: number }>): Array<{ key: string; ms: number }> {
  const seen = new Map<string, number>();
  return phases.map((p) => {
    const n = (seen.get(p.phase) ?? 0) + 1;
    seen.set(p.phase, n);
    return { key: n === 1 ? p.phase : `${p.phase}#${n}`, ms: p.ms };
  });
}

/** The first id of a sandbox's range, from its "prepare" report. */
export function idsOf(phases: Phase[]): string | null {
  return /ids (\d+)-/.exec(phases.find((p) => p.phase === "prepare")?.detail ?? "")?.[1] ?? null;
}

const ms = (v: number | null | undefined) => (v === null || v === undefined || Number.isNaN(v) ? "-" : `${Math.round(v)} ms`);
const mib = (kb: number | null | undefined) => (kb === null || kb === undefined || Number.isNaN(kb) ? "-" : `${(kb / 1024).toFixed(1)} MiB`);

/** Left-aligned columns, two spaces apart; the last column is not padded. */
export function table(rows: string[][], indent = "  "): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  return rows.map((r) => indent + r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]! + 2))).join("").trimEnd()).join("\n");
}

function phaseLines(rows: PhaseRow[], runs: number): string {
  const partial = rows.some((r) => r.seenIn !== runs);
  return table(
    [
      ["phase", "reported at", "lasts (median)", "lasts (p95)", "logged by supervisor at", ...(partial ? ["runs"] : [])],
      ...rows.map((r) => [r.phase, ms(r.startsAt), ms(r.duration), ms(r.durationP95), ms(r.loggedAt), ...(partial ? [String(r.seenIn)] : [])]),
    ],
    "     ",
  );
}

export function renderTable(r: Results): string {
  const out: string[] = [];
  const m = r.machine;
  out.push(`Faultline benchmark: lab ${r.lab.id}${r.lab.nodes !== null ? ` (${r.lab.nodes} nodes, ${r.lab.pods} pods)` : ""}${r.interrupted ? "  [INTERRUPTED: partial results]" : ""}`);
  out.push(`machine: ${m.nproc} cores (${m.cpuModel}), ${(m.totalMemMiB / 1024).toFixed(1)} GiB, ${m.kernel}, node ${m.node}`);
  out.push(`load average: ${m.loadavgStart.map((x) => x.toFixed(2)).join(" ")} at start, ${m.loadavgEnd.map((x) => x.toFixed(2)).join(" ")} at end` + (r.git ? `; commit ${r.git.commit}${r.git.dirty ? " (dirty)" : ""}` : ""));
  out.push(`started ${r.startedAt}, finished ${r.finishedAt}`);
  out.push("");
  if (r.options.apiOnly) out.push("1.-4. provisioning, destroy, memory, concurrency: skipped (--api-only)", "");
  else out.push(...driverSections(r));
  out.push(...(r.api ? apiSection(r.api) : [`5. API server: ${r.options.skipApi ? "skipped (--skip-api)" : "not run"}`]));
  out.push("");

  out.push("goals");
  out.push(table([["goal", "measured", "verdict"], ...r.goals.map((g) => [g.goal, g.value, g.pass === null ? "n/a" : g.pass ? "PASS" : "FAIL"])]));
  if (r.cleanup && (r.cleanup.downErrors.length || r.cleanup.killedUnshare.length || r.cleanup.killedLeftovers.length)) {
    out.push("");
    out.push(`cleanup: downed ${r.cleanup.downed}; errors: ${r.cleanup.downErrors.join("; ") || "none"}; killed unshare ${r.cleanup.killedUnshare.join(" ") || "none"}; killed leftovers ${r.cleanup.killedLeftovers.join(" ") || "none"}`);
  }
  return out.join("\n");
}

/** Sections 1-4: the sim driver's provisioning, destroy, memory and concurrency. */
function driverSections(r: Results): string[] {
  const out: string[] = [];
  const p = r.provision;
  const okRuns = p.runs.filter((x) => x.ok).length;

  out.push(`1. provision-to-ready: driver.up wall time, ${p.runs.length} sequential runs, ${okRuns} ok, ${p.failures} failed`);
  out.push(table([
    ["median", "p95", "min", "max", "mean"],
    [ms(p.upMs.median), ms(p.upMs.p95), ms(p.upMs.min), ms(p.upMs.max), ms(p.upMs.mean)],
  ]));
  for (const f of p.runs.filter((x) => !x.ok)) out.push(`  run ${f.run} FAILED after ${ms(f.upMs)}: ${f.error}${f.hint ? `\n    hint: ${f.hint}` : ""}`);
  out.push("");
  out.push("   where the time goes (medians over the ok runs; ms after the up() call; a phase lasts until the next one is reported):");
  out.push(phaseLines(p.phases, okRuns));
  out.push(`     "reported at" is when onPhase fired (the host read the event); "logged by supervisor at" is the event's time in supervisor.log.`);
  out.push(`     supervisor logged "ready" -> driver.up resolved: median ${ms(p.readyLagMs.median)}, max ${ms(p.readyLagMs.max)}`);
  out.push(`     event-loop delay of this process during the ups: p50 ${ms(p.hostEventLoopDelay.p50)}, p99 ${ms(p.hostEventLoopDelay.p99)}, max ${ms(p.hostEventLoopDelay.max)}`);
  out.push("");

  out.push(`2. destroy: driver.down wall time, ${p.downMs.n} runs`);
  out.push(table([
    ["median", "p95", "min", "max", "processes left in the sandbox's id range"],
    [
      ms(p.downMs.median), ms(p.downMs.p95), ms(p.downMs.min), ms(p.downMs.max),
      p.leftoverRuns === 0
        ? `none (checked right after each of ${p.downMs.n} downs)`
        : p.leakedRuns === 0
          ? `${p.leftoverRuns} run(s) had some right after down, gone within 5 s`
          : `FAIL: ${p.leakedRuns} run(s) left processes still there 5 s after down`,
    ],
  ]));
  for (const x of p.runs.filter((y) => y.leftoverAfterDown?.length)) {
    out.push(`  run ${x.run}: pids ${x.leftoverAfterDown!.join(" ")} right after down; ${x.leftoverAfter5s?.length ? `still there 5 s later: ${x.leftoverAfter5s.join(" ")}` : "gone within 5 s"}`);
  }
  out.push("");

  const mem = r.memory;
  out.push(`3. memory of one sandbox: processes in its id range + its host-side unshare, sampled right after ready (${mem.samples} samples)`);
  out.push(table([
    ["", "median", "p95", "min", "max"],
    ["PSS", mib(mem.pssKb.median), mib(mem.pssKb.p95), mib(mem.pssKb.min), mib(mem.pssKb.max)],
    ["RSS", mib(mem.rssKb.median), mib(mem.rssKb.p95), mib(mem.rssKb.min), mib(mem.rssKb.max)],
  ]));
  out.push(`   ${mem.processes} processes (median sample). Kernel memory (namespaces, veths, iptables rules, page tables) is not in PSS or RSS.`);
  if (mem.foreign) out.push(`   WARNING: ${mem.foreign} process(es) in the id range did not descend from the sandbox's unshare (another sandbox shares its ids); they are included above`);
  out.push("   by process (median sample):");
  out.push(table([["process", "count", "PSS", "RSS"], ...mem.byName.map((b) => [b.name, String(b.count), mib(b.pssKb), mib(b.rssKb)])], "     "));
  out.push("   PSS divides shared pages (node, libc, bash) among all processes mapping them, host-wide; RSS counts them in full per process.");
  out.push("");

  const c = r.concurrency;
  if (!c) {
    out.push(`4. concurrency: ${r.options.skipConcurrent ? "skipped (--skip-concurrent)" : "not run"}`);
  } else {
    out.push(`4. concurrency: ${c.requested} sandboxes, ${c.pool ? `at most ${c.pool} driver.up in flight` : "all driver.up calls at once (Promise.all)"}`);
    out.push(table([
      ["total up wall", "ok", "failed", "up each: median", "p95", "max"],
      [ms(c.totalMs), String(c.succeeded), String(c.failed), ms(c.upMs.median), ms(c.upMs.p95), ms(c.upMs.max)],
    ]));
    out.push(`   memory with all ${c.succeeded} ok sandboxes up: PSS ${mib(c.memory.pssKb)} total (${mib(c.succeeded ? c.memory.pssKb / c.succeeded : Number.NaN)} each), RSS ${mib(c.memory.rssKb)} total, ${c.memory.processes} processes; host MemAvailable dropped by ${mib(c.memory.memAvailableDropKb)} (host-wide, noisy)`);
    if (c.memory.foreign) out.push(`   WARNING: ${c.memory.foreign} process(es) did not descend from their sandbox's unshare (shared ids)`);
    out.push(`   down all at once: ${ms(c.down.totalMs)} total; each: median ${ms(c.down.each.median)}, p95 ${ms(c.down.each.p95)}, max ${ms(c.down.each.max)}`);
    for (const e of c.down.errors) out.push(`   down FAILED: ${e}`);
    const left = Object.entries(c.leftovers);
    const leaked = Object.entries(c.leftoversAfter5s);
    const failedBases = new Set(c.sandboxes.filter((x) => !x.ok).map((x) => idsOf(x.phases)));
    if (!left.length) out.push("   no process left in any sandbox's id range (ok and failed sandboxes) right after the downs");
    else {
      const fromFailed = left.filter(([b]) => failedBases.has(b)).length;
      out.push(`   right after the downs, processes in ${left.length} id range(s) (${fromFailed} of failed ups, ${left.length - fromFailed} of downed sandboxes): ${left.map(([b, pids]) => `${b}: ${pids.join(" ")}`).join("; ")}`);
      out.push(leaked.length ? `   FAIL: still there 5 s later: ${leaked.map(([b, pids]) => `${b}: ${pids.join(" ")}`).join("; ")}` : "   all gone within 5 s");
    }
    if (c.failureGroups.length) {
      out.push("   failures (grouped: sandbox name as <name>, digits as N; one exact text each):");
      for (const g of c.failureGroups) {
        out.push(`   - ${g.count} x ${g.pattern}`);
        out.push(`       e.g. "${g.example}"`);
        if (g.hint) out.push(`       hint: ${g.hint}`);
        out.push(`       last phase reported: ${Object.entries(g.lastPhase).map(([ph, n]) => `${ph} (${n})`).join(", ")}; failed after ${ms(g.msToFailure.min)}..${ms(g.msToFailure.max)} (median ${ms(g.msToFailure.median)})`);
      }
    }
    if (c.succeeded) {
      out.push("   where the time goes for the ok sandboxes (medians):");
      out.push(phaseLines(c.phases, c.succeeded));
      out.push(`     supervisor logged "ready" -> driver.up resolved: median ${ms(c.readyLagMs.median)}, max ${ms(c.readyLagMs.max)}`);
    }
    out.push(`   event-loop delay of this process while the ups ran: p50 ${ms(c.hostEventLoopDelay.p50)}, p99 ${ms(c.hostEventLoopDelay.p99)}, max ${ms(c.hostEventLoopDelay.max)} (driver.up's host side runs here)`);
  }
  out.push("");
  return out;
}

/** ms with a decimal below 10 ms, where rounding would hide the figure. */
const msFine = (v: number | null | undefined) => (v !== null && v !== undefined && v < 10 ? `${v.toFixed(1)} ms` : ms(v));

/** Section 5: the API server of one flagship sandbox. */
function apiSection(a: ApiResult): string[] {
  const out: string[] = [];
  const row = (what: string, x: Summary) => [what, msFine(x.median), msFine(x.p95), msFine(x.min), msFine(x.max), String(x.n)];
  out.push(`5. API server: sandbox ${a.sandbox} (up in ${ms(a.upMs)})${a.pods !== null ? `, ${a.pods} pods, the Table is ${((a.tableBytes ?? 0) / 1024).toFixed(1)} KiB` : ""}`);
  if (a.error) out.push(`   ${a.error === "interrupted" ? "INTERRUPTED" : `FAILED: ${a.error}`} (the figures below are what was measured before)`);
  const k = a.kubectl;
  const sv = a.server;
  if (k && sv) {
    out.push(`   kubectl get pods -A, ${a.runs} rounds (each variant once per round, in turn):`);
    out.push(table([
      ["", "median", "p95", "min", "max", "n"],
      row(`kubectl ${k.version}, end to end (discovery cached)`, k.warmMs),
      row("  kubectl version --client (start-up only, no request)", k.startupMs),
      row("  the GET as kubectl -v=6 logs it (TLS handshake included)", k.requestMs),
      row("Node, new TLS connection per request", sv.newConnectionMs),
      row("Node, kept-alive connection (server side)", sv.keepAliveMs),
    ], "     "));
    out.push(`     first kubectl run, empty discovery cache: ${ms(k.coldMs)}; it sends ${k.coldRequests.join(", ") || "(none logged)"}`);
    out.push(`     with the cache: ${k.warmRequests.join(", ") || "(none logged)"}`);
    out.push(`     kubectl end to end / server side: ${(k.warmMs.median / sv.keepAliveMs.median).toFixed(1)}x (medians); Node spawns kubectl, so process creation is included, as in a shell`);
  }
  for (const f of a.getPodsFailures) out.push(`   get pods FAILED: ${f}`);
  const w = a.watch;
  if (w) {
    out.push(`   watch fan-out: ${w.watchers} watchers on configmaps in default (HTTPS, admin certificate), ${w.events} ConfigMaps created one at a time;`);
    out.push(`   ms from sending the create until a watcher parsed its ADDED event (measured in this process, which parses all ${w.watchers} streams):`);
    out.push(table([
      ["", "median", "p95", "min", "max", "n"],
      row("per event, the last watcher", w.lastWatcherMs),
      row("per event, the first watcher", w.firstWatcherMs),
      row("every delivery", w.allDeliveriesMs),
      row("the create (POST round trip)", w.createMs),
    ], "     "));
    const c = w.close;
    out.push(`     ${w.complete ? `correct: every watcher got every ADDED event once, in order, and closed` : `FAIL: ${w.problems.length} problem(s)`}; the first event reached all ${w.watchers} after ${ms(w.openMs)}`);
    for (const p of w.problems.slice(0, 10)) out.push(`       - ${p}`);
    if (w.problems.length > 10) out.push(`       ... and ${w.problems.length - 10} more (see the JSON)`);
    out.push(`     closing: ${c.closed}/${w.watchers} closed in ${ms(c.ms)}; API server fds ${c.apiServerFds.before} before, ${c.apiServerFds.open} with the watchers, ${c.apiServerFds.after} after; relay socat processes ${c.relays.before} / ${c.relays.open} / ${c.relays.after}`);
  }
  if (a.memory.length) {
    out.push(`   memory of the API server process (pid ${a.memory[0]!.pid}, the bundled API server), /proc/<pid>/smaps_rollup:`);
    out.push(table([["", "PSS", "RSS", "private", "fds"], ...a.memory.map((x) => [x.when, mib(x.pssKb), mib(x.rssKb), mib(x.privateKb), String(x.fds)])], "     "));
    out.push("     private = pages no other process maps (what ending it would free); PSS adds its share of the node binary and libraries.");
  }
  return out;
}
