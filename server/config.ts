import path from "node:path";
import { z } from "zod";
import { FaultlineError } from "./errors.js";
import { projectRoot } from "./paths.js";

/**
 * Configuration, loaded once: "what the user gave" (flags and environment, all optional) and "with
 * defaults" (everything set) are two types. Flags win over the environment. Nothing reads process.env
 * at import time.
 */
export const userConfigSchema = z.strictObject({
  dataDir: z.string().min(1).optional(),
  logJson: z.boolean().optional(),
});
export type UserConfig = z.infer<typeof userConfigSchema>;

export interface Config {
  /** Where sandboxes, and later the database, live. Default: `.faultline/` in the project. */
  dataDir: string;
  logJson: boolean;
}

/** Flags each map to one config key; the names here are the ones error messages use. */
const FLAGS: Record<string, keyof UserConfig> = { "--data-dir": "dataDir" };

/** Splits global flags out of argv; returns the config given and the remaining arguments. */
export function parseGlobalFlags(argv: string[]): { given: UserConfig; rest: string[] } {
  const given: Record<string, unknown> = {};
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    // Everything after `--` belongs to the command `sandbox exec` runs, flags included.
    if (a === "--") {
      rest.push(...argv.slice(i));
      break;
    }
    const [flag, inline] = a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    const key = FLAGS[flag];
    if (!key) {
      rest.push(a);
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined || value === "") throw new FaultlineError(`${flag} needs a value`, `e.g. ${flag} /var/lib/faultline`);
    given[key] = value;
  }
  return { given: userConfigSchema.parse(given), rest };
}

export function loadConfig(given: UserConfig, env: NodeJS.ProcessEnv = process.env): Config {
  const fromEnv: UserConfig = userConfigSchema.parse({
    ...(env.FAULTLINE_DATA_DIR ? { dataDir: env.FAULTLINE_DATA_DIR } : {}),
    ...(env.FAULTLINE_LOG ? { logJson: env.FAULTLINE_LOG === "json" } : {}),
  });
  const merged = { ...fromEnv, ...given };
  return {
    dataDir: path.resolve(merged.dataDir ?? path.join(projectRoot, ".faultline")),
    logJson: merged.logJson ?? false,
  };
}

/**
 * `faultline serve`'s options. Each has one flag and one environment variable; a flag wins over the
 * environment, the environment over the default. Raw strings from either are validated once, by one zod
 * schema, and a bad value is reported under the name the user typed:
 * `--port: expected a number 1-65535, got "abc"` or `FAULTLINE_PORT: expected ...`.
 */
