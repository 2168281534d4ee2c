/**
 * The benchmark's sandboxes: a private data directory, every sandbox it creates, and a cleanup that
 * leaves nothing behind, whether the run ends normally, fails, or is interrupted (Ctrl-C).
 */
import { killProcessGroup } from "../server/proc.js";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLogger } from "../server/log.js";
import { SimDriver, type Phase } from "../server/sandboxes/sim/driver.js";
import type { SandboxMeta } from "../server/sandboxes/sim/layout.js";
import { IDS_PER_SANDBOX } from "../server/sandboxes/sim/preflight.js";
import type { ClusterPlan } from "../server/sim/plan.js";
import { ourChildren, scanProcesses } from "./procs.js";

/** Thrown into the benchmark's flow once it is interrupted. */
export class Aborted extends Error {
  constructor() {
    super("interrupted");
  }
}

export interface UpRecord {
  name: string;
  ok: boolean;
  /** Wall time from the driver.up call until it resolved or rejected. */
  ms: number;
  /** Date.now() at the driver.up call. */
  startedEpochMs: number;
  /** As onPhase reported them: `ms` is when the host received each report, after the up() call. */
  phases: Phase[];
  /** From the "prepare" phase, so the ids of a failed sandbox are known too. */
  uidBase: number | null;
  meta?: SandboxMeta;
  plan?: ClusterPlan;
  error?: string;
  hint?: string;
}

