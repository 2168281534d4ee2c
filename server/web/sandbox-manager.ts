/**
 * The SandboxManager: attempts (in the store) and their sandboxes (through the driver).
 *
 *  - One open attempt, and so at most one live sandbox, per trainee per lab; starting a lab again
 *    returns the open attempt, re-provisioning its sandbox if it has none.
 *  - Quotas: live sandboxes per user and in all, checked and reserved before any await, so two
 *    requests at once cannot both take the last place. Full: `QuotaError` (HTTP 429, code "quota").
 *  - Provisioning runs in the background; its phases (the driver's onPhase) are kept per attempt for
 *    the progress bar and announced to listeners (socket.io, next).
 *  - Idle sandboxes are reaped after the idle timeout: the attempt stays open (`suspended`) and the
 *    trainee re-provisions it. Reset = down + up under the same name, same attempt. Stop ends it.
 *  - At start-up (`init`): dead sandboxes removed (driver gc), live sandboxes of running attempts
 *    adopted (a server restart does not cost the trainee the cluster), other open attempts suspended,
 *    and server sandboxes (`att-…`) no open attempt owns removed as orphans. Sandboxes made with the
 *    CLI in the same data directory are not the server's and are left alone.
 *  - Live grading (grading.ts): every running sandbox has its attempt's evaluator. It starts when the
 *    sandbox is ready (provisioned, reset, re-provisioned, adopted) and stops before the sandbox is
 *    removed (stop, reset, reaping) and when the manager closes; its objective changes are announced
 *    to listeners like phases and states.
 *
 * Every operation on one attempt is serialized (per trainee and lab), so a stop during provisioning
 * waits for the sandbox to come up, then takes it down.
 */
import type { ObjectiveView } from "../../shared/protocol.js";
import { FaultlineError } from "../errors.js";
import type { Logger } from "../log.js";
import type { Phase, SandboxStatus } from "../sandboxes/sim/driver.js";
import type { Attempt, AttemptState, Store } from "../store/index.js";
import { Grading, type GradingSource } from "./grading.js";

/** What the manager needs of a driver (SimDriver has it; kind and terraform drivers will). */
export interface SandboxDriver {
  up(opts: { lab: string; name: string; onPhase?: (p: Phase) => void }): Promise<unknown>;
  down(name: string): Promise<void>;
  list(): SandboxStatus[];
  isAlive(name: string): boolean;
  gc(): Promise<string[]>;
  ready(name: string): { agents: Record<string, number> };
}

export interface ManagerOptions {
  maxSandboxes: number;
  maxSandboxesPerUser: number;
  idleTimeoutMs: number;
  /** How often idle sandboxes are looked for; default a quarter of the idle timeout, at most a minute. */
  reapIntervalMs?: number;
  now?: () => Date;
}

/** A live sandbox's progress: the phases so far and, once a sandbox of the lab came up, the phases to expect. */
export interface Progress {
  phases: Phase[];
  expected: string[] | null;
}

export type ManagerEvent =
  | { type: "phase"; attemptId: string; userId: string; phase: Phase }
  | { type: "state"; attemptId: string; userId: string; state: AttemptState; error: string | null }
  | { type: "objectives"; attemptId: string; userId: string; objectives: ObjectiveView[] };

export class QuotaError extends FaultlineError {
  readonly status = 429;
  readonly code = "quota";
}

export class AttemptError extends FaultlineError {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    hint?: string,
  ) {
    super(message, hint);
  }
}

/** Sandboxes the server made are named `att-<attempt id>` (store.sandboxNameOf). */
const SERVER_SANDBOX = /^att-[0-9a-f]{24}$/;

interface Live {
  attemptId: string;
  userId: string;
  labId: string;
  name: string;
  state: "provisioning" | "running";
  lastActive: number;
}

export class SandboxManager {
  private readonly live = new Map<string, Live>();
  private readonly phases = new Map<string, Phase[]>();
  private readonly expected = new Map<string, string[]>();
  /** Places taken by starts still between their quota check and their attempt row. */
  private readonly reserved = new Map<string, number>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly background = new Set<Promise<void>>();
  private readonly listeners = new Set<(e: ManagerEvent) => void>();
  private readonly now: () => Date;
  private reaper: NodeJS.Timeout | null = null;
  /** The running sandboxes' evaluators. */
  readonly grading: Grading;

