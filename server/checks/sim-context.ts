/**
 * The CheckContext of a sim sandbox: the API server through the host's loopback relay (the admin
 * kubeconfig), commands through one long-lived shell per target (sim-shell.ts), the workspace from
 * the box on the host, the plan from `plan.json`, and the supervisor's writes to `plan.json` and
 * `ready.json` as state changes.
 *
 * @example
 * ```ts
 * const ctx = simCheckContext(driver, "webhook-to-kernel", { writeup: () => store.writeupOf(session) });
 * await runCheck({ probe: { from: "node/cp-1", to: "svc/metallb-system/metallb-webhook-service", port: 443 } }, ctx);
 * ```
 */
import { constants, statSync, watch as fsWatch, type FSWatcher } from "node:fs";
import { open, readFile, readlink, realpath } from "node:fs/promises";
import path from "node:path";
import { FaultlineError } from "../errors.js";
import type { SimDriver } from "../sandboxes/sim/driver.js";
import type { ClusterPlan } from "../sim/plan.js";
import { kubeHandleFromString } from "./kube-client.js";
import { TargetShells } from "./sim-shell.js";
import { CouldNotCheck, type CheckContext, type ExecOutcome, type KubeHandle } from "./types.js";

export interface SimContextOptions {
  /** The trainee's write-up (the web app's store); default: none. */
  writeup?: () => string | null | Promise<string | null>;
  /** Ends every check in flight when aborted. */
  signal?: AbortSignal;
}

/** Workspace files larger than this are refused (a check reads inventories and manifests, not data). */
export const MAX_WORKSPACE_FILE = 1024 * 1024;

function couldNotCheck(err: unknown): CouldNotCheck {
  if (err instanceof CouldNotCheck) return err;
  if (err instanceof FaultlineError) return new CouldNotCheck(err.message, { cause: err });
  return new CouldNotCheck(err instanceof Error ? err.message : String(err), { cause: err });
}

function inside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === "" || (!rel.startsWith(".." + path.sep) && rel !== ".." && !path.isAbsolute(rel));
}

/**
 * Reads `rel` below `root` without leaving it: no absolute paths or `..` segments; symlinks are
 * followed only while they stay inside (checked on the resolved path, and again on the file actually
 * opened, through /proc/self/fd, so a link swapped in meanwhile is caught); only regular files up to
 * 1 MiB. Null when the file (or a folder on its way) does not exist.
 */
export async function readConfined(root: string, rel: string): Promise<string | null> {
  if (path.isAbsolute(rel) || rel.split(/[\\/]+/).includes("..")) throw new CouldNotCheck(`${rel}: workspace paths are relative and stay inside it (no ..)`);
  const realRoot = await realpath(root).catch((err: unknown) => {
    throw new CouldNotCheck(`the workspace is not there (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  });
  let real: string;
  try {
    real = await realpath(path.join(realRoot, rel));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return null;
    throw new CouldNotCheck(`${rel}: ${code ?? String(err)}`);
  }
  if (!inside(realRoot, real)) throw new CouldNotCheck(`${rel} leads out of the workspace (a symlink)`);
  let fh;
  try {
    fh = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return null;
    throw new CouldNotCheck(`${rel}: ${code === "ELOOP" ? "changed into a symlink while being read" : (code ?? String(err))}`);
  }
  try {
    const opened = await readlink(`/proc/self/fd/${fh.fd}`);
    if (!inside(realRoot, opened)) throw new CouldNotCheck(`${rel} leads out of the workspace`);
    const st = await fh.stat();
    if (!st.isFile()) throw new CouldNotCheck(`${rel} is not a regular file`);
    if (st.size > MAX_WORKSPACE_FILE) throw new CouldNotCheck(`${rel} is larger than 1 MiB`);
    return await fh.readFile("utf8");
  } finally {
    await fh.close();
  }
}

/** A JSON file the supervisor rewrites in place: parsed again only when its mtime changes. */
function cachedJson<T>(file: string): () => Promise<T | null> {
  let cache: { mtimeMs: number; size: number; value: T } | null = null;
  return async () => {
    for (let attempt = 0; ; attempt++) {
      let st;
      try {
        // Synchronous on purpose: a local stat takes microseconds, a promise one a trip to the thread pool.
        st = statSync(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
        throw couldNotCheck(err);
      }
      if (cache && cache.mtimeMs === st.mtimeMs && cache.size === st.size) return cache.value;
      try {
        const value = JSON.parse(await readFile(file, "utf8")) as T;
        cache = { mtimeMs: st.mtimeMs, size: st.size, value };
        return value;
      } catch (err) {
        // Caught mid-write (writeFileSync truncates, then writes): read again in a moment.
        if (attempt >= 5) throw new CouldNotCheck(`${path.basename(file)} cannot be read: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  };
}

/** The CheckContext of the sim sandbox `name`. */
export function simCheckContext(driver: SimDriver, name: string, opts: SimContextOptions = {}): CheckContext {
  const paths = driver.paths(name);
  const readPlan = cachedJson<ClusterPlan>(paths.plan);
  let cp: string | null = null;
  let kube: { mtimeMs: number; handle: ReturnType<typeof kubeHandleFromString> } | null = null;
  const shells = new TargetShells(driver, name);

  return {
    sandbox: name,
    signal: opts.signal ?? new AbortController().signal,
    workspaceDir: paths.workspace,

    kube(): KubeHandle {
      try {
        // The API server rewrites admin.conf when it starts (a re-provisioning): reload on change only.
        cp ??= driver.plan(name).nodes.find((n) => n.role === "control-plane")?.name ?? null;
        if (!cp) throw new CouldNotCheck(`sandbox "${name}" has no control plane, so no API server`);
        const { mtimeMs } = statSyncOrNull(paths.adminConf(cp)) ?? { mtimeMs: -1 };
        if (!kube || kube.mtimeMs !== mtimeMs) {
          kube?.handle.config.destroy();
          kube = { mtimeMs, handle: kubeHandleFromString(driver.kubeconfig(name)) };
        }
        return kube.handle;
      } catch (err) {
        throw couldNotCheck(err);
      }
    },

    exec: (target: string, argv: string[], { timeoutMs }: { timeoutMs: number }): Promise<ExecOutcome> => shells.run(target, argv, timeoutMs),

    readWorkspaceFile: (rel: string) => readConfined(paths.workspace, rel),

    plan: async () => readPlan(),

    writeup: async () => (opts.writeup ? opts.writeup() : null),

    close: () => {
      shells.close();
      kube?.handle.config.destroy();
      kube = null;
    },

    watchState(onChange: () => void): () => void {
      let watcher: FSWatcher | null = null;
      try {
        watcher = fsWatch(paths.box, (_event, file) => {
          if (file === "plan.json" || file === "ready.json") onChange();
        });
        watcher.on("error", () => watcher?.close());
      } catch {
        /* the box is gone: the sandbox is down, and checks say so */
      }
      return () => watcher?.close();
    },
  };
}

function statSyncOrNull(file: string): { mtimeMs: number } | null {
  try {
    return statSync(file);
  } catch {
    return null;
  }
}
