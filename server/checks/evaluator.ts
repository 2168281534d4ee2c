/**
 * The live evaluator of a lab session: keeps every objective's state current while the trainee works,
 * and records the session's timeline (objective transitions, hints unlocked, the solution revealed).
 *
 * What re-runs an objective (each from its checks' triggers, kinds/*.ts):
 * - an event on a Kubernetes watch (client-node `Watch`, after a list: an informer) of a kind a kube
 *   check reads, or of the Services, Endpoints, Pods and NetworkPolicies a probe depends on; a watch
 *   that ends is opened again (backoff 250 ms to 5 s) and its objectives re-run, since events may have
 *   been missed meanwhile. The watched objects are kept, and checks read named objects from there
 *   (CheckContext.watched) instead of asking the API server each time;
 * - a change in the workspace (fs.watch on the folders of the files that file checks read);
 * - a change of the sandbox's own state (CheckContext.watchState: plan, re-provisioning);
 * - a timer, for what nothing announces (probes, exec, ipam): every `pollMs` (5 s), jittered ±20 %;
 *   a probe depends on the dataplane, which follows the API a moment later (kube-proxy, Felix), so an
 *   API event runs it `settleMs` after the last event (500 ms, and again at 2 s) rather than at once:
 *   a probe run too early would wait out its whole timeout against the old rules;
 * - a resync of every objective every `resyncMs` (30 s), jittered, in case a notification was lost;
 * - `evaluateNow()`, for every objective or those of one trigger (`{ trigger: "writeup" }`: the
 *   web app saved the write-up, which nothing else announces).
 * Triggers coalesce: an objective never runs twice at once; a trigger during a run queues one more
 * run after it (however many triggers came).
 *
 * Only transitions are emitted (`onEvent`), with the time the new result was known: the first result
 * of each objective is a transition from "pending". `state()` is the current state.
 *
 * @example
 * ```ts
 * const ev = new Evaluator({ objectives: lab.objectives, hints: lab.hints, context: simCheckContext(driver, name),
 *   onEvent: (e) => timeline.append(session, e) });
 * await ev.start();               // the first evaluation of every objective
 * ev.state();                     // [{ objective: "pool-admitted", state: "fail", detail: "IPAddressPool lab-pool not found in metallb-system", ... }]
 * ev.requestHint();               // { type: "hint", index: 0, text: "...", reason: "requested", at: ... }
 * await ev.stop();                // no timer, watch or watcher left
 * ```
 */
import { setMaxListeners } from "node:events";
import { watch as fsWatch, existsSync, type FSWatcher } from "node:fs";
import path from "node:path";
import { Watch, type KubernetesObject } from "@kubernetes/client-node";
import type { Logger } from "../log.js";
import type { CheckResult, Objective } from "./schema.js";
import { checkTriggers, describeCheck, runCheck, withSignal } from "./kinds/index.js";
import type { CheckContext, ObjectCache, Trigger } from "./types.js";

export type ObjectiveState = "pending" | CheckResult["status"];

export interface ObjectiveStatus {
  objective: string;
  title: string;
  state: ObjectiveState;
  detail: string;
  /** When the objective entered this state (ms since the epoch). */
  since: number;
  /** When it was last evaluated; null before the first result. */
  checkedAt: number | null;
}

export interface Transition {
  type: "transition";
  objective: string;
  from: ObjectiveState;
  to: CheckResult["status"];
  detail: string;
  /** When the result was known, in ms since the epoch. */
  at: number;
}

export interface HintUnlocked {
  type: "hint";
  index: number;
  text: string;
  reason: "elapsed" | "requested";
  at: number;
}

export interface SolutionRevealed {
  type: "solution";
  at: number;
}

export type TimelineEvent = Transition | HintUnlocked | SolutionRevealed;

/** A lab's hint: shown `after` ms of the session, or (without `after`) when the trainee asks. */
export interface Hint {
  text: string;
  after?: number | undefined;
}

