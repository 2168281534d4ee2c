import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { FaultlineError } from "../../errors.js";

/**
 * Host-wide table of subordinate id slots. Every data directory on a host draws from the same
 * /etc/subuid range, so the table lives in one place for the whole host (under /run: it empties on
 * reboot, as the processes that held the ids do). A slot is a folder made with an atomic mkdir,
 * holding the absolute path of the sandbox folder that owns it.
 */
export const DEFAULT_SLOTS_DIR = "/run/faultline/slots";

/** A slot claimed less than this long ago may still be waiting for its sandbox folder: gc leaves it. */
const CLAIM_GRACE_MS = 60_000;

export class SlotTable {
  constructor(readonly dir: string) {}

  /**
   * Claims the lowest free slot whose ids nothing uses (`idle` double-checks live processes, so a
   * leftover of a crashed sandbox never shares ids with a new one).
   */
  claim(owner: string, slots: number, idle: (slot: number) => boolean): number {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    for (let i = 0; i < slots; i++) {
      const dir = path.join(this.dir, String(i));
      try {
        mkdirSync(dir);
      } catch {
        continue; // taken
      }
      if (!idle(i)) {
        // Someone's processes still hold these ids: keep the slot marked, a later gc frees it.
        writeFileSync(path.join(dir, "owner"), "(busy: processes still running in this id range)");
        continue;
      }
      writeFileSync(path.join(dir, "owner"), owner);
      return i;
    }
    throw new FaultlineError(`all ${slots} sandbox id ranges are in use`, "remove sandboxes with `faultline sandbox down`, or `faultline gc` for dead ones");
  }

  free(slot: number): void {
    rmSync(path.join(this.dir, String(slot)), { recursive: true, force: true });
  }

  owners(): Array<{ slot: number; owner: string; ageMs: number }> {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .filter((s) => /^\d+$/.test(s))
      .map((s) => {
        const dir = path.join(this.dir, s);
        let owner = "";
        try {
          owner = readFileSync(path.join(dir, "owner"), "utf8");
        } catch {
          /* claimed this instant, or half written */
        }
        let ageMs = 0;
        try {
          ageMs = Date.now() - statSync(dir).mtimeMs;
        } catch {
          /* freed meanwhile */
        }
        return { slot: Number(s), owner, ageMs };
      });
  }

  freeOwnedBy(owner: string): void {
    for (const o of this.owners()) if (o.owner === owner) this.free(o.slot);
  }

  /** Frees slots whose sandbox folder no longer exists (or that were marked busy), after a grace period. */
  collect(isIdle: (slot: number) => boolean = () => true): number[] {
    const freed: number[] = [];
    for (const o of this.owners()) {
      if (o.ageMs < CLAIM_GRACE_MS) continue;
      const orphan = !o.owner.startsWith("/") || !existsSync(o.owner);
      if (orphan && isIdle(o.slot)) {
        this.free(o.slot);
        freed.push(o.slot);
      }
    }
    return freed;
  }
}

/** Host pids of processes whose real uid lies in [base, base + 65536): what a sandbox's ids are running. */
export function processesInRange(base: number, count = 65536): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const m = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${d}/status`, "utf8"));
      const uid = Number(m?.[1]);
      if (uid >= base && uid < base + count) out.push(Number(d));
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

/** A FIFO with at most `width` tasks running: callers beyond it wait their turn instead of failing. */
export class Queue {
  private running = 0;
  private waiting: Array<() => void> = [];

  constructor(readonly width: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.width) await new Promise<void>((r) => this.waiting.push(r));
    this.running++;
    try {
      return await task();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}
