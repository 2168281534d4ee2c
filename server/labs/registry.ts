/**
 * Every lab in a folder, loaded once for the server: the valid ones to serve, the invalid ones with
 * the reasons, so one broken lab never takes the others down.
 */
import { existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import path from "node:path";
import { FaultlineError } from "../errors.js";
import { labsRoot } from "../paths.js";
import { shown } from "./files.js";
import { loadLab, type Lab, type LabProblem, type LoadOptions } from "./lab.js";

export interface InvalidLab {
  dir: string;
  errors: LabProblem[];
}

/**
 * @example
 * const { labs, invalid } = await loadAllLabs();
 * // labs: [{ id: "webhook-to-kernel", ... }], invalid: [{ dir: "/srv/faultline/labs/draft", errors: [...] }]
 */
export interface LabRegistry {
  /** Valid labs, by id. */
  labs: Lab[];
  invalid: InvalidLab[];
}

/** The lab folders in `root`: every folder not starting with `.` or `_`, in name order. */
export async function labFolders(root = labsRoot): Promise<string[]> {
  if (!existsSync(root)) return [];
  const entries = await readdir(root, { withFileTypes: true });
  return entries
    .filter((e) => e.isDirectory() && !/^[._]/.test(e.name))
    .map((e) => path.join(root, e.name))
    .sort();
}

/** Loads every lab folder in `opts.labsRoot` (default labs/). */
export async function loadAllLabs(opts: LoadOptions = {}): Promise<LabRegistry> {
  const results = await Promise.all((await labFolders(opts.labsRoot)).map((dir) => loadLab(dir, opts)));
  return {
    labs: results.flatMap((r) => (r.ok ? [r.lab] : [])),
    invalid: results.flatMap((r) => (r.ok ? [] : [{ dir: r.dir, errors: r.errors }])),
  };
}

/** The lab `id` from the registry; a FaultlineError saying why when it is invalid or unknown. */
export function findLab(reg: LabRegistry, id: string): Lab {
  const lab = reg.labs.find((l) => l.id === id);
  if (lab) return lab;
  const bad = reg.invalid.find((l) => path.basename(l.dir) === id);
  if (bad) {
    const [first, ...rest] = bad.errors;
    throw new FaultlineError(
      `lab "${id}" is not available: ${first!.location}: ${first!.message}${rest.length ? ` (and ${rest.length} more problem${rest.length > 1 ? "s" : ""})` : ""}`,
      `run \`faultline lab validate ${shown(bad.dir)}\` for every problem and its fix`,
    );
  }
  throw new FaultlineError(`no lab "${id}"`, `the labs are ${reg.labs.map((l) => l.id).join(", ") || "(none)"}`);
}
