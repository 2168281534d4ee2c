/**
 * Starts the sandbox's processes from one small bash instead of from the supervisor itself.
 *
 * Node's spawn() forks the whole supervisor (~65 MB: its page tables are copied) and then blocks the
 * event loop until the child has exec'd. On two busy cores that took 2 to 22 ms per process, and a
 * build starts about 80 of them (network tools, 20 node and pod agents, the workloads' socat relays),
 * one after the other on the supervisor's only thread: that queue was most of a sandbox's start-up.
 * bash forks in a fraction of a millisecond and the supervisor only writes a line.
 *
 * Protocol, over bash's stdin and stdout: the supervisor writes `<id> <bytes>\n<script>`, where the
 * script is one `exec ...` command line with its redirections (shell-quoted here, so nothing in it is
 * interpreted twice). bash runs it in the background and answers `pid <id> <pid>` once it runs, then,
 * for a short-lived job, `exit <id> <status>` once it ended (a subshell waits for it). Both are short
 * lines, written atomically to the pipe, so jobs that end together never interleave. Output to capture
 * goes to files in `dir`, read on exit. Long-lived jobs (agents, relays) get no waiting subshell; their
 * end is seen in /proc.
 *
 * @example
 * ```ts
 * const l = new Launcher("/box/launcher");
 * await l.run(["ip", "-batch", "-"], "netns add a\n");            // a Runner, like spawnRunner
 * const job = l.start(["socat", "TCP-LISTEN:80,fork", "UNIX-CONNECT:/s.sock"]);
 * await job.kill();                                             // SIGKILL, resolves once it exited
 * ```
 */
import { spawn, type ChildProcessByStdio } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Readable, Writable } from "node:stream";
import { FaultlineError } from "../../errors.js";
import { shellQuote } from "../../checks/sim-shell.js";
import type { Runner } from "../../sim/dataplane/execute.js";

/**
 * The launcher itself. `read -N` takes exactly the script's bytes (LC_ALL=C: characters are bytes).
 * A background job of a non-interactive bash gets /dev/null as stdin, so no job reads the protocol.
 */
const LAUNCHER_SCRIPT = [
  "export LC_ALL=C",
  "while read -r id len mode && IFS= read -r -N \"$len\" cmd; do",
  // A job whose end is reported: a subshell waits for it (a short-lived tool).
  "  if [ \"$mode\" = w ]; then { eval \"$cmd\" & p=$!; echo \"pid $id $p\"; wait \"$p\"; echo \"exit $id $?\"; } &",
  // A long-lived one: no waiting subshell (~0.2 MiB each, 30 per sandbox); bash reaps it when it ends.
  "  else eval \"$cmd\" & echo \"pid $id $!\"; fi",
  "done",
].join("\n");

export interface StartOptions {
  /** A file the command reads as stdin (default /dev/null). */
  stdinFile?: string;
  /** Where stdout goes: nowhere (default), or a file read back by `run`. */
  stdoutFile?: string;
  /** Where stderr goes: the launcher's own (the supervisor's log, default), or a file. */
  stderrFile?: string;
  /** Extra descriptors opened for writing, e.g. `{ 3: "<file>" }` for bubblewrap's --info-fd. */
  writeFds?: Record<number, string>;
  /**
   * A process that runs until killed (an agent, a relay): its end is not reported by bash, and `exited`
   * and `exitCode` learn of it only by looking (`running()`, `kill()`); `exitCode` is then -1.
   */
  longLived?: boolean;
}

/** One launched process. */
export class Job {
  /** The process id, once bash has forked it. */
  readonly pid: Promise<number>;
  /** Its exit status (128 + signal when killed), once it ended. */
  readonly exited: Promise<number>;
  exitCode: number | null = null;
  #pid: number | null = null;
  #resolvePid!: (pid: number) => void;
  #rejectPid!: (e: Error) => void;
  #resolveExit!: (code: number) => void;