export interface EvaluatorOptions {
  objectives: ReadonlyArray<Pick<Objective, "id" | "title" | "check">>;
  context: CheckContext;
  hints?: ReadonlyArray<Hint>;
  /** Every timeline event, as it happens (the review timeline's store). */
  onEvent?: (e: TimelineEvent) => void;
  /** Period of probes, exec and ipam checks; default 5000 ms, jittered ±20 %. */
  pollMs?: number;
  /** Period of re-running everything; default 30000 ms, jittered ±20 %. 0 turns it off. */
  resyncMs?: number;
  /** After an API event, probes run this long after it (each delay once); default [500, 2000] ms (Felix and kube-proxy take 150-350 ms in a sim sandbox). */
  settleMs?: number[];
  /** When the session started (hints count from here); default now. */
  startedAt?: number;
  log?: Logger;
}

interface Slot {
  objective: Pick<Objective, "id" | "title" | "check">;
  triggers: Trigger[];
  state: ObjectiveState;
  detail: string;
  since: number;
  checkedAt: number | null;
  running: Promise<void> | null;
  queued: Promise<void> | null;
  settle: NodeJS.Timeout[];
}

interface KubeWatch {
  apiVersion: string;
  kind: string;
  namespace: string | undefined;
  slots: Set<Slot>;
  controller: AbortController | null;
  retry: NodeJS.Timeout | null;
  failures: number;
  connects: number;
  /** The kind's objects by `namespace/name`, from a list and the watch after it; null while not synced. */
  objects: Map<string, KubernetesObject> | null;
}

const objectKey = (namespace: string | undefined, name: string | undefined) => `${namespace ?? ""}/${name ?? ""}`;

/** How long listing and opening a watch may take before it is given up and tried again. */
const CONNECT_TIMEOUT_MS = 15_000;
const jitter = (ms: number) => ms * (0.8 + 0.4 * Math.random());
const has = (s: Slot, type: Trigger["type"]) => s.triggers.some((t) => t.type === type);

export class Evaluator {
  readonly #opts: Required<Pick<EvaluatorOptions, "pollMs" | "resyncMs" | "settleMs" | "startedAt">> & EvaluatorOptions;
  readonly #slots: Slot[];
  readonly #abort = new AbortController();
  readonly #ctx: CheckContext;
  readonly #timeline: TimelineEvent[] = [];
  readonly #watches: KubeWatch[] = [];
  readonly #fsWatchers = new Map<string, FSWatcher>();
  readonly #unlocked = new Set<number>();
  #timers = new Set<NodeJS.Timeout>();
  #unwatchState: (() => void) | null = null;
  #solution: SolutionRevealed | null = null;
  #started = false;
  #stopped = false;
  readonly #onContextAbort = () => void this.stop();

