/**
 * Live grading of attempts: one Evaluator (server/checks/evaluator.ts) per attempt whose sandbox runs.
 * The SandboxManager owns it: it starts an attempt's evaluator once the sandbox is ready (provisioned,
 * re-provisioned, reset, or adopted after a server restart) and stops it BEFORE the sandbox goes (stop,
 * reset, idle reaping), so no check runs against a sandbox being torn down and records a "could not
 * check" that was never the trainee's doing; `closeAll` stops every evaluator when the server stops.
 *
 * The evaluator's state lives in memory; the store keeps the timeline:
 * - A transition is recorded when an objective's new state differs from its LAST RECORDED state
 *   (loaded from the store when grading starts), and it goes from that state. An evaluator always
 *   starts from "pending": recording its first results as they come would repeat every state after
 *   each restart and reset, and break the chain (each transition starts where the previous ended).
 * - A hint unlocked by time is recorded as a reveal. Requested hints (POST .../hints/:n) are recorded
 *   through `recordHint` too, and both run on the attempt's one queue of writes, which looks in the
 *   store first: a hint is recorded once, whoever opens it.
 *
 * Objectives are reported from the live evaluator while it runs, falling back to the last recorded
 * state for an objective it has not checked yet; without an evaluator (a stopped or suspended
 * attempt, a sandbox being provisioned, a server just restarted) from the recorded transitions alone.
 *
 * Failing to start grading (the lab no longer offered, a sandbox the checks cannot reach) never stops
 * the server or the attempt: it is logged and recorded as the attempt's event `grading_failed`.
 *
 * @example
 * ```ts
 * const grading = new Grading({ store, log, lab: (id) => labs.lab(id), context: (sandbox, o) => simCheckContext(driver, sandbox, o),
 *   onChange: (attempt, objectives) => io.to(`attempt:${attempt.id}`).emit("attempt:objectives", { attemptId: attempt.id, objectives }) });
 * await grading.start(attemptId);       // the sandbox is ready
 * await grading.objectives(attempt);    // [{ id: "inventory-fixed", title: "...", state: "fail", detail: "...", since: "2025-..." }, ...]
 * await grading.writeupSaved(attempt);  // the write-up objectives checked again (also with the sandbox gone)
 * await grading.stop(attemptId);        // before the sandbox goes: no timer, watch or shell left
 * ```
 */
import { objectiveStateSchema, type ObjectiveState, type ObjectiveView } from "../../shared/protocol.js";
import { Evaluator, type EvaluatorOptions, type ObjectiveStatus, type TimelineEvent } from "../checks/evaluator.js";
import { runCheck } from "../checks/kinds/index.js";
import type { CheckSpec } from "../checks/schema.js";
import { CouldNotCheck, type CheckContext } from "../checks/types.js";
import type { Lab } from "../labs/lab.js";
import type { Logger } from "../log.js";
import type { Attempt, ObjectiveTransition, Store } from "../store/index.js";

/** What grading needs of a lab. */
export type GradedLab = Pick<Lab, "objectives" | "hints">;

/** What the server provides for grading: the labs and a way to look into a sandbox. */
export interface GradingSource {
  /** The lab's objectives and hints; undefined for a lab this server no longer offers. */
  lab(labId: string): GradedLab | undefined;
  /** The checks' view of a running sandbox (the sim driver's: simCheckContext). */
  context(sandbox: string, opts: { writeup: () => Promise<string | null> }): CheckContext;
  /** Evaluator periods (tests); the evaluator's defaults otherwise. */
  tuning?: Pick<EvaluatorOptions, "pollMs" | "resyncMs" | "settleMs">;
  /** The shortest time between two on-demand checks of one attempt (`checkNow`); default 5 s. */
  checkIntervalMs?: number;
}

export interface GradingDeps extends GradingSource {
  store: Store;
  log: Logger;
  /** Objectives changed state (pushed to the attempt's watchers). */
  onChange(attempt: Attempt, objectives: ObjectiveView[]): void;
  /** The clock of attempt events. */
  now?: () => Date;
}

/** An objective's last recorded state. */
export interface Recorded {
  state: ObjectiveState;
  detail: string | null;
  /** When it entered the state (ISO). */
  at: string;
}

export const DEFAULT_CHECK_INTERVAL_MS = 5000;

