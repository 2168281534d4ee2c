/**
 * Counts failures per key (a client address, an account) in a sliding window; once `max` failures fall
 * in the window the key is blocked until the oldest of them leaves it. In memory: one server process
 * (several replicas would each count their own, which only makes the limit looser by that factor).
 */
export interface LimitRule {
  max: number;
  windowMs: number;
}

export class FailureLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    readonly rule: LimitRule,
    private readonly now: () => number = Date.now,
  ) {}

  private recent(key: string): number[] {
    const since = this.now() - this.rule.windowMs;
    const list = (this.failures.get(key) ?? []).filter((t) => t > since);
    if (list.length) this.failures.set(key, list);
    else this.failures.delete(key);
    return list;
  }

  /** Milliseconds until `key` may try again; 0 when it may now. */
  retryAfterMs(key: string): number {
    const list = this.recent(key);
    if (list.length < this.rule.max) return 0;
    return list[list.length - this.rule.max]! + this.rule.windowMs - this.now();
  }

  fail(key: string): void {
    const list = this.recent(key);
    list.push(this.now());
    this.failures.set(key, list);
  }

  reset(key: string): void {
    this.failures.delete(key);
  }

  /** Drops keys with no failure in the window (called on a timer, so memory stays bounded). */
  prune(): void {
    for (const key of [...this.failures.keys()]) this.recent(key);
  }
}

/** "3 minutes", "40 seconds": for messages. */
export function humanDuration(ms: number): string {
  const s = Math.max(1, Math.ceil(ms / 1000));
  if (s < 120) return `${s} second${s === 1 ? "" : "s"}`;
  const m = Math.ceil(s / 60);
  return `${m} minutes`;
}
