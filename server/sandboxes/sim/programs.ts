import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { FaultlineError } from "../../errors.js";
import { distRoot } from "../../paths.js";

/**
 * The Node.js programs every sim sandbox runs, each bundled into one CommonJS file by
 * scripts/bundle-sandbox.mjs during `npm run build`, with a startup snapshot of each: loading one file
 * instead of ~170 modules roughly halves each process's start-up, and starting from the snapshot skips
 * evaluating them too. Both are on the path to a ready sandbox (docs/sandboxes.md).
 *
 * Each program is given as the arguments of `node` that start it, before the program's own:
 * `["--snapshot-blob", ".../supervisor.blob"]`, or `[".../supervisor.cjs"]` where the snapshot cannot be
 * used (it was made by another Node.js version or architecture, or in another folder).
 */
export interface SandboxPrograms {
  /** The supervisor (server/sandboxes/sim/supervisor.ts), started by the driver in the new namespaces. */
  supervisor: string[];
  /** The API server process (server/sim/apiserver/main.ts), started by the supervisor in the control plane's namespace. */
  apiserver: string[];
}

/** Where `npm run build` puts the bundles. */
export const DEFAULT_PROGRAMS_DIR = path.join(distRoot, "sandbox");

const BUILD_HINT = "run `npm run build` (it bundles them into dist/sandbox/; `npm run build:sandbox` redoes only that step after tsc)";

/** What scripts/bundle-sandbox.mjs writes beside the bundles: the compiled files inside each, relative to dist/, and who made the snapshots. */
interface Manifest {
  snapshot?: { node?: string; arch?: string; dir?: string };
  bundles: Record<string, { inputs: string[] }>;
}

const NAMES = ["supervisor", "apiserver"] as const;

/**
 * The bundled programs in `dir`, checked: each exists, and none is older than a compiled file it was made
 * from (sources compiled again by tsc alone would otherwise run stale inside sandboxes). Throws a
 * FaultlineError that says to run `npm run build`.
 *
 * @example spawn(process.execPath, [...sandboxPrograms().supervisor, specFile])
 */
export function sandboxPrograms(dir = DEFAULT_PROGRAMS_DIR): SandboxPrograms {
  const scripts = Object.fromEntries(NAMES.map((n) => [n, path.join(dir, `${n}.cjs`)])) as Record<(typeof NAMES)[number], string>;
  const missing = Object.values(scripts).filter((f) => !statSync(f, { throwIfNoEntry: false })?.isFile());
  if (missing.length) {
    throw new FaultlineError(`the sandbox programs are not built: ${missing.join(" and ")} ${missing.length === 1 ? "is" : "are"} missing`, BUILD_HINT);
  }
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(path.join(dir, "manifest.json"), "utf8")) as Manifest;
  } catch {
    throw new FaultlineError(`the sandbox programs in ${dir} have no readable manifest.json`, BUILD_HINT);
  }
  // The manifest's paths are relative to the dist/ folder the bundles were made from, the parent of `dir`.
  const base = path.dirname(dir);
  const programs = {} as SandboxPrograms;
  for (const name of NAMES) {
    const file = scripts[name];
    const inputs = manifest.bundles?.[name]?.inputs;
    if (!Array.isArray(inputs)) throw new FaultlineError(`the manifest in ${dir} does not list the ${name} bundle`, BUILD_HINT);
    const built = statSync(file).mtimeMs;
    for (const input of inputs) {
      const st = statSync(path.join(base, input), { throwIfNoEntry: false });
      if (st && st.mtimeMs > built) {
        throw new FaultlineError(`the sandbox program ${file} is older than ${path.join(base, input)}, compiled after it`, BUILD_HINT);
      }
    }
    const blob = path.join(dir, `${name}.blob`);
    programs[name] = snapshotUsable(manifest, dir, blob, built) ? ["--snapshot-blob", blob] : [file];
  }
  return programs;
}

/**
 * Whether this Node.js can start from the snapshot: Node refuses (exits 1) a blob made by another
 * version or architecture, and the snapshot holds the paths of the folder it was made in.
 */
function snapshotUsable(manifest: Manifest, dir: string, blob: string, scriptBuilt: number): boolean {
  const made = manifest.snapshot;
  if (made?.node !== process.version || made.arch !== process.arch || path.resolve(made.dir ?? "") !== path.resolve(dir)) return false;
  const st = statSync(blob, { throwIfNoEntry: false });
  return !!st?.isFile() && st.mtimeMs >= scriptBuilt;
}