export interface CleanupReport {
  downed: string[];
  downErrors: string[];
  killedUnshare: number[];
  killedLeftovers: number[];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class BenchSession {
  readonly dataDir: string;
  readonly driver: SimDriver;
  /** Every name passed to driver.up, in order. */
  readonly attempted: string[] = [];
  /** driver.up calls that have not settled yet (awaited, bounded, by cleanup). */
  private readonly inflight = new Set<Promise<unknown>>();
  /** uid bases of every sandbox seen, for the leftover sweep. */
  private readonly uidBases = new Set<number>();
  private abortReject: ((e: Aborted) => void) | null = null;
  /** Settles (rejects) when the run is interrupted; every wait in the flow races against it. */
  readonly abortSignal: Promise<never>;
  aborted = false;
  private cleaning: Promise<CleanupReport> | null = null;

  constructor(private readonly note: (msg: string) => void = () => {}) {
    // Sandboxes run as unprivileged ids, so the data dir must be traversable by them (as in the tests).
    this.dataDir = mkdtempSync(path.join(tmpdir(), "faultline-bench-"));
    chmodSync(this.dataDir, 0o711);
    this.driver = new SimDriver(this.dataDir, createLogger({ bench: true }, { level: "warn" }));
    this.abortSignal = new Promise<never>((_, reject) => (this.abortReject = reject));
    this.abortSignal.catch(() => {});
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.abortReject?.(new Aborted());
  }

  check(): void {
    if (this.aborted) throw new Aborted();
  }

  /** One driver.up, timed, never throwing: failures come back as records with the exact message. */
  async up(lab: string, name: string, timeoutMs: number): Promise<UpRecord> {
    this.check();
    this.attempted.push(name);
    const rec: UpRecord = { name, ok: false, ms: 0, startedEpochMs: Date.now(), phases: [], uidBase: null };
    const started = performance.now();
    const call = this.driver.up({
      lab,
      name,
      onPhase: (p) => {
        rec.phases.push(p);
        const ids = p.phase === "prepare" ? /ids (\d+)-/.exec(p.detail ?? "") : null;
        if (ids) this.uidBases.add((rec.uidBase = Number(ids[1])));
      },
    });
    this.inflight.add(call);
    void call.catch(() => {}).finally(() => this.inflight.delete(call));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer from driver.up within ${timeoutMs / 1000} s (the driver has no timeout of its own)`)), timeoutMs);
    });
    try {
      const r = await Promise.race([call, timeout, this.abortSignal]);
      rec.ms = performance.now() - started;
      rec.ok = true;
      rec.meta = r.meta;
      rec.plan = r.plan;
      this.uidBases.add(r.meta.uidBase);
    } catch (e) {
      if (e instanceof Aborted) throw e;
      rec.ms = performance.now() - started;
      rec.error = e instanceof Error ? e.message : String(e);
      const hint = (e as { hint?: unknown }).hint;
      if (typeof hint === "string") rec.hint = hint;
    } finally {
      clearTimeout(timer);
    }
    return rec;
  }

  /**
   * The supervisor's own record of its phases (supervisor.log, JSON lines with a wall-clock `time`), as
   * ms after the up() call: when each event was written, as opposed to when the host read it. Only
   * while the sandbox exists (a failed up removes its folder). The final "ready" is the ready event.
   */
  supervisorTimeline(rec: UpRecord): Array<{ phase: string; ms: number }> {
    let text = "";
    try {
      text = readFileSync(this.driver.paths(rec.name).log, "utf8");
    } catch {
      return [];
    }
    const out: Array<{ phase: string; ms: number }> = [];
    for (const line of text.split("\n")) {
      try {
        const ev = JSON.parse(line) as { event?: string; type?: string; phase?: string; time?: string };
        if (ev.event !== "supervisor.event" || !ev.time) continue;
        const phase = ev.type === "phase" ? ev.phase : ev.type === "ready" ? "ready" : null;
        if (phase) out.push({ phase, ms: Date.parse(ev.time) - rec.startedEpochMs });
      } catch {
        /* not JSON */
      }
    }
    return out;
  }

  /** Host pids left in the id ranges of our sandboxes (one /proc pass). */
  leftovers(bases: Iterable<number> = this.uidBases): Map<number, number[]> {
    const want = [...bases];
    const out = new Map<number, number[]>();
    for (const p of scanProcesses()) {
      const base = want.find((b) => p.uid >= b && p.uid < b + IDS_PER_SANDBOX);
      if (base !== undefined) out.set(base, [...(out.get(base) ?? []), p.pid]);
    }
    return out;
  }

  /**
   * Idempotent. Lets driver.up calls still running settle (30 s at most), downs every sandbox we
   * created, kills any `unshare` we still parent (a sandbox whose up never returned), kills processes
   * left in our sandboxes' id ranges, and removes the data directory.
   */
  cleanup(): Promise<CleanupReport> {
    this.cleaning ??= this.doCleanup();
    return this.cleaning;
  }

  /**
   * Last resort on a second Ctrl-C, synchronous: kill every sandbox namespace we hold (killing an
   * `unshare` ends its sandbox's pid namespace) and remove the data directory. Returns false if the
   * data directory could not be removed.
   */
  forceKill(): boolean {
    for (const c of ourChildren()) if (c.comm === "unshare" && !c.zombie) killProcessGroup(c.pid);
    try {
      rmSync(this.dataDir, { recursive: true, force: true });
      return true;
    } catch {
      return false;
    }
  }

  private async doCleanup(): Promise<CleanupReport> {
    this.aborted = true;
    const report: CleanupReport = { downed: [], downErrors: [], killedUnshare: [], killedLeftovers: [] };
    if (this.inflight.size) {
      const n = this.inflight.size;
      const t = Date.now();
      const settled = await Promise.race([Promise.allSettled([...this.inflight]).then(() => true), sleep(30_000).then(() => false)]);
      this.note(`${n} driver.up call(s) in flight ${settled ? `settled in ${Date.now() - t} ms` : "did not settle within 30 s"}`);
    }
    const names = new Set([...this.attempted, ...this.driver.list().map((s) => s.name)]);
    await Promise.all(
      [...names]
        .filter((n) => existsSync(this.driver.paths(n).root))
        .map((n) =>
          this.driver.down(n).then(
            () => void report.downed.push(n),
            (e: unknown) => void report.downErrors.push(`${n}: ${e instanceof Error ? e.message : String(e)}`),
          ),
        ),
    );
    for (const c of ourChildren()) {
      if (c.comm !== "unshare" || c.zombie) continue;
      killProcessGroup(c.pid);
      report.killedUnshare.push(c.pid);
    }
    // A pid namespace whose init was just killed takes a moment to empty.
    const end = Date.now() + 5000;
    while (this.leftovers().size && Date.now() < end) await sleep(100);
    for (const pids of this.leftovers().values()) {
      for (const pid of pids) {
        try {
          process.kill(pid, "SIGKILL");
          report.killedLeftovers.push(pid);
        } catch {
          /* gone */
        }
      }
    }
    rmSync(this.dataDir, { recursive: true, force: true });
    return report;
  }
}

