/**
 * What the benchmark reads from /proc: which host processes belong to a sandbox, and how much memory
 * they use. A sandbox's processes are those whose real uid lies in its subordinate id range
 * [uidBase, uidBase + 65536), plus the host-side `unshare` (host root) that holds its namespaces.
 * The per-range check is the driver's own (sandboxes/sim/slots.ts); the rest is benchmark-specific.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { IDS_PER_SANDBOX } from "../server/sandboxes/sim/preflight.js";

export { processesInRange } from "../server/sandboxes/sim/slots.js";

export interface ProcInfo {
  pid: number;
  ppid: number;
  /** Real uid, as seen from the host. */
  uid: number;
  /** argv[0]'s base name (agents rename their init to /sbin/init), else the kernel's comm. */
  name: string;
  /** The arguments joined by spaces ("" for kernel threads and zombies). */
  cmdline: string;
}

/**
 * A process's CPU time so far, in ms, from /proc/<pid>/stat (clock ticks of 10 ms): user, system, and
 * what its children it waited for used (a shell's finished commands). `text`: the stat file already
 * read. Throws when the process is gone.
 */
export function procCpu(pid: number | "self", text = readFileSync(`/proc/${pid}/stat`, "utf8")): { userMs: number; sysMs: number; ownMs: number; reapedMs: number } {
  // the fields after the command name, which may itself hold spaces and parentheses
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ").map(Number);
  const [user, sys, cuser, csys] = [f[11]! * 10, f[12]! * 10, f[13]! * 10, f[14]! * 10];
  return { userMs: user, sysMs: sys, ownMs: user + sys, reapedMs: cuser + csys };
}

/** One pass over /proc. Processes that exit meanwhile are skipped. */
export function scanProcesses(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const status = readFileSync(`/proc/${d}/status`, "utf8");
      const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? -1);
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      const comm = /^Name:\s+(.*)$/m.exec(status)?.[1] ?? "?";
      let args: string[] = [];
      try {
        args = readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0").filter(Boolean);
      } catch {
        /* exited */
      }
      out.push({ pid: Number(d), ppid, uid, name: args[0] ? path.basename(args[0]) : comm, cmdline: args.join(" ") });
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

export interface MemSample {
  /** Proportional set size: shared pages divided among every process mapping them. */
  pssKb: number;
  /** Resident set size: shared pages counted in full for every process. */
  rssKb: number;
}

export interface ProcessMemory extends MemSample {
  /** Pages no other process maps (Private_Clean + Private_Dirty): what ending the process would free. */
  privateKb: number;
}

/** Rss, Pss and private memory of one process from /proc/<pid>/smaps_rollup (kB); null if it has exited. */
export function processMemory(pid: number): ProcessMemory | null {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0);
    return { pssKb: kb("Pss"), rssKb: kb("Rss"), privateKb: kb("Private_Clean") + kb("Private_Dirty") };
  } catch {
    return null;
  }
}

export interface SandboxMemory extends MemSample {
  processes: number;
  /** Per process name: how many, and their summed memory. */
  byName: Record<string, { count: number; pssKb: number; rssKb: number }>;
  /**
   * Processes in the sandbox's uid range that do NOT descend from its `unshare`: another sandbox (e.g.
   * from another data dir) sharing the same ids. Counted in the figures above, reported so it shows.
   */
  foreign: number;
}

/** A sandbox's processes: every process in its uid range plus its host-side unshare. */
export function sandboxProcesses(meta: { uidBase: number; unsharePid: number }, procs: ProcInfo[] = scanProcesses()): ProcInfo[] {
  return procs.filter((p) => p.pid === meta.unsharePid || (p.uid >= meta.uidBase && p.uid < meta.uidBase + IDS_PER_SANDBOX));
}

/** Memory of one sandbox: every process in its uid range plus its host-side unshare. */
export function sandboxMemory(meta: { uidBase: number; unsharePid: number }, procs: ProcInfo[] = scanProcesses()): SandboxMemory {
  const parent = new Map(procs.map((p) => [p.pid, p.ppid]));
  const descends = (pid: number): boolean => {
    for (let p = pid, depth = 0; p > 1 && depth < 64; p = parent.get(p) ?? 0, depth++) if (p === meta.unsharePid) return true;
    return false;
  };
  const members = sandboxProcesses(meta, procs);
  const res: SandboxMemory = { pssKb: 0, rssKb: 0, processes: 0, byName: {}, foreign: 0 };
  for (const p of members) {
    const m = processMemory(p.pid);
    if (!m) continue;
    res.processes++;
    res.pssKb += m.pssKb;
    res.rssKb += m.rssKb;
    const slot = (res.byName[p.name] ??= { count: 0, pssKb: 0, rssKb: 0 });
    slot.count++;
    slot.pssKb += m.pssKb;
    slot.rssKb += m.rssKb;
    if (!descends(p.pid)) res.foreign++;
  }
  return res;
}

/** MemAvailable from /proc/meminfo, in kB: a host-wide (noisy) cross-check that includes kernel memory. */
export function memAvailableKb(): number {
  return Number(/^MemAvailable:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"))?.[1] ?? Number.NaN);
}

/** Direct children of this process (all threads), e.g. the `unshare`s the driver spawned. */
export function ourChildren(): Array<{ pid: number; comm: string; zombie: boolean }> {
  const out: Array<{ pid: number; comm: string; zombie: boolean }> = [];
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${process.pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    let kids = "";
    try {
      kids = readFileSync(`/proc/${process.pid}/task/${tid}/children`, "utf8").trim();
    } catch {
      continue;
    }
    for (const k of kids ? kids.split(" ") : []) {
      try {
        const stat = readFileSync(`/proc/${k}/stat`, "utf8");
        const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
        out.push({ pid: Number(k), comm, zombie: stat[stat.lastIndexOf(")") + 2] === "Z" });
      } catch {
        /* exited */
      }
    }
  }
  return out;
}
