/**
 * Log lines shaped like the Go programs the workloads stand in for, because they become `kubectl logs`:
 * go-kit's JSON logger (MetalLB's own lines: keys sorted, `ts` RFC 3339 UTC seconds), zap's production
 * encoder (controller-runtime's lines inside MetalLB: level, ts as epoch seconds, logger, msg, fields)
 * and the standard `log` package (`2006/01/02 15:04:05 msg`, the hello-app style).
 */

/** Where finished lines go (one line, no trailing newline). */
export type LineSink = (line: string) => void;

/** Log levels the workloads use; lines below the configured level are dropped, as `--log-level` does. */
export type GoLogLevel = "debug" | "info" | "warn" | "error";
const ORDER: Record<GoLogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/**
 * Go's encoding/json output for a value: like JSON.stringify, plus the HTML-safe escapes Go applies by
 * default (`<`, `>`, `&`, U+2028, U+2029), so a pool named `a&b` logs as Go would print it.
 */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
}

/** RFC 3339 in UTC with whole seconds, as MetalLB's go-kit timestamp prints it. */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** A logger writing Go-shaped lines to a sink. */
export class GoLogger {
  /**
   * @param zapIsoTime zap's `ts` as RFC 3339 (controller-runtime ≥ v0.15, MetalLB v0.14) instead of
   *   epoch seconds (MetalLB v0.13)
   */
  constructor(
    private readonly sink: LineSink,
    private readonly level: GoLogLevel = "info",
    private readonly now: () => Date = () => new Date(),
    private readonly zapIsoTime = false,
  ) {}

  /** Whether lines at `level` are written at the configured level. */
  enabled(level: GoLogLevel): boolean {
    return ORDER[level] >= ORDER[this.level];
  }

  /** A go-kit JSON line: every key sorted (Go marshals the map), `level` and `ts` added. */
  gokit(level: GoLogLevel, fields: Record<string, unknown>): void {
    if (!this.enabled(level)) return;
    const all: Record<string, unknown> = { ...fields, level, ts: rfc3339(this.now()) };
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(all).sort()) sorted[k] = all[k];
    this.sink(goJson(sorted));
  }

  /** A zap production line: level, ts (epoch seconds), logger, msg, then fields in order. */
  zap(level: GoLogLevel, logger: string | undefined, msg: string, fields: Record<string, unknown> = {}): void {
    if (!this.enabled(level)) return;
    const t = this.now();
    const line: Record<string, unknown> = { level, ts: this.zapIsoTime ? rfc3339(t) : t.getTime() / 1000 };
    if (logger) line.logger = logger;
    line.msg = msg;
    this.sink(goJson({ ...line, ...fields }));
  }

  /** A standard-library `log` line (UTC). */
  std(msg: string): void {
    if (!this.enabled("info")) return;
    const iso = this.now().toISOString();
    this.sink(`${iso.slice(0, 10).replaceAll("-", "/")} ${iso.slice(11, 19)} ${msg}`);
  }
}
