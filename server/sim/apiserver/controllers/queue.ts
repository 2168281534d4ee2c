/**
 * The work queue every controller uses, client-go's workqueue reduced to one process: a dirty set of
 * keys (adding a key that is already waiting is a no-op, so bursts of store events coalesce), processed
 * on the next setImmediate turn, never while the store write that queued the key is still running.
 * A key whose sync throws is retried with exponential backoff (5 ms doubling to 30 s); a key that keeps
 * coming back more than 100 times a second is slowed down to once a second and logged, so a controller
 * bug shows as a warning instead of a spinning server.
 */
import type { Logger } from "../../../log.js";
import { isApiError } from "../status.js";

const HOT_LIMIT = 100;
const MAX_BACKOFF_MS = 30_000;

export class WorkQueue {
  private readonly dirty = new Set<string>();
  private readonly timers = new Map<string, { at: number; handle: NodeJS.Timeout }>();
  private readonly failures = new Map<string, number>();
  private readonly recent = new Map<string, { since: number; count: number }>();
  private scheduled = false;
  private stopped = false;

  /**
   * @param name for logs (`replicaset`, `scheduler`)
   * @param sync reconciles one key; it reads what it needs from the store and may write
   */
  constructor(
    readonly name: string,
    private readonly sync: (key: string) => void,
    private readonly log: Logger,
  ) {}

  add(key: string): void {
    if (this.stopped) return;
    this.dirty.add(key);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Adds `key` after `ms`; an earlier pending re-add of the same key wins. */
  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    const at = Date.now() + Math.max(0, ms);
    const pending = this.timers.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.handle);
    const handle = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, Math.max(0, ms));
    handle.unref();
    this.timers.set(key, { at, handle });
  }

  /** Keys waiting for the next turn (timers not counted). */
  busy(): boolean {
    return this.scheduled || this.dirty.size > 0;
  }

  stop(): void {
    this.stopped = true;
    this.dirty.clear();
    for (const t of this.timers.values()) clearTimeout(t.handle);
    this.timers.clear();
  }

  private flush(): void {
    this.scheduled = false;
    if (this.stopped) return;
    const keys = [...this.dirty];
    this.dirty.clear();
    for (const key of keys) {
      if (this.stopped) return;
      this.run(key);
    }
  }

  private run(key: string): void {
    const now = Date.now();
    const r = this.recent.get(key);
    if (!r || now - r.since > 1000) this.recent.set(key, { since: now, count: 1 });
    else if (++r.count > HOT_LIMIT) {
      if (r.count === HOT_LIMIT + 1) this.log.warn("controller.hot_key", { controller: this.name, key });
      this.addAfter(key, 1000);
      return;
    }
    try {
      this.sync(key);
      this.failures.delete(key);
    } catch (err) {
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      // a conflict or a vanished object is the normal race of a controller: look again shortly
      const routine = isApiError(err) && (err.code === 409 || err.code === 404);
      if (routine) this.log.debug("controller.sync_retry", { controller: this.name, key, err });
      else this.log.warn("controller.sync_failed", { controller: this.name, key, attempt: n, err });
      this.addAfter(key, Math.min(MAX_BACKOFF_MS, 5 * 2 ** (n - 1)));
    }
    if (this.recent.size > 10_000) for (const [k, v] of this.recent) if (now - v.since > 1000) this.recent.delete(k);
  }
}
