/**
 * Commands for checks, run through one long-lived shell per sandbox target instead of one host process
 * per command. Forking from a large Node.js process costs milliseconds of CPU (the page tables are
 * copied: ~2-5 ms at 100-200 MB), and a probe runs every few seconds per session; the shell forks the
 * command inside the sandbox instead, where it is small and counted against the sandbox's cgroup.
 *
 * The shell is entered like any other (SimDriver.enterArgv: the target's namespaces, the sandbox's id,
 * cgroups and process limit, a clean environment). Each command runs under coreutils `timeout`, with
 * stdin from /dev/null and its output in files of a private temporary folder, which bash reads back
 * with builtins and prints after a header line (see commandLine): two processes per command in the
 * sandbox (`timeout` and the command), none on the host. One command at a time per shell; others queue. A shell is replaced when the sandbox is re-provisioned
 * (the generation in ready.json changes: it would still sit in the old namespaces), when it dies, or
 * when a command outlives its limit; it exits by itself after `idleMs` without commands.
 *
 * @example
 * ```ts
 * const shell = new TargetShells(driver, "webhook-to-kernel");
 * await shell.run("node/cp-1", ["nc", "-z", "-w", "2", "10.233.0.10", "443"], 4000);
 * // { code: 1, stdout: "", stderr: "nc: connect to 10.233.0.10 port 443 (tcp) timed out: ...", timedOut: false }
 * shell.close();
 * ```
 */
import { spawn, type ChildProcess } from "node:child_process";
import { FaultlineError } from "../errors.js";
import { killProcessGroup } from "../proc.js";
import type { SimDriver } from "../sandboxes/sim/driver.js";
import { CouldNotCheck, type ExecOutcome } from "./types.js";

const MARK = "@@faultline";
/** Exit status of `timeout` when the limit is reached (124), or when it had to KILL (128 + 9). */
const TIMED_OUT = new Set([124, 137]);

/** A shell word for any string: single quotes, with embedded ones closed, escaped and reopened. */
export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * The shell: bash with byte semantics (LC_ALL=C: `${#v}` counts bytes), no rc files, a private
 * folder for each command's output.
 */
export const SHELL_ARGV = ["bash", "--noprofile", "--norc"];
export const SHELL_INIT = "export LC_ALL=C; T=$(mktemp -d) || exit 1\n";

/**
 * The line the shell runs for one command: under `timeout`, stdin from /dev/null, output to files,
 * read back with builtins (no process: `read -N` takes up to 1 MiB of each stream as is), then a header
 * `@@faultline <id> <exit> <stdout bytes> <stderr bytes>` followed by both streams' bytes.
 */
export function commandLine(id: number, argv: string[], timeoutMs: number): string {
  const secs = Math.max(0.1, timeoutMs / 1000);
  const cmd = ["timeout", "-k", "1", String(secs), ...argv].map(shellQuote).join(" ");
  return (
    `${cmd} </dev/null >"$T/o" 2>"$T/e"; c=$?; o=; e=; ` +
    `IFS= read -r -N 1048576 o <"$T/o"; IFS= read -r -N 1048576 e <"$T/e"; ` +
    `printf '${MARK} ${id} %s %s %s\\n%s%s' "$c" "\${#o}" "\${#e}" "$o" "$e"\n`
  );
}

export interface ShellResult {
  id: number;
  code: number;
  stdout: string;
  stderr: string;
}

/** Parses the shell's output, which may arrive in any pieces, into results. */
export class ResultReader {
  #buf: Buffer = Buffer.alloc(0);
  #head: { id: number; code: number; out: number; err: number } | null = null;

  push(chunk: Buffer): ShellResult[] {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    const out: ShellResult[] = [];
    for (;;) {
      if (!this.#head) {
        const nl = this.#buf.indexOf(0x0a);
        if (nl < 0) return out;
        const line = this.#buf.subarray(0, nl).toString("latin1");
        this.#buf = this.#buf.subarray(nl + 1);
        const m = new RegExp(`^${MARK} (\\d+) (\\d+) (\\d+) (\\d+)$`).exec(line);
        if (m) this.#head = { id: Number(m[1]), code: Number(m[2]), out: Number(m[3]), err: Number(m[4]) };
        continue;
      }
      const h = this.#head;
      if (this.#buf.length < h.out + h.err) return out;
      out.push({
        id: h.id,
        code: h.code,
        stdout: this.#buf.subarray(0, h.out).toString("utf8"),
        stderr: this.#buf.subarray(h.out, h.out + h.err).toString("utf8"),
      });
      this.#buf = this.#buf.subarray(h.out + h.err);
      this.#head = null;
    }
  }
}

interface Pending {
  id: number;
  line: string;
  limitMs: number;
  resolve: (r: ExecOutcome) => void;
  reject: (e: Error) => void;
}

/** One shell in one target. */
class Shell {
  readonly child: ChildProcess;
  readonly #reader = new ResultReader();
  #queue: Pending[] = [];
  #current: { p: Pending; timer: NodeJS.Timeout } | null = null;
  #dead: Error | null = null;
  #idle: NodeJS.Timeout | null = null;

