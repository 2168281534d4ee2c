/**
 * Structured logs: an event name plus a context object. JSON lines when FAULTLINE_LOG=json (production,
 * supervisors), a readable line otherwise. Failures are logged at warn/error, never info.
 */
type Level = "debug" | "info" | "warn" | "error";
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(event: string, ctx?: Record<string, unknown>): void;
  info(event: string, ctx?: Record<string, unknown>): void;
  warn(event: string, ctx?: Record<string, unknown>): void;
  error(event: string, ctx?: Record<string, unknown>): void;
  child(ctx: Record<string, unknown>): Logger;
}

export function createLogger(
  base: Record<string, unknown> = {},
  opts: { json?: boolean; level?: Level; write?: (line: string) => void } = {},
): Logger {
  // The environment is read at the first line logged, not here: the sandbox programs create their
  // loggers while their startup snapshot is built (scripts/bundle-sandbox.mjs), with the build's environment.
  let resolved: { json: boolean; min: number } | null = null;
  const settings = () =>
    (resolved ??= {
      json: opts.json ?? process.env.FAULTLINE_LOG === "json",
      min: order[opts.level ?? ((process.env.FAULTLINE_LOG_LEVEL as Level | undefined) ?? "info")] ?? 20,
    });
  const write = opts.write ?? ((line: string) => process.stderr.write(line + "\n"));
  const emit = (level: Level, event: string, ctx: Record<string, unknown> = {}) => {
    const { json, min } = settings();
    if (order[level] < min) return;
    const all = { ...base, ...ctx };
    if (json) {
      write(JSON.stringify({ time: new Date().toISOString(), level, event, ...all }, errorReplacer));
    } else {
      const parts = Object.entries(all).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v, errorReplacer)}`);
      write(`${level.padEnd(5)} ${event}${parts.length ? " " + parts.join(" ") : ""}`);
    }
  };
  return {
    debug: (e, c) => emit("debug", e, c),
    info: (e, c) => emit("info", e, c),
    warn: (e, c) => emit("warn", e, c),
    error: (e, c) => emit("error", e, c),
    child: (ctx) => createLogger({ ...base, ...ctx }, opts),
  };
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { message: value.message, name: value.name };
  return value;
}
