import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import path from "node:path";

/**
 * Resource limits per sandbox: a memory cgroup and a pids cgroup holding every process of the sandbox
 * (supervisor, API server, agents, and the shells the host enters into it). Trainees are untrusted:
 * without this, one `tail /dev/zero` in a shell could take the host's memory.
 *
 * Works with cgroup v2 (unified hierarchy at /sys/fs/cgroup) and v1 (separate memory and pids
 * hierarchies, as on this project's build machines). Where neither is writable the sandbox runs
 * without limits and `limitsUnavailable` says why.
 */
export interface SandboxLimits {
  memoryBytes: number;
  pids: number;
}

export const DEFAULT_LIMITS: SandboxLimits = { memoryBytes: 2 * 1024 ** 3, pids: 4096 };

const ROOT = "/sys/fs/cgroup";

type Layout = { kind: "v2"; dir: string } | { kind: "v1"; memory: string; pids: string };

function layout(): Layout | null {
  if (existsSync(path.join(ROOT, "cgroup.controllers"))) return { kind: "v2", dir: ROOT };
  if (existsSync(path.join(ROOT, "memory", "memory.limit_in_bytes")) && existsSync(path.join(ROOT, "pids", "cgroup.procs"))) {
    return { kind: "v1", memory: path.join(ROOT, "memory"), pids: path.join(ROOT, "pids") };
  }
  return null;
}

/** The cgroup folders of one sandbox, created with its limits; their `cgroup.procs` files to join. */
export interface SandboxCgroup {
  dirs: string[];
  procs: string[];
}

/**
 * Creates the sandbox's cgroups. Returns null (and the reason) when this host gives us none to write.
 *
 * @example
 * const cg = createSandboxCgroup("flag-1", DEFAULT_LIMITS);
 * spawn("sh", ["-c", joinScript(cg), "sh", "unshare", ...]);
 */
export function createSandboxCgroup(name: string, limits: SandboxLimits): { cgroup: SandboxCgroup | null; reason?: string } {
  const l = layout();
  if (!l) return { cgroup: null, reason: "no cgroup v2 or v1 memory+pids hierarchy under /sys/fs/cgroup" };
  try {
    if (l.kind === "v2") {
      const parent = path.join(l.dir, "faultline");
      mkdirSync(parent, { recursive: true });
      // Controllers must be enabled on the way down before a child can use them.
      writeFileSync(path.join(l.dir, "cgroup.subtree_control"), "+memory +pids");
      writeFileSync(path.join(parent, "cgroup.subtree_control"), "+memory +pids");
      const dir = path.join(parent, name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, "memory.max"), String(limits.memoryBytes));
      writeFileSync(path.join(dir, "memory.swap.max"), "0");
      writeFileSync(path.join(dir, "pids.max"), String(limits.pids));
      return { cgroup: { dirs: [dir], procs: [path.join(dir, "cgroup.procs")] } };
    }
    const mem = path.join(l.memory, "faultline", name);
    const pids = path.join(l.pids, "faultline", name);
    mkdirSync(mem, { recursive: true });
    mkdirSync(pids, { recursive: true });
    writeFileSync(path.join(mem, "memory.limit_in_bytes"), String(limits.memoryBytes));
    writeFileSync(path.join(pids, "pids.max"), String(limits.pids));
    return { cgroup: { dirs: [mem, pids], procs: [path.join(mem, "cgroup.procs"), path.join(pids, "cgroup.procs")] } };
  } catch (e) {
    removeSandboxCgroup(name);
    return { cgroup: null, reason: (e as Error).message };
  }
}

/** The cgroup folders a sandbox of this name would have (for removal after a crash). */
function candidateDirs(name: string): string[] {
  return [path.join(ROOT, "faultline", name), path.join(ROOT, "memory", "faultline", name), path.join(ROOT, "pids", "faultline", name)];
}

/** Removes the sandbox's cgroups; only possible once its processes are gone (the kernel refuses before). */
export function removeSandboxCgroup(name: string): void {
  for (const dir of candidateDirs(name)) {
    try {
      if (existsSync(dir)) rmdirSync(dir);
    } catch {
      /* still populated for a moment, or never ours */
    }
  }
}

/**
 * Shell prefix that moves itself into the sandbox's cgroups and then execs its arguments, so every
 * process it starts is counted: `sh -c <script> sh <argv...>`.
 */
export function joinScript(cg: SandboxCgroup | null): string {
  const joins = (cg?.procs ?? []).map((p) => `echo $$ > '${p}'`).join(" && ");
  return `${joins ? joins + " && " : ""}exec "$@"`;
}

/** The cgroups' procs files of an existing sandbox, if it has any. */
export function existingCgroup(name: string): SandboxCgroup | null {
  const dirs = candidateDirs(name).filter((d) => existsSync(path.join(d, "cgroup.procs")));
  return dirs.length ? { dirs, procs: dirs.map((d) => path.join(d, "cgroup.procs")) } : null;
}

/** Current memory use of a sandbox's cgroup in bytes, or null. */
export function memoryUsage(name: string): number | null {
  for (const f of [path.join(ROOT, "faultline", name, "memory.current"), path.join(ROOT, "memory", "faultline", name, "memory.usage_in_bytes")]) {
    try {
      return Number(readFileSync(f, "utf8").trim());
    } catch {
      /* next */
    }
  }
  return null;
}
