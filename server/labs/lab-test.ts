/**
 * `faultline lab test`: proves a lab solvable, the way CI needs it. For each of the lab's solutions, on a
 * fresh sandbox: provision, assert the starting state (every objective with `initiallyFailing` — the
 * default — must not pass, and none may stay "could not check" when asked again), run the solution's solve.sh as root on
 * the first control-plane node in ~/workspace (again in a new shell while it is killed by a
 * re-provisioning or the sandbox is being rebuilt, until it exits 0), then assert every objective passes
 * within the time limit, and tear down. The report says which objective did what, and when.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { Evaluator, type ObjectiveStatus } from "../checks/evaluator.js";
import { simCheckContext } from "../checks/sim-context.js";
import { FaultlineError, formatError } from "../errors.js";
import type { Logger } from "../log.js";
import type { SimDriver } from "../sandboxes/sim/driver.js";
import { loadLab, type Lab } from "./lab.js";
import { formatProblems } from "./cli.js";
import { nodeNames } from "./schema.js";

export interface LabTestOptions {
  driver: SimDriver;
  log: Logger;
  /** How long the objectives have to pass after solve.sh succeeded; default 120 s. */
  passTimeoutMs?: number;
  /** How long solve.sh may take (all re-runs together); default 300 s. */
  solveTimeoutMs?: number;
  /** Progress lines for a person watching. */
  say?: (line: string) => void;
}

export interface SolutionReport {
  solution: string;
  ok: boolean;
  /** What failed, in words; empty when ok. */
  failures: string[];
  initial: ObjectiveStatus[];
  final: ObjectiveStatus[];
  /** ms from solve.sh's success to each objective passing (absent: it never passed). */
  passedAfterMs: Record<string, number>;
  solveRuns: number;
  ms: number;
}