  constructor(
    private readonly store: Store,
    private readonly driver: SandboxDriver,
    /** The folder of a lab by id (the driver provisions from it); undefined for an unknown lab. */
    private readonly labDir: (labId: string) => string | undefined,
    private readonly log: Logger,
    readonly opts: ManagerOptions,
    /** The labs' objectives and the checks' view of a sandbox, for live grading. */
    grading: GradingSource,
  ) {
    this.now = opts.now ?? (() => new Date());
    this.grading = new Grading({
      ...grading,
      store,
      log: log.child({ component: "grading" }),
      now: this.now,
      onChange: (a, objectives) => this.emit({ type: "objectives", attemptId: a.id, userId: a.userId, objectives }),
    });
  }

  /** Start-up: clean up, adopt what still runs, then reap idle sandboxes on a timer. */
  async init(): Promise<void> {
    const dead = await this.driver.gc();
    if (dead.length) this.log.info("sandboxes.gc", { removed: dead });
    const at = this.iso();
    for (const a of await this.store.openAttempts()) {
      if (a.state === "running" && this.driver.isAlive(a.sandboxName)) {
        this.live.set(a.id, { attemptId: a.id, userId: a.userId, labId: a.labId, name: a.sandboxName, state: "running", lastActive: Date.now() });
        this.log.info("attempt.adopted", { attempt: a.id, sandbox: a.sandboxName });
        await this.grading.start(a.id);
        continue;
      }
      if (a.state === "suspended") continue;
      await this.removeSandbox(a.sandboxName);
      await this.store.updateAttempt(a.id, { state: "suspended" });
      await this.store.addAttemptEvent({ attemptId: a.id, kind: "interrupted", detail: "the server restarted; start the lab again to get a new sandbox", at });
    }
    const owned = new Set([...this.live.values()].map((l) => l.name));
    for (const s of this.driver.list()) {
      if (SERVER_SANDBOX.test(s.name) && !owned.has(s.name)) {
        await this.removeSandbox(s.name);
        this.log.info("sandbox.orphan_removed", { sandbox: s.name });
      }
    }
    const every = this.opts.reapIntervalMs ?? Math.min(60_000, Math.max(1000, Math.floor(this.opts.idleTimeoutMs / 4)));
    this.reaper = setInterval(() => void this.reapIdle(), every);
    this.reaper.unref();
  }

  /**
   * Stops the reaper, waits for operations in flight, then stops every evaluator. Sandboxes keep
   * running (adopted, and graded again, at the next start).
   */
  async close(): Promise<void> {
    if (this.reaper) clearInterval(this.reaper);
    this.reaper = null;
    await Promise.allSettled([...this.background, ...this.locks.values()]);
    await this.grading.closeAll();
  }