  constructor(argv: string[], readonly generation: number, private readonly idleMs: number, private readonly onGone: () => void) {
    this.child = spawn(argv[0]!, argv.slice(1), { stdio: ["pipe", "pipe", "pipe"], env: {}, detached: true });
    // The shell never keeps the server (or a test) running by itself.
    this.child.unref();
    for (const s of [this.child.stdin, this.child.stdout, this.child.stderr] as Array<{ unref?: () => void } | null>) s?.unref?.();
    this.child.stdout!.on("data", (d: Buffer) => this.#data(d));
    this.child.stderr!.resume();
    this.child.stdin!.on("error", () => {});
    this.child.on("error", (e) => this.#die(e));
    this.child.on("close", () => this.#die(new Error("the shell exited")));
    this.child.stdin!.write(SHELL_INIT);
    this.#armIdle();
  }

  get alive(): boolean {
    return this.#dead === null;
  }

  run(id: number, argv: string[], timeoutMs: number): Promise<ExecOutcome> {
    if (this.#dead) return Promise.reject(this.#dead);
    return new Promise((resolve, reject) => {
      // The command's own limit is `timeout` inside; this one only catches a shell that stopped
      // answering, generously (a busy host runs the command late): replacing a shell costs a fork here.
      this.#queue.push({ id, line: commandLine(id, argv, timeoutMs), limitMs: timeoutMs + 15_000, resolve, reject });
      this.#next();
    });
  }

  close(): void {
    this.#die(new Error("closed"));
  }

  #armIdle(): void {
    if (this.#idle) clearTimeout(this.#idle);
    this.#idle = setTimeout(() => this.close(), this.idleMs);
    this.#idle.unref();
  }

  #next(): void {
    if (this.#current || this.#dead) return;
    const p = this.#queue.shift();
    if (!p) return this.#armIdle();
    if (this.#idle) clearTimeout(this.#idle);
    const timer = setTimeout(() => this.#die(new Error(`no answer within ${p.limitMs} ms`)), p.limitMs);
    this.#current = { p, timer };
    this.child.stdin!.write(p.line);
  }

  #data(d: Buffer): void {
    for (const r of this.#reader.push(d)) {
      const cur = this.#current;
      if (!cur || r.id !== cur.p.id) continue;
      clearTimeout(cur.timer);
      this.#current = null;
      cur.p.resolve({ code: r.code, stdout: r.stdout, stderr: r.stderr, timedOut: TIMED_OUT.has(r.code) });
      this.#next();
    }
  }

  #die(err: Error): void {
    if (this.#dead) return;
    this.#dead = err;
    if (this.#idle) clearTimeout(this.#idle);
    if (this.#current) clearTimeout(this.#current.timer);
    const waiting = [...(this.#current ? [this.#current.p] : []), ...this.#queue];
    this.#current = null;
    this.#queue = [];
    for (const p of waiting) p.reject(err);
    this.child.stdin!.end();
    // The host side (sh, nsenter) leads its own group; the shell inside ends on its stdin's EOF.
    if (this.child.pid && this.child.exitCode === null) killProcessGroup(this.child.pid);
    this.onGone();
  }
}

/** The shells of one sandbox, by target. */
export class TargetShells {
  readonly #shells = new Map<string, Shell>();
  #ids = 0;

  constructor(private readonly driver: SimDriver, private readonly name: string, private readonly idleMs = 30_000) {}

  /** Runs argv in `target` under `timeout`; CouldNotCheck when the sandbox cannot run it. */
  async run(target: string, argv: string[], timeoutMs: number): Promise<ExecOutcome> {
    let generation: number;
    try {
      generation = this.driver.ready(this.name).generation;
    } catch (err) {
      throw new CouldNotCheck(err instanceof Error ? err.message : String(err));
    }
    let shell = this.#shells.get(target);
    if (shell && (!shell.alive || shell.generation !== generation)) {
      shell.close();
      shell = undefined;
    }
    if (!shell) {
      let argv0: string[];
      try {
        argv0 = this.driver.enterArgv(this.name, target, SHELL_ARGV);
      } catch (err) {
        throw new CouldNotCheck(err instanceof FaultlineError ? err.message : String(err));
      }
      const created: Shell = new Shell(argv0, generation, this.idleMs, () => {
        if (this.#shells.get(target) === created) this.#shells.delete(target);
      });
      shell = created;
      this.#shells.set(target, shell);
    }
    try {
      return await shell.run(++this.#ids, argv, timeoutMs);
    } catch (err) {
      // Killed with its namespaces (a re-provisioning), or stuck: the next command gets a new shell.
      throw new CouldNotCheck(`${target}: ${(err as Error).message} (the sandbox may be re-provisioning)`);
    }
  }

  /** Ends every shell (they also end by themselves after the idle time). */
  close(): void {
    for (const s of [...this.#shells.values()]) s.close();
    this.#shells.clear();
  }
}