/** Each objective's last recorded state, from the attempt's transitions (oldest first). */
export function lastRecorded(transitions: ReadonlyArray<Pick<ObjectiveTransition, "objectiveId" | "to" | "detail" | "at">>): Map<string, Recorded> {
  const last = new Map<string, Recorded>();
  for (const t of transitions) {
    const state = objectiveStateSchema.safeParse(t.to);
    last.set(t.objectiveId, { state: state.success ? state.data : "pending", detail: t.detail, at: t.at });
  }
  return last;
}

/**
 * The objectives as reported: in `objectives`' order; from `live` (an evaluator's state) where it has
 * a result, else the last recorded state, else pending. `since` is when the objective entered its
 * state: the recorded time when the live state is the one recorded (a restarted evaluator finds the
 * same state again), else the evaluator's.
 */
export function objectiveViews(
  objectives: ReadonlyArray<{ id: string; title: string }>,
  recorded: ReadonlyMap<string, Recorded>,
  live: ReadonlyArray<ObjectiveStatus> | null,
): ObjectiveView[] {
  return objectives.map(({ id, title }) => {
    const r = recorded.get(id);
    const l = live?.find((s) => s.objective === id);
    if (l && l.state !== "pending") {
      return { id, title, state: l.state, detail: l.detail, since: r?.state === l.state ? r.at : new Date(l.since).toISOString() };
    }
    if (r) return { id, title, state: r.state, detail: r.detail, since: r.at };
    return { id, title, state: "pending", detail: null, since: null };
  });
}

/** Whether a check reads the write-up and nothing else (so it can be judged without a sandbox). */
export function readsOnlyWriteup(spec: CheckSpec): boolean {
  if ("writeup" in spec) return true;
  if ("all" in spec) return spec.all.every(readsOnlyWriteup);
  if ("any" in spec) return spec.any.every(readsOnlyWriteup);
  if ("not" in spec) return readsOnlyWriteup(spec.not);
  return false;
}

/**
 * The checks' view of an attempt whose sandbox is gone: its write-up, and nothing else (any other
 * look is "could not check"; `readsOnlyWriteup` keeps such checks away from it).
 */
function writeupOnlyContext(sandbox: string, writeup: () => Promise<string | null>): CheckContext {
  const gone = (): never => {
    throw new CouldNotCheck("the sandbox is not running");
  };
  return {
    sandbox,
    signal: new AbortController().signal,
    workspaceDir: null,
    kube: gone,
    exec: async () => gone(),
    readWorkspaceFile: async () => gone(),
    plan: async () => gone(),
    writeup,
  };
}

/** The lab's objectives; for a lab no longer offered, the ones its transitions name (titled by id). */
function objectiveList(lab: GradedLab | undefined, recorded: ReadonlyMap<string, Recorded>): Array<{ id: string; title: string }> {
  return lab ? lab.objectives.map((o) => ({ id: o.id, title: o.title })) : [...recorded.keys()].map((id) => ({ id, title: id }));
}

interface Session {
  attempt: Attempt;
  lab: GradedLab;
  evaluator: Evaluator;
  context: CheckContext;
  recorded: Map<string, Recorded>;
  /** The first evaluation (evaluator.start), settled. */
  started: Promise<void>;
  /** When the last on-demand check began (ms), and the one in flight. */
  lastCheck: number;
  check: Promise<ObjectiveView[]> | null;
}

export type CheckNow = { objectives: ObjectiveView[] } | { retryAfterMs: number } | null;

export class Grading {
  readonly #sessions = new Map<string, Session>();
  /** Per attempt, the tail of its queue of store writes (never rejects). */
  readonly #queues = new Map<string, Promise<unknown>>();

  constructor(private readonly deps: GradingDeps) {}

  /** Whether the attempt's evaluator runs. */
  graded(attemptId: string): boolean {
    return this.#sessions.has(attemptId);
  }