  constructor(opts: EvaluatorOptions) {
    this.#opts = { pollMs: 5000, resyncMs: 30_000, settleMs: [500, 2000], startedAt: Date.now(), ...opts };
    const ids = new Set<string>();
    this.#slots = opts.objectives.map((objective) => {
      if (ids.has(objective.id)) throw new Error(`objective id ${objective.id} is used twice`);
      ids.add(objective.id);
      return {
        objective,
        triggers: checkTriggers(objective.check),
        state: "pending",
        detail: describeCheck(objective.check),
        since: this.#opts.startedAt,
        checkedAt: null,
        running: null,
        queued: null,
        settle: [],
      };
    });
    // Checks see the evaluator's signal (stop() ends whatever is in flight) and its watches' objects.
    // Every check and watch in flight listens to it: many at once is normal, not a leak.
    setMaxListeners(0, this.#abort.signal);
    opts.context.signal.addEventListener("abort", this.#onContextAbort, { once: true });
    const watched: ObjectCache = { get: (apiVersion, kind, namespace, name) => this.#cached(apiVersion, kind, namespace, name) };
    this.#ctx = Object.create(withSignal(opts.context, this.#abort.signal), { watched: { value: watched, enumerable: true } }) as CheckContext;
  }

  /** Opens watches and timers and evaluates every objective once; resolves with the first state. */
  async start(): Promise<ObjectiveStatus[]> {
    if (this.#started) throw new Error("the evaluator was started already");
    this.#started = true;
    this.#openKubeWatches();
    this.#watchWorkspace();
    const stateSlots = this.#slots.filter((s) => has(s, "state"));
    if (this.#ctx.watchState && stateSlots.length > 0) this.#unwatchState = this.#ctx.watchState(() => this.#fire(stateSlots));
    const polled = this.#slots.filter((s) => has(s, "poll") || (has(s, "workspace") && !this.#ctx.workspaceDir));
    if (polled.length > 0) this.#every(this.#opts.pollMs, () => this.#fire(polled));
    if (this.#opts.resyncMs > 0) this.#every(this.#opts.resyncMs, () => this.#fire(this.#slots));
    this.#scheduleHints();
    return this.evaluateNow();
  }

  /**
   * Re-runs every objective (after any run in flight), or only those whose checks declare `trigger`
   * (`{ trigger: "writeup" }` once the write-up was saved), and resolves with the state then.
   */
  async evaluateNow(opts: { trigger?: Trigger["type"] } = {}): Promise<ObjectiveStatus[]> {
    const slots = opts.trigger ? this.#slots.filter((s) => has(s, opts.trigger!)) : this.#slots;
    await Promise.all(slots.map((s) => this.#schedule(s)));
    return this.state();
  }

  state(): ObjectiveStatus[] {
    return this.#slots.map((s) => ({ objective: s.objective.id, title: s.objective.title, state: s.state, detail: s.detail, since: s.since, checkedAt: s.checkedAt }));
  }

  /** Every event so far, in order. */
  timeline(): TimelineEvent[] {
    return [...this.#timeline];
  }

  /** The hints unlocked so far, in the lab's order. */
  hints(): Array<{ index: number; text: string }> {
    return (this.#opts.hints ?? []).flatMap((h, index) => (this.#unlocked.has(index) ? [{ index, text: h.text }] : []));
  }

  /** Unlocks the next hint still locked (in the lab's order); null when every hint is shown. */
  requestHint(): HintUnlocked | null {
    const index = (this.#opts.hints ?? []).findIndex((_, i) => !this.#unlocked.has(i));
    return index < 0 ? null : this.#unlock(index, "requested");
  }

  /** Records that the solution was shown (once: later calls return the first event). */
  revealSolution(): SolutionRevealed {
    if (!this.#solution) {
      this.#solution = { type: "solution", at: Date.now() };
      this.#emit(this.#solution);
    }
    return this.#solution;
  }

  /** Closes every watch, watcher and timer; checks in flight are aborted and their results dropped. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#opts.context.signal.removeEventListener("abort", this.#onContextAbort);
    this.#abort.abort();
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    for (const w of this.#watches) {
      if (w.retry) clearTimeout(w.retry);
      w.controller?.abort();
      w.controller = null;
    }
    for (const w of this.#fsWatchers.values()) w.close();
    this.#fsWatchers.clear();
    this.#unwatchState?.();
    this.#unwatchState = null;
    await Promise.all(this.#slots.flatMap((s) => [s.running, s.queued]).filter((p) => p !== null));
  }

  #emit(e: TimelineEvent): void {
    this.#timeline.push(e);
    try {
      this.#opts.onEvent?.(e);
    } catch (err) {
      this.#opts.log?.warn("checks.on_event_failed", { err });
    }
  }

  /** A timer that repeats with jitter, cleared by stop(). */
  #every(ms: number, fn: () => void): void {
    const tick = () => {
      this.#timers.delete(t);
      if (this.#stopped) return;
      fn();
      this.#every(ms, fn);
    };
    const t = setTimeout(tick, jitter(ms));
    this.#timers.add(t);
  }

  #cancel(t: NodeJS.Timeout): void {
    clearTimeout(t);
    this.#timers.delete(t);
  }

  #after(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      if (!this.#stopped) fn();
    }, ms);
    this.#timers.add(t);
    return t;
  }

  /**
   * Runs the objectives: now, or for an API event and an objective that follows the dataplane,
   * `settleMs` after the last such event.
   */
  #fire(slots: Iterable<Slot>, event = false): void {
    for (const s of slots) {
      if (!event || !has(s, "settle")) {
        void this.#schedule(s);
        continue;
      }
      s.settle.forEach((t) => this.#cancel(t));
      s.settle = this.#opts.settleMs.map((ms) => this.#after(ms, () => void this.#schedule(s)));
    }
  }

  /** Coalescing: at most one run in flight and one queued behind it per objective. */
  #schedule(s: Slot): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    if (s.queued) return s.queued;
    if (s.running) {
      s.queued = s.running.then(() => {
        s.queued = null;
        return this.#startRun(s);
      });
      return s.queued;
    }
    return this.#startRun(s);
  }

  #startRun(s: Slot): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    const p: Promise<void> = this.#runOnce(s).finally(() => {
      if (s.running === p) s.running = null;
    });
    s.running = p;
    return p;
  }

  async #runOnce(s: Slot): Promise<void> {
    const result = await runCheck(s.objective.check, this.#ctx);
    if (this.#stopped) return;
    const at = Date.now();
    const detail = result.detail ?? describeCheck(s.objective.check);
    s.checkedAt = at;
    s.detail = detail;
    if (result.status === s.state) return;
    const from = s.state;
    s.state = result.status;
    s.since = at;
    this.#emit({ type: "transition", objective: s.objective.id, from, to: result.status, detail, at });
  }

  // --- Kubernetes watches -------------------------------------------------------------------------

  #openKubeWatches(): void {
    const byKey = new Map<string, KubeWatch>();
    const key = (t: { apiVersion: string; kind: string }, ns: string | undefined) => `${t.apiVersion}|${t.kind}|${ns ?? "*"}`;
    const kubeTriggers = this.#slots.flatMap((s) => s.triggers.flatMap((t) => (t.type === "kube" ? [{ s, t }] : [])));
    // A cluster-wide watch of a kind serves the namespaced ones too.
    const clusterWide = new Set(kubeTriggers.filter(({ t }) => !t.namespace).map(({ t }) => key(t, undefined)));
    for (const { s, t } of kubeTriggers) {
      const ns = clusterWide.has(key(t, undefined)) ? undefined : t.namespace;
      const k = key(t, ns);
      let w = byKey.get(k);
      if (!w) {
        w = { apiVersion: t.apiVersion, kind: t.kind, namespace: ns, slots: new Set(), controller: null, retry: null, failures: 0, connects: 0, objects: null };
        byKey.set(k, w);
        this.#watches.push(w);
      }
      w.slots.add(s);
    }
    for (const w of this.#watches) void this.#connect(w);
  }

  /** List, then watch from the list's resourceVersion (an informer): events keep `objects` current. */
  async #connect(w: KubeWatch): Promise<void> {
    w.retry = null;
    if (this.#stopped) return;
    let ended = false;
    let established = false;
    const onEnd = (err: unknown) => {
      if (ended) return;
      ended = true;
      w.controller?.abort();
      w.controller = null;
      w.objects = null;
      if (this.#stopped) return;
      this.#opts.log?.debug("checks.watch_ended", { kind: w.kind, namespace: w.namespace, err });
      // Checks ask the API server until the watch is back; re-run now (the API server may be gone).
      // A retry that fails again changes nothing the last run did not see.
      if (established) this.#fire(w.slots);
      this.#reconnect(w);
    };
    const onEvent = (type: string, obj: KubernetesObject) => {
      if (ended || !w.objects) return;
      if (type === "ERROR") return onEnd(new Error(`watch error: ${JSON.stringify(obj).slice(0, 200)}`));
      if (type === "BOOKMARK") return;
      const key = objectKey(obj.metadata?.namespace, obj.metadata?.name);
      if (type === "DELETED") w.objects.delete(key);
      else w.objects.set(key, obj);
      this.#fire(w.slots, true);
    };
    // A connection that gets no answer (an API server half up) is given up and tried again.
    const attempt = new AbortController();
    const stop = () => attempt.abort();
    this.#abort.signal.addEventListener("abort", stop, { once: true });
    const giveUp = this.#after(CONNECT_TIMEOUT_MS, () => {
      attempt.abort();
      onEnd(new Error(`no answer within ${CONNECT_TIMEOUT_MS} ms`));
    });
    try {
      const { config, objects } = this.#ctx.kube();
      const api = objects.withSignal(attempt.signal);
      const collection = await api.collectionPath(w.apiVersion, w.kind, w.namespace);
      const list = await api.list(w.apiVersion, w.kind, w.namespace);
      if (this.#stopped || ended) return;
      const rv = list.metadata?.resourceVersion;
      w.objects = new Map(list.items.map((o) => [objectKey(o.metadata?.namespace, o.metadata?.name), o]));
      const controller = await new Watch(config).watch(collection, rv ? { resourceVersion: rv } : {}, onEvent, onEnd);
      if (this.#stopped || ended) {
        controller.abort();
        return;
      }
      w.controller = controller;
      established = true;
      // Back after a break (or up late: a CRD installed meanwhile): what changed meanwhile sent no event.
      const late = w.connects++ > 0 || w.failures > 0;
      w.failures = 0;
      if (late) this.#fire(w.slots);
    } catch (err) {
      onEnd(err);
    } finally {
      this.#cancel(giveUp);
      this.#abort.signal.removeEventListener("abort", stop);
    }
  }

  /** An object from a synced watch (see ObjectCache). */
  #cached(apiVersion: string, kind: string, namespace: string, name: string): KubernetesObject | null | undefined {
    for (const w of this.#watches) {
      if (w.apiVersion !== apiVersion || w.kind !== kind || !w.objects) continue;
      if (w.namespace !== undefined && w.namespace !== namespace) continue;
      return w.objects.get(objectKey(namespace, name)) ?? null;
    }
    return undefined;
  }

  #reconnect(w: KubeWatch): void {
    if (this.#stopped || w.retry) return;
    const delay = Math.min(5000, 250 * 2 ** w.failures);
    w.failures++;
    w.retry = this.#after(jitter(delay), () => void this.#connect(w));
  }

  // --- the workspace -------------------------------------------------------------------------------

  /** Watches the nearest existing folder of each file a file check reads; refreshed on every change. */
  #watchWorkspace(): void {
    const root = this.#ctx.workspaceDir;
    const slots = this.#slots.filter((s) => has(s, "workspace"));
    if (!root || slots.length === 0 || this.#stopped) return;
    const wanted = new Set<string>();
    for (const s of slots) {
      for (const t of s.triggers) {
        if (t.type !== "workspace") continue;
        let dir = path.resolve(root, path.dirname(t.path));
        if (path.relative(root, dir).startsWith("..")) dir = root;
        while (dir !== root && !existsSync(dir)) dir = path.dirname(dir);
        wanted.add(dir);
      }
    }
    for (const [dir, w] of this.#fsWatchers) {
      if (!wanted.has(dir)) {
        w.close();
        this.#fsWatchers.delete(dir);
      }
    }
    for (const dir of wanted) {
      if (this.#fsWatchers.has(dir)) continue;
      try {
        const w = fsWatch(dir, () => {
          this.#fire(slots);
          this.#watchWorkspace();
        });
        w.on("error", () => {
          w.close();
          this.#fsWatchers.delete(dir);
          this.#after(200, () => this.#watchWorkspace());
        });
        this.#fsWatchers.set(dir, w);
      } catch (err) {
        this.#opts.log?.debug("checks.workspace_watch_failed", { dir, err });
      }
    }
  }

  // --- hints ---------------------------------------------------------------------------------------

  #unlock(index: number, reason: HintUnlocked["reason"]): HintUnlocked {
    this.#unlocked.add(index);
    const e: HintUnlocked = { type: "hint", index, text: this.#opts.hints![index]!.text, reason, at: Date.now() };
    this.#emit(e);
    return e;
  }

  /** Unlocks the hints whose time has come, and sets a timer for the next one. */
  #scheduleHints(): void {
    const hints = this.#opts.hints ?? [];
    const elapsed = Date.now() - this.#opts.startedAt;
    let next = Infinity;
    hints.forEach((h, i) => {
      if (this.#unlocked.has(i) || h.after === undefined) return;
      if (h.after <= elapsed) this.#unlock(i, "elapsed");
      else next = Math.min(next, h.after - elapsed);
    });
    if (next !== Infinity) this.#after(next, () => this.#scheduleHints());
  }
}
