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