export interface LabTestReport {
  lab: string;
  ok: boolean;
  solutions: SolutionReport[];
  /** Set when the lab could not even be loaded or provisioned. */
  error?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function testLab(idOrDir: string, opts: LabTestOptions): Promise<LabTestReport> {
  const loaded = await loadLab(idOrDir);
  if (!loaded.ok) return { lab: idOrDir, ok: false, solutions: [], error: `the lab is invalid:\n${formatProblems(loaded.errors)}` };
  const lab = loaded.lab;
  const solutions: SolutionReport[] = [];
  for (const dir of lab.solutionDirs) solutions.push(await testSolution(lab, dir, opts));
  return { lab: lab.id, ok: solutions.every((s) => s.ok), solutions };
}

async function testSolution(lab: Lab, solutionDir: string, opts: LabTestOptions): Promise<SolutionReport> {
  const { driver } = opts;
  const say = opts.say ?? (() => {});
  const solution = path.relative(lab.dir, solutionDir) || solutionDir;
  const started = Date.now();
  const report: SolutionReport = { solution, ok: false, failures: [], initial: [], final: [], passedAfterMs: {}, solveRuns: 0, ms: 0 };
  const name = `labtest-${lab.id}-${Math.random().toString(36).slice(2, 7)}`.slice(0, 40);
  const script = await readFile(path.join(solutionDir, "solve.sh"), "utf8");
  const writeup = await readFile(path.join(solutionDir, "writeup.md"), "utf8").catch(() => null);
  let solved = false;
  const abort = new AbortController();
  let evaluator: Evaluator | null = null;
  try {
    say(`${lab.id} (${solution}): provisioning`);
    await driver.up({ lab: lab.dir, name });
    const context = simCheckContext(driver, name, { signal: abort.signal, writeup: () => (solved ? writeup : null) });
    evaluator = new Evaluator({ objectives: lab.objectives, context, pollMs: 1000, settleMs: [300, 1000] });
    report.initial = await evaluator.start();
    // "Could not check" says nothing about the lab: a probe's shell that started late on a busy host, an
    // API server still answering its first lists. It is asked again a few times before it counts.
    for (let again = 0; again < 3 && report.initial.some((s) => s.state === "error"); again++) {
      await sleep(2000);
      report.initial = await evaluator.evaluateNow();
    }
    for (const o of lab.objectives) {
      const s = report.initial.find((x) => x.objective === o.id)!;
      if (s.state === "error") report.failures.push(`${o.id}: could not check at the start: ${s.detail}`);
      else if (o.initiallyFailing && s.state === "pass") report.failures.push(`${o.id}: passes before anything was fixed (set initiallyFailing: false if that is intended)`);
    }
    say(`${lab.id} (${solution}): start state ${summary(report.initial)}; running solve.sh`);

    const cp = firstControlPlane(lab);
    const solveDeadline = Date.now() + (opts.solveTimeoutMs ?? 300_000);
    let last = "";
    let failures = 0;
    while (Date.now() < solveDeadline) {
      report.solveRuns++;
      let r;
      try {
        // Written to a file and executed, so its shebang (bash, usually) decides the interpreter.
        r = await driver.exec(name, `node/${cp}`, ["sh", "-c", "cat > /tmp/solve.sh && chmod +x /tmp/solve.sh && cd /root/workspace && exec /tmp/solve.sh"], {
          input: script,
          timeoutMs: Math.max(1000, solveDeadline - Date.now()),
        });
      } catch (e) {
        // the sandbox is being rebuilt (faultline-reprovision): try again in a moment
        last = formatError(e);
        await sleep(500);
        continue;
      }
      if (r.code === 0) {
        solved = true;
        break;
      }
      last = `exit ${r.code}: ${(r.stderr || r.stdout).trim().split("\n").slice(-3).join(" | ")}`;
      // 143/137: killed with its shell by a re-provisioning, which is expected; other failures get a few
      // more tries (a rebuild may be starting) and then count as the solution's own.
      if (r.code !== 143 && r.code !== 137 && ++failures >= 5) break;
      await sleep(r.code === 143 || r.code === 137 ? 500 : 2000);
    }
    if (!solved) {
      report.failures.push(`solve.sh did not succeed (${report.solveRuns} runs in ${Math.round((Date.now() - started) / 1000)} s; last: ${last})`);
      return report;
    }
    const solvedAt = Date.now();
    say(`${lab.id} (${solution}): solve.sh done after ${report.solveRuns} run(s); waiting for the objectives`);
    const passDeadline = solvedAt + (opts.passTimeoutMs ?? 120_000);
    for (;;) {
      // A rebuild replaced the cluster under the evaluator's watches: evaluate on demand, every second.
      const state = await evaluator.evaluateNow();
      for (const s of state) if (s.state === "pass" && report.passedAfterMs[s.objective] === undefined) report.passedAfterMs[s.objective] = Date.now() - solvedAt;
      report.final = state;
      if (state.every((s) => s.state === "pass") || Date.now() > passDeadline) break;
      await sleep(1000);
    }
    for (const s of report.final) {
      if (s.state !== "pass") report.failures.push(`${s.objective}: ${s.state === "error" ? "could not check" : "does not pass"} ${Math.round((opts.passTimeoutMs ?? 120_000) / 1000)} s after solve.sh: ${s.detail}`);
    }
    return report;
  } catch (e) {
    report.failures.push(formatError(e));
    return report;
  } finally {
    abort.abort();
    await evaluator?.stop().catch(() => {});
    await driver.down(name).catch((e: unknown) => opts.log.warn("lab_test.down_failed", { sandbox: name, error: formatError(e) }));
    report.ok = report.failures.length === 0;
    report.ms = Date.now() - started;
  }
}

function firstControlPlane(lab: Lab): string {
  const n = lab.cluster.nodes.find((x) => x.role === "control-plane");
  if (!n) throw new FaultlineError(`lab ${lab.id} has no control-plane node to run solve.sh on`, "give one node `role: control-plane`");
  return nodeNames(n)[0]!;
}

function summary(state: ObjectiveStatus[]): string {
  return state.map((s) => `${s.objective}=${s.state}`).join(", ");
}

/** The readable report `faultline lab test` prints. */
export function formatLabTestReport(r: LabTestReport): string {
  const lines: string[] = [];
  lines.push(`${r.ok ? "PASS" : "FAIL"} ${r.lab}`);
  if (r.error) lines.push(...r.error.split("\n").map((l) => `  ${l}`));
  for (const s of r.solutions) {
    lines.push(`  ${s.ok ? "ok  " : "FAIL"} ${s.solution} (${(s.ms / 1000).toFixed(1)} s, solve.sh ran ${s.solveRuns}x)`);
    for (const o of s.final.length ? s.final : s.initial) {
      const start = s.initial.find((x) => x.objective === o.objective)?.state ?? "-";
      const after = s.passedAfterMs[o.objective];
      lines.push(`       ${o.objective}: start ${start}, end ${o.state}${after !== undefined ? ` (${(after / 1000).toFixed(1)} s after solve.sh)` : ""}`);
    }
    for (const f of s.failures) lines.push(`       ✗ ${f}`);
  }
  return lines.join("\n");
}