  constructor(readonly id: number, readonly argv: string[], readonly longLived = false) {
    this.pid = new Promise((res, rej) => ((this.#resolvePid = res), (this.#rejectPid = rej)));
    this.exited = new Promise((res) => (this.#resolveExit = res));
    this.pid.catch(() => {});
  }

  /** The pid if it is known already. */
  get knownPid(): number | null {
    return this.#pid;
  }

  started(pid: number): void {
    this.#pid = pid;
    this.#resolvePid(pid);
  }

  ended(code: number): void {
    if (this.exitCode !== null) return;
    this.exitCode = code;
    // A job that never started (the launcher died first) has no pid to wait for.
    this.#rejectPid(new FaultlineError(`${this.argv[0]} was not started: the sandbox's launcher is gone`));
    this.#resolveExit(code);
  }

  /**
   * Whether the process runs (true while it is being started). A long-lived job is looked up in
   * /proc: gone, or a zombie waiting for bash to reap it, counts as ended.
   */
  running(): boolean {
    if (this.exitCode !== null) return false;
    if (!this.longLived || this.#pid === null) return true;
    let stat = "";
    try {
      stat = readFileSync(`/proc/${this.#pid}/stat`, "utf8");
    } catch {
      // gone
    }
    if (stat && !/^\d+ \(.*\) Z/s.test(stat)) return true;
    this.ended(-1);
    return false;
  }

  /** SIGKILLs the process and resolves once it has exited (at most 5 s). */
  async kill(): Promise<void> {
    if (this.exitCode !== null) return;
    const pid = await this.pid.catch(() => null);
    if (pid === null || this.exitCode !== null) return;
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* already gone: the exit line is on its way */
    }
    const deadline = Date.now() + 5000;
    if (this.longLived) {
      while (this.running() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.exited, new Promise((r) => (timer = setTimeout(r, 5000)))]);
    clearTimeout(timer);
  }
}

export class Launcher {
  readonly #bash: ChildProcessByStdio<Writable, Readable, null>;
  readonly #jobs = new Map<number, Job>();
  #ids = 0;
  /** Names the files of each `run`. */
  #runs = 0;
  #buf = "";
  #dead: Error | null = null;

  /** `dir` holds the captured output and input files of `run`; it is created, and emptied by `close`. */
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    this.#bash = spawn("bash", ["--noprofile", "--norc", "-c", LAUNCHER_SCRIPT], { stdio: ["pipe", "pipe", "inherit"], env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin" } });
    this.#bash.stdin.on("error", () => {});
    this.#bash.stdout.setEncoding("latin1");
    this.#bash.stdout.on("data", (d: string) => this.#data(d));
    this.#bash.on("error", (e) => this.#die(e));
    this.#bash.on("exit", (code, sig) => this.#die(new FaultlineError(`the sandbox's launcher (bash) exited (${sig ?? code})`, "see supervisor.log in the sandbox folder")));
  }

  /** Starts argv in the background; see StartOptions for its descriptors. */
  start(argv: string[], opts: StartOptions = {}): Job {
    const job = new Job(++this.#ids, argv, opts.longLived ?? false);
    if (this.#dead) {
      job.ended(127);
      return job;
    }
    const redirs = [
      `<${shellQuote(opts.stdinFile ?? "/dev/null")}`,
      `>${shellQuote(opts.stdoutFile ?? "/dev/null")}`,
      ...(opts.stderrFile ? [`2>${shellQuote(opts.stderrFile)}`] : []),
      ...Object.entries(opts.writeFds ?? {}).map(([fd, file]) => `${Number(fd)}>${shellQuote(file)}`),
    ];
    const script = `exec ${argv.map(shellQuote).join(" ")} ${redirs.join(" ")}`;
    this.#jobs.set(job.id, job);
    const bytes = Buffer.from(script);
    this.#bash.stdin.write(Buffer.concat([Buffer.from(`${job.id} ${bytes.length} ${job.longLived ? "d" : "w"}\n`), bytes]));
    return job;
  }

  /** A Runner (see dataplane/execute.ts): resolves with stdout, rejects with the tool's own stderr. */
  readonly run: Runner = async (argv, input) => {
    if (this.#dead) throw new FaultlineError(`${argv.join(" ")} was not started: ${this.#dead.message}`);
    const stem = path.join(this.dir, `run-${++this.#runs}`);
    const files = { out: `${stem}.out`, err: `${stem}.err`, ...(input === undefined ? {} : { in: `${stem}.in` }) };
    if (files.in) writeFileSync(files.in, input!);
    const job = this.start(argv, { ...(files.in ? { stdinFile: files.in } : {}), stdoutFile: files.out, stderrFile: files.err });
    const code = await job.exited;
    const read = (f: string) => {
      try {
        return readFileSync(f, "utf8");
      } catch {
        return "";
      }
    };
    const out = read(files.out);
    const err = read(files.err);
    for (const f of Object.values(files)) rmSync(f, { force: true });
    if (code === 0) return out;
    // 127 from `exec`: bash could not find the tool, and said so on stderr.
    const hint = code === 127 ? "run `npm run bootstrap` to install the sandbox tools" : undefined;
    throw new FaultlineError(`${argv.join(" ")} failed (exit ${code}): ${err.trim() || out.trim()}`, hint);
  };

  /** Ends the launcher (the processes it started run on) and removes its files. */
  close(): void {
    this.#die(new FaultlineError("the sandbox's launcher was closed"));
    this.#bash.stdin.end();
    rmSync(this.dir, { recursive: true, force: true });
  }

  #data(d: string): void {
    this.#buf += d;
    for (let nl = this.#buf.indexOf("\n"); nl >= 0; nl = this.#buf.indexOf("\n")) {
      const m = /^(pid|exit) (\d+) (\d+)$/.exec(this.#buf.slice(0, nl));
      this.#buf = this.#buf.slice(nl + 1);
      const job = m ? this.#jobs.get(Number(m[2])) : undefined;
      if (!m || !job) continue;
      if (m[1] === "pid") {
        job.started(Number(m[3]));
        if (job.longLived) this.#jobs.delete(job.id);
      }
      else {
        this.#jobs.delete(job.id);
        job.ended(Number(m[3]));
      }
    }
  }

  #die(err: Error): void {
    if (this.#dead) return;
    this.#dead = err;
    // Their processes may live on, but nothing reports their end any more: callers must not wait forever.
    for (const job of this.#jobs.values()) job.ended(127);
    this.#jobs.clear();
  }
}
