/**
 * The live evaluator (server/checks/evaluator.ts) on flagship sandboxes (webhook-to-kernel):
 *
 *  1. flip latency: from a fixing command returning (driver.exec in node/cp-1) to the objective's
 *     transition, median over `--flips` (20) for each of
 *     - kube: `kubectl create configmap` -> a kube check passes (watch event);
 *     - file: `sed -i` in ~/workspace -> a file check passes (fs.watch);
 *     - probe: `kubectl delete networkpolicy` (a default deny) -> a tcp probe passes (watch event,
 *       then the settle re-run once Felix has removed the rules);
 *  2. CPU: `--evaluators` (50) evaluators, the flagship's objectives and hints each, spread over
 *     `--sandboxes` (default 50, fewer when the machine lacks memory) idle sandboxes:
 *     process.cpuUsage() of this process over `--seconds` (60) after `--warmup` (60) s (50 evaluators
 *     starting at once on 50 sandboxes take that long to settle on 2 cores), as a share of one core;
 *     also the CPU of the commands the checks run (the sandbox shells and what they run, from /proc),
 *     which is not the evaluator's but the checks' cost on the host.
 * Goals (reported, not enforced): flip <= 1 s (median), evaluator CPU <= 5 % of one core.
 *
 * Usage: node dist/bench/evaluator.js [--flips N] [--evaluators N] [--sandboxes N] [--seconds N]
 *        [--warmup N] [--skip-flips] [--skip-cpu] [--json]
 * Needs what `faultline sandbox up` needs. Every sandbox is brought down at the end, also on Ctrl-C.
 */
import os from "node:os";
import { parseArgs } from "node:util";
import { Evaluator, type TimelineEvent, type Transition } from "../server/checks/evaluator.js";
import { objectiveSchema } from "../server/checks/schema.js";
import { simCheckContext } from "../server/checks/sim-context.js";
import type { CheckContext } from "../server/checks/types.js";
import { loadLab, type Lab } from "../server/labs/lab.js";
import { memAvailableKb, procCpu, scanProcesses } from "./procs.js";
import { BenchSession } from "./session.js";
import { summarize, type Summary } from "./stats.js";

const LAB = "webhook-to-kernel";
const GOAL_FLIP_MS = 1000;
const GOAL_CPU_PERCENT = 5;
/** Memory a flagship sandbox needs with its API server and agents, with a margin (PSS ~90-130 MiB). */
const SANDBOX_BUDGET_KB = 300 * 1024;

const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));


/** Resolves with the first transition of `objective` to `to` from events[from] on (rejects after `ms`). */
function transitionTo(events: TimelineEvent[], objective: string, to: Transition["to"], ms: number, from = events.length): Promise<Transition> {
  const end = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const look = () => {
      const hit = events.slice(from).find((e): e is Transition => e.type === "transition" && e.objective === objective && e.to === to);
      if (hit) return resolve(hit);
      if (Date.now() > end) return reject(new Error(`${objective} did not turn ${to} within ${ms} ms`));
      setTimeout(look, 5);
    };
    look();
  });
}

interface FlipSeries {
  what: string;
  command: string;
  /** ms from the command returning to the transition. */
  afterReturn: Summary;
  /** ms from the command starting to the transition (includes the command itself, e.g. kubectl's start-up). */
  afterStart: Summary;
}

async function flips(s: BenchSession, n: number): Promise<FlipSeries[]> {
  const name = "evb-flip";
  const up = await s.up(LAB, name, 120_000);
  if (!up.ok) throw new Error(`sandbox up: ${up.error}`);
  const d = s.driver;
  const sh = (cmd: string) => d.exec(name, "node/cp-1", ["sh", "-c", cmd], { timeoutMs: 30_000 });
  const vars = "/root/workspace/inventory/mycluster/group_vars/k8s_cluster/k8s-cluster.yml";
  const deny = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny-all, namespace: default}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n";
  const objectives = [
    { id: "cm", title: "ConfigMap bench exists", check: { kube: { apiVersion: "v1", kind: "ConfigMap", namespace: "default", name: "bench", absent: false } } },
    { id: "file", title: "prefix fixed", check: { file: { path: "inventory/mycluster/group_vars/k8s_cluster/k8s-cluster.yml", yaml: "kube_network_node_prefix", equals: 25, exists: true } } },
    { id: "probe", title: "hello-world reachable", check: { probe: { from: "node/worker-1", to: "svc/default/hello-world", port: 80, expect: "open", timeout: 1000, path: "/" } } },
  ] as const;
  const events: TimelineEvent[] = [];
  const context = simCheckContext(d, name);
  const ev = new Evaluator({ objectives: objectives.map((o) => objectiveSchema.parse(o)), context, onEvent: (e) => events.push(e) });
  await ev.start();
  const series: FlipSeries[] = [];
  const measure = async (what: string, command: string, objective: string, fix: () => Promise<unknown>, unfix: () => Promise<unknown>) => {
    const afterReturn: number[] = [];
    const afterStart: number[] = [];
    for (let i = 0; i < n; i++) {
      s.check();
      const mark = events.length;
      await unfix();
      if (ev.state().find((o) => o.objective === objective)?.state !== "fail") await transitionTo(events, objective, "fail", 30_000, mark);
      await sleep(300);
      const passed = transitionTo(events, objective, "pass", 30_000);
      const started = Date.now();
      await fix();
      const returned = Date.now();
      const t = await passed;
      afterReturn.push(t.at - returned);
      afterStart.push(t.at - started);
    }
    series.push({ what, command, afterReturn: summarize(afterReturn), afterStart: summarize(afterStart) });
    log(`${what}: median ${summarize(afterReturn).median} ms after the command returned`);
  };
  try {
    await measure("kube (watch)", "kubectl create configmap bench", "cm", () => sh("kubectl create configmap bench"), () => sh("kubectl delete configmap bench --ignore-not-found"));
    await measure("file (fs.watch)", "sed -i (fix the variable's name)", "file",
      () => sh(`sed -i 's/^kube_network_nodes_prefix:/kube_network_node_prefix:/' ${vars}`),
      () => sh(`sed -i 's/^kube_network_node_prefix:/kube_network_nodes_prefix:/' ${vars}`));
    await measure("probe (watch + settle)", "kubectl delete networkpolicy deny-all", "probe",
      () => sh("kubectl delete networkpolicy deny-all"),
      () => d.exec(name, "node/cp-1", ["kubectl", "apply", "-f", "-"], { input: deny, timeoutMs: 30_000 }));
  } finally {
    await ev.stop();
    context.close?.();
  }
  return series;
}