  /** Listens to phases, state changes and objective changes; returns the function that stops listening. */
  subscribe(fn: (e: ManagerEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Live sandboxes: in all, and of one user. */
  usage(userId?: string): number {
    let n = 0;
    for (const l of this.live.values()) if (!userId || l.userId === userId) n++;
    for (const [u, k] of this.reserved) if (!userId || u === userId) n += k;
    return n;
  }

  progress(attemptId: string): Progress {
    const live = this.live.get(attemptId);
    return { phases: [...(this.phases.get(attemptId) ?? [])], expected: live ? (this.expected.get(live.labId) ?? null) : null };
  }

  /** The terminals' targets of a running attempt (node/..., pod/...), sorted; empty otherwise. */
  targets(attemptId: string): string[] {
    const live = this.live.get(attemptId);
    if (live?.state !== "running") return [];
    try {
      return Object.keys(this.driver.ready(live.name).agents).sort();
    } catch {
      return [];
    }
  }

  /** The sandbox name of a running attempt (for terminals), or null. */
  runningSandbox(attemptId: string): string | null {
    const live = this.live.get(attemptId);
    return live?.state === "running" ? live.name : null;
  }

  /** Activity on an attempt (terminal input, API actions) postpones its idle reaping. */
  touch(attemptId: string): void {
    const live = this.live.get(attemptId);
    if (live) live.lastActive = Date.now();
  }

  /**
   * Starts `labId` for `userId`: the open attempt if there is one (re-provisioned when it has no
   * sandbox), else a new attempt. Returns at once; provisioning goes on in the background.
   */
  start(userId: string, labId: string): Promise<{ attempt: Attempt; created: boolean }> {
    const dir = this.labDir(labId);
    if (!dir) return Promise.reject(new AttemptError(404, "not_found", `no lab "${labId}"`, "GET /api/labs lists the labs"));
    return this.serialized(userId, labId, async () => {
      const open = await this.store.openAttempt(userId, labId);
      if (open && this.live.has(open.id)) return { attempt: open, created: false };
      this.reserve(userId);
      let attempt: Attempt;
      try {
        if (open) {
          attempt = (await this.store.updateAttempt(open.id, { state: "provisioning", error: null }))!;
          await this.event(attempt.id, "reprovisioned");
        } else {
          attempt = await this.store.createAttempt({ userId, labId, at: this.iso(), state: "provisioning" });
          await this.event(attempt.id, "started");
        }
      } finally {
        this.unreserve(userId);
      }
      this.provision(this.goLive(attempt), dir);
      return { attempt, created: !open };
    });
  }

  /** Down + up under the same name; the attempt and its timeline stay. */
  reset(attempt: Attempt): Promise<Attempt> {
    const dir = this.labDir(attempt.labId);
    if (!dir) return Promise.reject(new AttemptError(409, "conflict", `the lab "${attempt.labId}" is no longer offered`));
    return this.serialized(attempt.userId, attempt.labId, async () => {
      const current = (await this.store.attemptById(attempt.id))!;
      if (current.endedAt) throw new AttemptError(409, "conflict", "this attempt has been stopped", "start the lab again for a new attempt");
      let live = this.live.get(current.id);
      if (live?.state === "provisioning") throw new AttemptError(409, "conflict", "the sandbox is still being provisioned", "wait until it is ready, then reset");
      if (!live) {
        this.reserve(current.userId);
        live = this.goLive(current);
        this.unreserve(current.userId);
      }
      const updated = (await this.store.updateAttempt(current.id, { state: "provisioning", error: null }))!;
      await this.event(current.id, "reset");
      this.provision(live, dir);
      return updated;
    });
  }

  /** Ends the attempt and removes its sandbox (after any provisioning in flight). Stopping twice is harmless. */
  stop(attempt: Attempt, by: string): Promise<Attempt> {
    return this.serialized(attempt.userId, attempt.labId, async () => {
      const current = (await this.store.attemptById(attempt.id))!;
      if (current.endedAt) return current;
      await this.settle(current.id);
      await this.grading.stop(current.id);
      await this.removeSandbox(current.sandboxName);
      this.live.delete(current.id);
      this.phases.delete(current.id);
      const updated = (await this.store.updateAttempt(current.id, { state: "stopped", endedAt: this.iso() }))!;
      await this.event(current.id, "stopped", by);
      this.emit({ type: "state", attemptId: current.id, userId: current.userId, state: "stopped", error: null });
      return updated;
    });
  }

  /** Suspends running attempts idle longer than the idle timeout. */
  async reapIdle(): Promise<void> {
    const cutoff = Date.now() - this.opts.idleTimeoutMs;
    for (const live of [...this.live.values()]) {
      if (live.state !== "running" || live.lastActive > cutoff) continue;
      await this.serialized(live.userId, live.labId, async () => {
        if (this.live.get(live.attemptId) !== live || live.state !== "running" || live.lastActive > cutoff) return;
        await this.grading.stop(live.attemptId);
        await this.removeSandbox(live.name);
        this.live.delete(live.attemptId);
        await this.store.updateAttempt(live.attemptId, { state: "suspended" });
        await this.event(live.attemptId, "reaped", `idle for more than ${Math.round(this.opts.idleTimeoutMs / 60_000)} min; start the lab again to get a new sandbox`);
        this.emit({ type: "state", attemptId: live.attemptId, userId: live.userId, state: "suspended", error: null });
        this.log.info("attempt.reaped", { attempt: live.attemptId, sandbox: live.name });
      }).catch((e: unknown) => this.log.error("attempt.reap_failed", { attempt: live.attemptId, error: e }));
    }
  }

  private iso(): string {
    return this.now().toISOString();
  }

  private emit(e: ManagerEvent): void {
    for (const fn of this.listeners) {
      try {
        fn(e);
      } catch (err) {
        this.log.error("manager.listener_failed", { error: err });
      }
    }
  }

  private event(attemptId: string, kind: string, detail?: string): Promise<unknown> {
    return this.store.addAttemptEvent({ attemptId, kind, detail: detail ?? null, at: this.iso() });
  }

  /** Throws QuotaError when no place is free; else takes one until `unreserve`. Synchronous on purpose. */
  private reserve(userId: string): void {
    const total = this.usage();
    if (total >= this.opts.maxSandboxes) {
      throw new QuotaError(`the server runs ${total} of ${this.opts.maxSandboxes} sandboxes; try again later or ask an admin`, "an admin can stop idle attempts or raise --max-sandboxes");
    }
    const mine = this.usage(userId);
    if (mine >= this.opts.maxSandboxesPerUser) {
      const labs = [...this.live.values()].filter((l) => l.userId === userId).map((l) => l.labId);
      throw new QuotaError(
        `you run ${mine} of ${this.opts.maxSandboxesPerUser} sandboxes a user may have; stop one first`,
        labs.length ? `your running labs: ${labs.join(", ")}` : undefined,
      );
    }
    this.reserved.set(userId, (this.reserved.get(userId) ?? 0) + 1);
  }

  private unreserve(userId: string): void {
    const n = (this.reserved.get(userId) ?? 1) - 1;
    if (n > 0) this.reserved.set(userId, n);
    else this.reserved.delete(userId);
  }

  private goLive(a: Attempt): Live {
    const live: Live = { attemptId: a.id, userId: a.userId, labId: a.labId, name: a.sandboxName, state: "provisioning", lastActive: Date.now() };
    this.live.set(a.id, live);
    return live;
  }

  /** Brings the attempt's sandbox up (removing an old one first), in the background. */
  private provision(live: Live, labDir: string): void {
    live.state = "provisioning";
    const phases: Phase[] = [];
    this.phases.set(live.attemptId, phases);
    this.emit({ type: "state", attemptId: live.attemptId, userId: live.userId, state: "provisioning", error: null });
    const job = (async () => {
      try {
        // A reset's old sandbox is still graded: stop its evaluator before the sandbox goes.
        await this.grading.stop(live.attemptId);
        await this.removeSandbox(live.name);
        await this.driver.up({
          lab: labDir,
          name: live.name,
          onPhase: (phase) => {
            phases.push(phase);
            this.emit({ type: "phase", attemptId: live.attemptId, userId: live.userId, phase });
          },
        });
        live.state = "running";
        live.lastActive = Date.now();
        this.expected.set(live.labId, [...new Set(phases.map((p) => p.phase))]);
        await this.store.updateAttempt(live.attemptId, { state: "running", error: null });
        await this.event(live.attemptId, "provisioned", `${phases.at(-1)?.ms ?? 0} ms`);
        // Before "running" is announced, so the page that reads the attempt then finds it graded.
        await this.grading.start(live.attemptId);
        this.emit({ type: "state", attemptId: live.attemptId, userId: live.userId, state: "running", error: null });
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        this.log.warn("attempt.provision_failed", { attempt: live.attemptId, sandbox: live.name, error: message });
        this.live.delete(live.attemptId);
        await this.store.updateAttempt(live.attemptId, { state: "suspended", error: message }).catch(() => undefined);
        await this.event(live.attemptId, "failed", message).catch(() => undefined);
        this.emit({ type: "state", attemptId: live.attemptId, userId: live.userId, state: "suspended", error: message });
      }
    })();
    this.track(live.userId, live.labId, job);
  }

  /** Waits until no operation on the attempt's lab is in flight (the caller holds the lock). */
  private async settle(attemptId: string): Promise<void> {
    const live = this.live.get(attemptId);
    if (!live) return;
    await this.pending.get(`${live.userId}/${live.labId}`);
  }

  private readonly pending = new Map<string, Promise<void>>();

  private track(userId: string, labId: string, job: Promise<void>): void {
    const key = `${userId}/${labId}`;
    this.pending.set(key, job);
    this.background.add(job);
    void job.finally(() => {
      this.background.delete(job);
      if (this.pending.get(key) === job) this.pending.delete(key);
    });
  }

  /** Runs `fn` after every earlier operation on the same user and lab has finished. */
  private serialized<T>(userId: string, labId: string, fn: () => Promise<T>): Promise<T> {
    const key = `${userId}/${labId}`;
    const prev = this.locks.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(key, tail);
    void tail.then(() => {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    });
    return run;
  }

  private async removeSandbox(name: string): Promise<void> {
    if (this.driver.list().some((s) => s.name === name)) await this.driver.down(name);
  }
}