const SERVE_OPTIONS = {
  host: { flag: "--host", env: "FAULTLINE_HOST", expected: "a host name or address to listen on", schema: z.string().min(1) },
  port: { flag: "--port", env: "FAULTLINE_PORT", expected: "a number 1-65535", schema: z.coerce.number().int().min(1).max(65535) },
  publicUrl: {
    flag: "--public-url", env: "FAULTLINE_PUBLIC_URL", expected: "an http(s) URL such as https://labs.example.com",
    schema: z.url({ protocol: /^https?$/ }).transform((u) => new URL(u).origin),
  },
  databaseUrl: {
    flag: "--database-url", env: "DATABASE_URL", expected: "a postgres:// or postgresql:// URL",
    schema: z.string().regex(/^postgres(ql)?:\/\/\S+$/),
  },
  labsDir: { flag: "--labs-dir", env: "FAULTLINE_LABS_DIR", expected: "a folder of labs", schema: z.string().min(1) },
  maxSandboxes: { flag: "--max-sandboxes", env: "FAULTLINE_MAX_SANDBOXES", expected: "a whole number 1-1000", schema: z.coerce.number().int().min(1).max(1000) },
  maxSandboxesPerUser: {
    flag: "--max-sandboxes-per-user", env: "FAULTLINE_MAX_SANDBOXES_PER_USER", expected: "a whole number 1-100", schema: z.coerce.number().int().min(1).max(100),
  },
  idleTimeout: {
    flag: "--idle-timeout", env: "FAULTLINE_IDLE_TIMEOUT", expected: "a duration with its unit, e.g. 30m or 2h (at least 1m)",
    schema: z.string().regex(/^\d+(s|m|h)$/).transform(durationMs).pipe(z.number().min(60_000)),
  },
  trustProxy: { flag: "--trust-proxy", env: "FAULTLINE_TRUST_PROXY", expected: "true or false", schema: z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1") },
} as const;

type ServeKey = keyof typeof SERVE_OPTIONS;
/** What the user gave to `serve`: raw strings by option, from flags (the environment is read in loadServeConfig). */
export type ServeUserConfig = Partial<Record<ServeKey, string>>;

const serveSchema = z.object(
  Object.fromEntries(Object.entries(SERVE_OPTIONS).map(([k, o]) => [k, o.schema.optional()])) as { [K in ServeKey]: z.ZodOptional<(typeof SERVE_OPTIONS)[K]["schema"]> },
);

/** `faultline serve`'s configuration with defaults; the global Config plus the web server's part. */
export interface ServeConfig extends Config {
  host: string;
  port: number;
  /** The origin users reach the server at: links printed, Origin checks, Secure cookies when https. */
  publicUrl: string;
  /** Postgres when set; SQLite at `<dataDir>/faultline.db` when null. */
  databaseUrl: string | null;
  labsDir: string;
  maxSandboxes: number;
  maxSandboxesPerUser: number;
  idleTimeoutMs: number;
  /** Honour X-Forwarded-For/-Proto from one reverse proxy in front (client address, https). */
  trustProxy: boolean;
}

/** Boolean options: the bare flag means true (`--trust-proxy`), `--trust-proxy=false` is allowed. */
const BOOLEAN_OPTIONS: ReadonlySet<ServeKey> = new Set(["trustProxy"]);

/** Parses `serve`'s own arguments; any other argument is a usage error naming it. */
export function parseServeFlags(args: readonly string[]): ServeUserConfig {
  const byFlag = new Map(Object.entries(SERVE_OPTIONS).map(([k, o]) => [o.flag as string, k as ServeKey]));
  const given: ServeUserConfig = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const eq = a.indexOf("=");
    const [flag, inline] = eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined];
    const key = byFlag.get(flag);
    if (!key) throw new FaultlineError(`serve: unknown argument "${a}"`, `the options are ${[...byFlag.keys()].join(", ")}`);
    if (BOOLEAN_OPTIONS.has(key) && inline === undefined) {
      given[key] = "true";
      continue;
    }
    const value = inline ?? args[++i];
    if (value === undefined || value === "" || (inline === undefined && value.startsWith("--"))) {
      throw new FaultlineError(`${flag} needs a value`, `e.g. ${flag} ${SERVE_OPTIONS[key].expected}`);
    }
    given[key] = value;
  }
  return given;
}

/** Merges flags over the environment over defaults, validated once; errors name the flag or variable. */
export function loadServeConfig(base: Config, given: ServeUserConfig, env: NodeJS.ProcessEnv = process.env): ServeConfig {
  const raw: Record<string, string> = {};
  const source: Record<string, string> = {};
  for (const [key, opt] of Object.entries(SERVE_OPTIONS)) {
    const fromFlag = given[key as ServeKey];
    const fromEnv = env[opt.env];
    if (fromFlag !== undefined) (raw[key] = fromFlag), (source[key] = opt.flag);
    else if (fromEnv) (raw[key] = fromEnv), (source[key] = opt.env);
  }
  const res = serveSchema.safeParse(raw);
  if (!res.success) {
    const key = String(res.error.issues[0]!.path[0]) as ServeKey;
    throw new FaultlineError(`${source[key]}: expected ${SERVE_OPTIONS[key].expected}, got "${raw[key]}"`, `give ${source[key]} a valid value, or leave it out for the default`);
  }
  const v = res.data;
  const host = v.host ?? "127.0.0.1";
  const port = v.port ?? 8080;
  const shownHost = host === "0.0.0.0" || host === "::" ? "localhost" : host.includes(":") ? `[${host}]` : host;
  return {
    ...base,
    host,
    port,
    publicUrl: v.publicUrl ?? `http://${shownHost}:${port}`,
    databaseUrl: v.databaseUrl ?? null,
    labsDir: path.resolve(v.labsDir ?? path.join(projectRoot, "labs")),
    maxSandboxes: v.maxSandboxes ?? 20,
    maxSandboxesPerUser: v.maxSandboxesPerUser ?? 2,
    idleTimeoutMs: v.idleTimeout ?? 30 * 60_000,
    trustProxy: v.trustProxy ?? false,
  };
}

function durationMs(text: string): number {
  const n = Number(text.slice(0, -1));
  return n * { s: 1000, m: 60_000, h: 3_600_000 }[text.slice(-1) as "s" | "m" | "h"];
}