interface CpuResult {
  evaluators: number;
  sandboxes: number;
  sandboxesRequested: number;
  seconds: number;
  selfPercent: number;
  childrenPercent: number;
  /** Commands run in sandboxes during the measurement (probes). */
  commands: number;
  /** Objective transitions during the measurement: none on idle sandboxes, unless the host is so busy that checks time out ("could not check") and recover. */
  transitions: number;
  upFailures: string[];
}

/** utime, stime, cutime, cstime of /proc/<pid>/stat, in ms. */
function statCpu(pid: number | "self"): { own: number; reaped: number } {
  const c = procCpu(pid);
  return { own: c.ownMs, reaped: c.reapedMs };
}

/**
 * CPU of the check commands, in ms: the sandbox shells the checks run their commands in (our children
 * `nsenter ... sh`; not the sandboxes themselves, which descend from us too, nor their API relays) with
 * everything below them, plus children we reaped. Across an interval the difference counts each
 * process's CPU once (a process that ends is then in its parent's reaped time).
 */
function shellsCpuMs(): number {
  const procs = scanProcesses();
  const kids = new Map<number, number[]>();
  for (const p of procs) kids.set(p.ppid, [...(kids.get(p.ppid) ?? []), p.pid]);
  let total = statCpu("self").reaped;
  const todo = procs.filter((p) => p.ppid === process.pid && p.name === "nsenter" && !p.cmdline.includes("socat")).map((p) => p.pid);
  for (let pid = todo.pop(); pid !== undefined; pid = todo.pop()) {
    try {
      const c = statCpu(pid);
      total += c.own + c.reaped;
    } catch {
      /* exited meanwhile */
    }
    todo.push(...(kids.get(pid) ?? []));
  }
  return total;
}

async function cpu(s: BenchSession, opts: { evaluators: number; sandboxes: number; seconds: number; warmup: number }): Promise<CpuResult> {
  const { objectives, hints } = await flagship();
  const names = Array.from({ length: opts.sandboxes }, (_, i) => `evb-${i}`);
  log(`bringing up ${names.length} sandboxes`);
  const ups = await Promise.all(names.map((n) => s.up(LAB, n, 600_000)));
  const ok = ups.filter((u) => u.ok).map((u) => u.name);
  const upFailures = ups.filter((u) => !u.ok).map((u) => `${u.name}: ${u.error}`);
  if (ok.length === 0) throw new Error(`no sandbox came up: ${upFailures[0]}`);
  log(`${ok.length} up; starting ${opts.evaluators} evaluators`);
  let commands = 0;
  let transitions = 0;
  const contexts: CheckContext[] = [];
  const evs = Array.from({ length: opts.evaluators }, (_, i) => {
    const ctx = simCheckContext(s.driver, ok[i % ok.length]!, { writeup: () => null });
    contexts.push(ctx);
    const counted = Object.create(ctx, { exec: { value: (...a: Parameters<typeof ctx.exec>) => (commands++, ctx.exec(...a)) } }) as typeof ctx;
    return new Evaluator({ objectives, hints, context: counted, onEvent: (e) => void (e.type === "transition" && transitions++) });
  });
  try {
    await Promise.all(evs.map((e) => e.start()));
    await sleep(opts.warmup * 1000);
    s.check();
    commands = 0;
    transitions = 0;
    const c0 = process.cpuUsage();
    const ch0 = shellsCpuMs();
    const t0 = performance.now();
    await Promise.race([sleep(opts.seconds * 1000), s.abortSignal]);
    const c = process.cpuUsage(c0);
    const wall = performance.now() - t0;
    const ch = shellsCpuMs() - ch0;
    return {
      evaluators: opts.evaluators,
      sandboxes: ok.length,
      sandboxesRequested: opts.sandboxes,
      seconds: wall / 1000,
      selfPercent: ((c.user + c.system) / 1000 / wall) * 100,
      childrenPercent: (ch / wall) * 100,
      commands,
      transitions,
      upFailures,
    };
  } finally {
    await Promise.all(evs.map((e) => e.stop()));
    for (const c of contexts) c.close?.();
  }
}