  /** The attempts being graded (tests, health). */
  active(): string[] {
    return [...this.#sessions.keys()];
  }

  /**
   * Starts grading the attempt's sandbox, replacing any evaluator it had. Resolves once the evaluator
   * is running (its first evaluation goes on in the background). Never rejects: a failure is logged
   * and recorded as the attempt's event `grading_failed`.
   */
  async start(attemptId: string): Promise<void> {
    await this.stop(attemptId);
    const { store, log } = this.deps;
    let context: CheckContext | null = null;
    try {
      const attempt = await store.attemptById(attemptId);
      if (!attempt) throw new Error(`the attempt ${attemptId} is not in the store`);
      const lab = this.deps.lab(attempt.labId);
      if (!lab) throw new Error(`the lab "${attempt.labId}" is no longer offered by this server`);
      const recorded = lastRecorded(await store.transitions(attempt.id));
      context = this.deps.context(attempt.sandboxName, { writeup: async () => (await store.writeup(attempt.id))?.markdown ?? null });
      // Set before start(): hints already due are unlocked, and emitted, inside it.
      let session: Session | null = null;
      const evaluator = new Evaluator({
        objectives: lab.objectives,
        hints: lab.hints,
        context,
        // Hints count from the attempt's start, also for an evaluator started after a restart or reset.
        startedAt: Date.parse(attempt.startedAt),
        log: log.child({ attempt: attempt.id }),
        onEvent: (e) => {
          if (session) this.#onEvent(session, e);
        },
        ...(this.deps.tuning ?? {}),
      });
      const s: Session = { attempt, lab, evaluator, context, recorded, started: Promise.resolve(), lastCheck: 0, check: null };
      session = s;
      this.#sessions.set(attempt.id, s);
      s.started = evaluator.start().then(
        () => log.info("grading.started", { attempt: attempt.id, sandbox: attempt.sandboxName }),
        async (e: unknown) => {
          if (this.#sessions.get(attempt.id) === s) await this.stop(attempt.id);
          await this.#failed(attempt.id, e);
        },
      );
    } catch (e) {
      context?.close?.();
      await this.#failed(attemptId, e);
    }
  }

  /** Stops the attempt's evaluator (no timer, watch, watcher or shell left) and waits for its last writes. */
  async stop(attemptId: string): Promise<void> {
    const s = this.#sessions.get(attemptId);
    if (s) {
      this.#sessions.delete(attemptId);
      await s.evaluator.stop();
      s.context.close?.();
      this.deps.log.info("grading.stopped", { attempt: attemptId });
    }
    await this.#queues.get(attemptId);
  }

  /** Stops every evaluator (the server stops; the sandboxes stay, and are graded again when adopted). */
  async closeAll(): Promise<void> {
    await Promise.all([...this.#sessions.keys()].map((id) => this.stop(id)));
    await Promise.all([...this.#queues.values()]);
  }

  /** The attempt's objectives: live while graded, else as last recorded. */
  async objectives(attempt: Attempt): Promise<ObjectiveView[]> {
    const s = this.#sessions.get(attempt.id);
    if (s) return this.#views(s);
    const recorded = lastRecorded(await this.deps.store.transitions(attempt.id));
    return objectiveViews(objectiveList(this.deps.lab(attempt.labId), recorded), recorded, null);
  }

  /**
   * Re-runs every objective now (a write-up saved, a "check now" button) and resolves with the
   * objectives once the results are recorded. A check in flight is joined; one sooner than
   * `checkIntervalMs` after the last is refused with the time to wait. Null when not graded.
   */
  async checkNow(attemptId: string): Promise<CheckNow> {
    const s = this.#sessions.get(attemptId);
    if (!s) return null;
    if (s.check) return { objectives: await s.check };
    const wait = s.lastCheck + (this.deps.checkIntervalMs ?? DEFAULT_CHECK_INTERVAL_MS) - Date.now();
    if (wait > 0) return { retryAfterMs: wait };
    s.lastCheck = Date.now();
    s.check = s.evaluator
      .evaluateNow()
      .then(async () => {
        await this.#queues.get(attemptId);
        return this.#views(s);
      })
      .finally(() => {
        s.check = null;
      });
    return { objectives: await s.check };
  }

  /**
   * The write-up was saved: re-runs the objectives that read it and resolves with the objectives once
   * their results are recorded (and pushed). Not rate-limited: these checks read the store, nothing
   * in the sandbox, and the evaluator coalesces a burst of saves into one more run.
   *
   * Without an evaluator (the sandbox was stopped or reaped, as it often is by the time a trainee
   * writes up), the objectives whose checks read nothing but the write-up are judged here and recorded
   * the same way, so a write-up finished after the lab still counts. Objectives that also need the
   * sandbox keep their last recorded state until it runs again.
   */
  async writeupSaved(attempt: Attempt): Promise<ObjectiveView[]> {
    const s = this.#sessions.get(attempt.id);
    if (s) {
      await s.evaluator.evaluateNow({ trigger: "writeup" });
      await this.#queues.get(attempt.id);
      return this.#views(s);
    }
    const lab = this.deps.lab(attempt.labId);
    const offline = lab?.objectives.filter((o) => readsOnlyWriteup(o.check)) ?? [];
    if (offline.length === 0) return this.objectives(attempt);
    const context = writeupOnlyContext(attempt.sandboxName, async () => (await this.deps.store.writeup(attempt.id))?.markdown ?? null);
    const results = await Promise.all(offline.map(async (o) => ({ id: o.id, result: await runCheck(o.check, context), at: (this.deps.now?.() ?? new Date()).toISOString() })));
    return this.#serial(attempt.id, async () => {
      // An evaluator started meanwhile speaks for the attempt: its results win.
      if (this.#sessions.has(attempt.id)) return this.objectives(attempt);
      const recorded = lastRecorded(await this.deps.store.transitions(attempt.id));
      let changed = false;
      for (const { id, result, at } of results) {
        const before = recorded.get(id);
        if (before?.state === result.status) continue;
        const detail = result.detail ?? null;
        await this.deps.store.addTransition({ attemptId: attempt.id, objectiveId: id, from: before?.state ?? "pending", to: result.status, detail, at });
        recorded.set(id, { state: result.status, detail, at });
        changed = true;
      }
      const views = objectiveViews(objectiveList(lab, recorded), recorded, null);
      if (changed) this.deps.onChange(attempt, views);
      return views;
    });
  }

  /** Records that hint `index` was shown (once per attempt, whoever asks first). */
  recordHint(attemptId: string, index: number, at: string): Promise<void> {
    return this.#serial(attemptId, async () => {
      const reveals = await this.deps.store.reveals(attemptId);
      if (reveals.some((r) => r.kind === "hint" && r.ref === String(index))) return;
      await this.deps.store.addReveal({ attemptId, kind: "hint", ref: String(index), at });
    });
  }

  #views(s: Session): ObjectiveView[] {
    return objectiveViews(objectiveList(s.lab, s.recorded), s.recorded, s.evaluator.state());
  }

  #onEvent(s: Session, e: TimelineEvent): void {
    const id = s.attempt.id;
    const logged = (what: string) => (err: unknown) => this.deps.log.error(what, { attempt: id, error: err });
    if (e.type === "transition") {
      this.#serial(id, async () => {
        const before = s.recorded.get(e.objective);
        if (before?.state !== e.to) {
          const at = new Date(e.at).toISOString();
          await this.deps.store.addTransition({ attemptId: id, objectiveId: e.objective, from: before?.state ?? "pending", to: e.to, detail: e.detail, at });
          s.recorded.set(e.objective, { state: e.to, detail: e.detail, at });
        }
        // A later evaluator (after a reset) speaks for the attempt now; this one's state is history.
        if (this.#sessions.get(id) === s) this.deps.onChange(s.attempt, this.#views(s));
      }).catch(logged("grading.record_failed"));
    } else if (e.type === "hint" && e.reason === "elapsed") {
      this.recordHint(id, e.index, new Date(e.at).toISOString()).catch(logged("grading.hint_record_failed"));
    }
  }

  async #failed(attemptId: string, e: unknown): Promise<void> {
    const reason = e instanceof Error ? e.message : String(e);
    this.deps.log.warn("grading.start_failed", { attempt: attemptId, error: reason });
    const detail = `live grading could not start: ${reason}; the objectives show their last recorded state`;
    const at = (this.deps.now?.() ?? new Date()).toISOString();
    await this.deps.store.addAttemptEvent({ attemptId, kind: "grading_failed", detail, at }).catch((err: unknown) => {
      this.deps.log.error("grading.event_failed", { attempt: attemptId, error: err });
    });
  }

  /** Runs `fn` after the attempt's earlier writes, so its timeline keeps its order. */
  #serial<T>(attemptId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#queues.get(attemptId) ?? Promise.resolve();
    const run = prev.then(fn);
    const tail = run.catch(() => undefined);
    this.#queues.set(attemptId, tail);
    void tail.then(() => {
      if (this.#queues.get(attemptId) === tail) this.#queues.delete(attemptId);
    });
    return run;
  }
}