/** The flagship's objectives and hints, from its lab file. */
async function flagship(): Promise<Pick<Lab, "objectives" | "hints">> {
  const loaded = await loadLab(LAB);
  if (!loaded.ok) throw new Error(`lab ${LAB} is invalid: ${loaded.errors.map((e) => e.message).join("; ")}`);
  return loaded.lab;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      flips: { type: "string", default: "20" },
      evaluators: { type: "string", default: "50" },
      sandboxes: { type: "string" },
      seconds: { type: "string", default: "60" },
      warmup: { type: "string", default: "60" },
      "skip-flips": { type: "boolean", default: false },
      "skip-cpu": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
    },
    strict: true,
  });
  const evaluators = Number(values.evaluators);
  const fit = Math.max(1, Math.floor(memAvailableKb() / SANDBOX_BUDGET_KB));
  const sandboxes = Math.min(Number(values.sandboxes ?? evaluators), values.sandboxes ? Infinity : fit);
  if (!values.sandboxes && sandboxes < evaluators) log(`memory allows ${fit} sandboxes: ${evaluators} evaluators share ${sandboxes}`);

  const s = new BenchSession(log);
  let interrupts = 0;
  process.on("SIGINT", () => {
    if (++interrupts > 1) process.exit(s.forceKill() ? 130 : 1);
    log("interrupted: cleaning up (Ctrl-C again to kill at once)");
    s.abort();
  });
  const result: { machine: Record<string, unknown>; flips?: FlipSeries[]; cpu?: CpuResult } = {
    machine: { cores: os.cpus().length, memAvailableMiB: Math.round(memAvailableKb() / 1024), loadavg: os.loadavg(), node: process.version },
  };
  try {
    if (!values["skip-flips"]) result.flips = await flips(s, Number(values.flips));
    if (!values["skip-cpu"]) result.cpu = await cpu(s, { evaluators, sandboxes, seconds: Number(values.seconds), warmup: Number(values.warmup) });
  } finally {
    const report = await s.cleanup();
    if (report.downErrors.length) log(`down errors: ${report.downErrors.join("; ")}`);
  }
  result.machine.loadavgEnd = os.loadavg();
  if (values.json) {
    process.stdout.write(JSON.stringify(result, null, 2) + "\n");
    return;
  }
  const lines: string[] = [];
  for (const f of result.flips ?? []) {
    const ok = f.afterReturn.median <= GOAL_FLIP_MS ? "ok" : "MISSED";
    lines.push(`flip ${f.what.padEnd(24)} median ${f.afterReturn.median.toFixed(0).padStart(5)} ms, p95 ${f.afterReturn.p95.toFixed(0).padStart(5)} ms, max ${f.afterReturn.max.toFixed(0).padStart(5)} ms after \`${f.command}\` returned (median ${f.afterStart.median.toFixed(0)} ms from its start; n=${f.afterReturn.n}) [goal <= ${GOAL_FLIP_MS} ms: ${ok}]`);
  }
  if (result.cpu) {
    const c = result.cpu;
    const ok = c.selfPercent <= GOAL_CPU_PERCENT ? "ok" : "MISSED";
    lines.push(`cpu  ${c.evaluators} evaluators on ${c.sandboxes} idle sandboxes (${c.sandboxesRequested} requested), ${c.seconds.toFixed(0)} s: evaluator process ${c.selfPercent.toFixed(2)} % of one core [goal <= ${GOAL_CPU_PERCENT} %: ${ok}]; the ${c.commands} commands the checks ran, in the sandbox shells (not this process): ${c.childrenPercent.toFixed(2)} %; ${c.transitions} transitions meanwhile`);
    if (c.upFailures.length) lines.push(`     ${c.upFailures.length} sandboxes failed to come up: ${c.upFailures.slice(0, 3).join("; ")}`);
  }
  lines.push(`machine: ${String(result.machine.cores)} cores, load ${(result.machine.loadavg as number[]).map((x) => x.toFixed(1)).join(" ")} -> ${(result.machine.loadavgEnd as number[]).map((x) => x.toFixed(1)).join(" ")}`);
  process.stdout.write(lines.join("\n") + "\n");
}

main().catch((e: unknown) => {
  log(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exitCode = 1;
});
