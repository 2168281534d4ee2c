/**
 * Web terminal benchmark (issue 5): the real lab server (startServer on port 0, SQLite, the sim driver)
 * in its own process, and `--sessions` (50) trainee sessions in this one, each signed in with its own
 * session cookie, its own socket.io connection and an open terminal on node/cp-1 of its trainee's
 * sandbox. Measured through socket.io, as the browser app does it:
 *
 *  1. keystroke echo: every session types `--keys` (60) characters at about 10 a second, all sessions
 *     at once; per keystroke, ms from emitting `term:input` until the frame with its echo arrives;
 *  2. output throughput: `cat` of a `--mb` (50) MB file into a headless xterm (@xterm/headless), with
 *     output acknowledged once xterm has parsed it (the flow control of a real client), `--cat-runs` (3);
 *  3. Ctrl-C during `yes`: `yes` runs (its output parsed by a headless xterm), then Ctrl-C; ms until the
 *     prompt is back and output has stopped, `--ctrlc-runs` (10), in different sessions;
 *  4. server memory: RSS, PSS and peak RSS of the server process (sandboxes not included), idle, with
 *     every terminal open, and after the throughput and Ctrl-C runs;
 *  5. the server's main thread during each of 1 to 3: its event-loop delay (perf_hooks
 *     monitorEventLoopDelay and GC pauses, read over an IPC channel), its CPU time, and how long it was
 *     runnable but waiting for a CPU (/proc schedstat), which tells a busy event loop from a busy host.
 *
 * `--sandboxes N` (default: one per session) spreads the sessions over N trainees, each with one
 * attempt and so one sandbox; several sessions of a trainee open terminals in the same sandbox. The
 * lab is the small-ok fixture (3 nodes) unless `--lab webhook-to-kernel` (7 nodes, 13 pods).
 *
 * Goals: echo p50 <= 5 ms and p99 <= 30 ms; throughput >= 30 MB/s; Ctrl-C <= 300 ms.
 * Usage: npm run bench:terminal -- [--sessions 50] [--sandboxes 50] [--lab small-ok] [--keys 60] [--mb 50]
 *        [--cat-runs 3] [--ctrlc-runs 10] [--server-cpu-prof DIR] [--json]
 * `--server-cpu-prof DIR` runs the server with `node --cpu-prof --cpu-prof-dir DIR` (a .cpuprofile for
 * Chrome's DevTools or speedscope, written when the server exits).
 * Needs what `faultline sandbox up` needs. Every attempt is stopped (its sandbox removed) at the end,
 * also on Ctrl-C.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { constants, monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";
import xtermHeadless from "@xterm/headless";
import type { OutputFrame } from "../shared/protocol.js";
import { createLogger } from "../server/log.js";
import { projectRoot } from "../server/paths.js";
import { SimDriver } from "../server/sandboxes/sim/driver.js";
import { startServer } from "../server/web/serve.js";
import { Client, PASSWORD } from "../test/integration/web/helpers.js";
import { connect, type ClientSocket } from "../test/integration/web/socket.js";
import { processMemory, procCpu, scanProcesses } from "./procs.js";
import { median, percentile } from "./stats.js";

const { Terminal: HeadlessTerminal } = xtermHeadless;
type Headless = InstanceType<typeof HeadlessTerminal>;

const GOALS = { echoP50Ms: 5, echoP99Ms: 30, throughputMBps: 30, ctrlCMs: 300 };
const LABS: Record<string, string> = {
  "small-ok": path.join(projectRoot, "test", "fixtures", "labs", "small-ok"),
  "webhook-to-kernel": path.join(projectRoot, "labs", "webhook-to-kernel"),
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// --- the server, in its own process ---------------------------------------------------------------

const ELD_RESOLUTION_MS = 10;

/** The server's event loop during one test (the child's answer to `{loop: "read"}`). */
interface LoopStats {
  delayMs: { p50: number; p99: number; max: number };
  /** Pauses: how many, their total and the longest; `major` of them were mark-compact collections. */
  gc: { count: number; totalMs: number; maxMs: number; major: number };
}

/** The server's main thread during one test: CPU time, and time runnable but waiting for a CPU (/proc schedstat). */
interface ThreadStats {
  cpuMs: number;
  runQueueMs: number;
}

interface ChildConfig {
  dataDir: string;
  labsDir: string;
  maxSandboxes: number;
  perAttempt: number;
}

async function serveChild(cfg: ChildConfig): Promise<void> {
  const log = createLogger({ bench: "terminal-server" }, { level: "error" });
  const server = await startServer(
    {
      dataDir: cfg.dataDir, logJson: false, host: "127.0.0.1", port: 0, publicUrl: "http://127.0.0.1:0", databaseUrl: null,
      labsDir: cfg.labsDir, maxSandboxes: cfg.maxSandboxes, maxSandboxesPerUser: 1, idleTimeoutMs: 3_600_000, trustProxy: false,
    },
    { print: () => {}, log, realtime: { perAttempt: cfg.perAttempt } },
  );
  // The event loop as the parent measures it around each test: the delay of a 10 ms timer (beyond the
  // 10 ms: how long ready callbacks waited, for JavaScript running or the process not being scheduled)
  // and the garbage collector's pauses.
  const eld = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
  eld.enable();
  let gc = { count: 0, totalMs: 0, maxMs: 0, major: 0 };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gc.count++;
      gc.totalMs += e.duration;
      gc.maxMs = Math.max(gc.maxMs, e.duration);
      // Node sets `detail.kind` on gc entries; @types/node 20 does not declare it.
      if ((e as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) gc.major++;
    }
  }).observe({ entryTypes: ["gc"] });
  process.on("message", (m: { loop?: "reset" | "read" }) => {
    if (m.loop === "reset") {
      eld.reset();
      gc = { count: 0, totalMs: 0, maxMs: 0, major: 0 };
    } else if (m.loop === "read") {
      const beyond = (ns: number) => Math.max(0, ns / 1e6 - ELD_RESOLUTION_MS);
      const loop: LoopStats = { delayMs: { p50: beyond(eld.percentile(50)), p99: beyond(eld.percentile(99)), max: beyond(eld.max) }, gc };
      process.send?.({ loop });
    }
  });
  process.stdout.write(JSON.stringify({ url: server.url, token: server.setup?.token }) + "\n");
  const stop = () => void server.close().then(() => process.exit(0), () => process.exit(1));
  process.on("SIGTERM", stop);
  process.on("SIGINT", () => {}); // the parent decides when to stop
}

// --- a session: one signed-in trainee's socket and terminal ----------------------------------------

class Session {
  received = 0;
  /** Frames received (their mean size tells how well output is coalesced), and acknowledgements sent. */
  frames = 0;
  acks = 0;
  /** With an xterm: the offset after the last byte it has parsed. */
  parsed = 0;
  text = "";
  xterm: Headless | null = null;
  /** Why the shell ended, if it did (a sandbox that died under load ends its terminals). */
  exit: string | null = null;
  private waiters: Array<() => void> = [];
  private frameWaiters: Array<(at: number | Error) => void> = [];

  constructor(
    readonly socket: ClientSocket,
    readonly terminalId: string,
  ) {
    socket.on("term:output", (f: OutputFrame) => this.frame(f));
    socket.on("term:exit", (m) => {
      if (m.terminalId !== this.terminalId) return;
      this.exit = m.reason;
      for (const w of this.frameWaiters.splice(0)) w(new Error(`the terminal ended: ${m.reason}`));
    });
  }

  private frame(f: OutputFrame): void {
    if (f.terminalId !== this.terminalId) return;
    const data = f.data instanceof Uint8Array ? f.data : new Uint8Array(f.data);
    this.received = f.seq + data.length;
    this.frames++;
    const end = this.received;
    const at = performance.now();
    for (const w of this.frameWaiters.splice(0)) w(at);
    if (this.xterm) {
      // Acknowledged once parsed, like the browser app.
      this.xterm.write(data, () => {
        this.parsed = end;
        this.socket.emit("term:ack", { terminalId: this.terminalId, upTo: end });
        this.acks++;
        if (end === this.received) for (const w of this.waiters.splice(0)) w();
      });
      // Only the tail is looked at (for the prompt and markers): decode no more of the frame than that.
      this.text = (this.text + Buffer.from(data.subarray(-4096)).toString("latin1")).slice(-4096);
    } else {
      this.text = (this.text + Buffer.from(data.subarray(-65536)).toString("utf8")).slice(-65536);
      this.socket.emit("term:ack", { terminalId: this.terminalId, upTo: end });
      this.acks++;
    }
    for (const w of this.waiters.splice(0)) w();
  }

  type(data: string): void {
    this.socket.emit("term:input", { terminalId: this.terminalId, data });
  }

  /** Resolves when `test` holds for the recent output. */
  async until(test: (text: string) => boolean, timeoutMs = 30_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!test(this.text)) {
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out; last output: ${JSON.stringify(this.text.slice(-300))}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 500));
        this.waiters.push(() => (clearTimeout(t), r()));
      });
    }
  }

  /** Resolves once the xterm (if any) has parsed everything received. */
  async parsedAll(): Promise<void> {
    if (this.xterm) await this.until(() => this.parsed >= this.received);
  }

  /** Presses Enter and waits for a fresh prompt (forgetting earlier output). */
  async ready(): Promise<void> {
    this.text = "";
    this.type("\r");
    await this.until((t) => PROMPT.test(t));
    this.text = "";
  }

  /** The next frame's arrival time; rejects if none comes in `timeoutMs` or the shell ends (instead of waiting forever). */
  nextFrame(timeoutMs = 30_000): Promise<number> {
    return new Promise((resolve, reject) => {
      if (this.exit) return reject(new Error(`the terminal ended: ${this.exit}`));
      const t = setTimeout(() => reject(new Error(`no output in ${timeoutMs} ms`)), timeoutMs);
      this.frameWaiters.push((at) => {
        clearTimeout(t);
        if (at instanceof Error) reject(at);
        else resolve(at);
      });
    });
  }
}

const PROMPT = /[#$] $/;

/**
 * Opens a terminal and follows it from inside the acknowledgement, as the browser app does: its first
 * frames follow the acknowledgement at once, often in the same TCP read, and socket.io delivers them
 * before a promise's continuation runs (a Session made after `await` missed the prompt now and then).
 * 50 shells starting at once on a busy 2-core host can take longer than the test helpers' 10 s.
 */
function openSession(socket: ClientSocket, attemptId: string, timeoutMs = 120_000): Promise<Session> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`term:open: no answer in ${timeoutMs} ms`)), timeoutMs);
    socket.emit("term:open", { attemptId, target: "node/cp-1", cols: 120, rows: 40 }, (r) => {
      clearTimeout(t);
      if (r.ok) resolve(new Session(socket, r.terminal.id));
      else reject(new Error(`term:open: ${r.error.code}: ${r.error.message}`));
    });
  });
}

const USAGE = `node dist/bench/terminal.js [options]   (after npm run build; needs what \`faultline sandbox up\` needs)
  --sessions N         trainee sessions, each with a socket and a terminal on node/cp-1 (50)
  --sandboxes N        sandboxes shared by the sessions (default: one per session)
  --lab ID|DIR         small-ok (3 nodes, default) or webhook-to-kernel (7 nodes, 13 pods)
  --keys N             keystrokes per session for the echo test (60)
  --mb N               size of the file cat prints, in MB (50)
  --cat-runs N         cat runs, acknowledged on arrival and then into a headless xterm (3 each)
  --ctrlc-runs N       Ctrl-C during yes runs (10)
  --server-cpu-prof D  write a CPU profile of the server process into directory D
  --json               print the results as JSON
`;

// --- the benchmark -----------------------------------------------------------------------------------

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sessions: { type: "string", default: "50" },
      sandboxes: { type: "string" },
      lab: { type: "string", default: "small-ok" },
      keys: { type: "string", default: "60" },
      mb: { type: "string", default: "50" },
      "cat-runs": { type: "string", default: "3" },
      "ctrlc-runs": { type: "string", default: "10" },
      json: { type: "boolean", default: false },
      "server-cpu-prof": { type: "string" },
      help: { type: "boolean", default: false },
      "serve-child": { type: "string" },
    },
  });
  if (values["serve-child"]) return serveChild(JSON.parse(values["serve-child"]) as ChildConfig);
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }

  const sessions = Number(values.sessions);
  const sandboxes = Math.min(sessions, Number(values.sandboxes ?? sessions));
  const labDir = LABS[values.lab] ?? path.resolve(values.lab);
  const say = values.json ? (_: string) => {} : (s: string) => process.stderr.write(s + "\n");

  const dataDir = mkdtempSync(path.join(tmpdir(), "faultline-bench-term-"));
  chmodSync(dataDir, 0o711);
  const labsDir = mkdtempSync(path.join(tmpdir(), "faultline-bench-labs-"));
  cpSync(labDir, path.join(labsDir, path.basename(labDir)), { recursive: true });
  const labId = path.basename(labDir);

  const cfg: ChildConfig = { dataDir, labsDir, maxSandboxes: sandboxes + 2, perAttempt: Math.ceil(sessions / sandboxes) + 2 };
  const prof = values["server-cpu-prof"] ? ["--cpu-prof", "--cpu-prof-dir", path.resolve(values["server-cpu-prof"])] : [];
  const child: ChildProcess = spawn(process.execPath, [...prof, fileURLToPath(import.meta.url), "--serve-child", JSON.stringify(cfg)], { stdio: ["ignore", "pipe", "inherit", "ipc"] });
  /** Starts measuring the server's event loop and main thread; the function returned ends it. */
  const watchServer = (): (() => Promise<{ loop: LoopStats; mainThread: ThreadStats }>) => {
    child.send({ loop: "reset" });
    const t0 = schedstat(child.pid!);
    return () =>
      new Promise((resolve) => {
        const t1 = schedstat(child.pid!);
        const on = (m: { loop?: LoopStats }) => {
          if (!m.loop) return;
          child.off("message", on);
          resolve({ loop: m.loop, mainThread: { cpuMs: t1.cpuMs - t0.cpuMs, runQueueMs: t1.runQueueMs - t0.runQueueMs } });
        };
        child.on("message", on);
        child.send({ loop: "read" });
      });
  };
  const sockets: ClientSocket[] = [];
  const trainees: Client[] = [];
  const attempts: string[] = [];
  let stopping = false;
  const cleanup = async () => {
    if (stopping) return;
    stopping = true;
    for (const s of sockets) s.close();
    await Promise.all(attempts.map((id, i) => trainees[i]?.post(`/api/attempts/${id}/stop`).catch(() => {})));
    child.kill("SIGTERM");
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once("exit", r)));
    const driver = new SimDriver(dataDir, createLogger({}, { level: "error" }));
    for (const s of driver.list()) await driver.down(s.name).catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(labsDir, { recursive: true, force: true });
  };
  process.on("SIGINT", () => void cleanup().then(() => process.exit(130)));

  try {
    const first = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once("line", resolve);
      child.once("exit", (code) => reject(new Error(`the server exited (${code})`)));
    });
    const { url, token } = JSON.parse(first) as { url: string; token: string };
    const serverPid = child.pid!;
    const memory: Record<string, { rssKb: number; pssKb: number; hwmKb: number }> = {};
    const sample = (label: string) => {
      const m = processMemory(serverPid);
      const hwm = /VmHWM:\s+(\d+)/.exec(readStatus(serverPid))?.[1];
      if (m) memory[label] = { rssKb: m.rssKb, pssKb: m.pssKb, hwmKb: Number(hwm ?? 0) };
    };
    sample("idle");

    // Trainees, their attempts (one sandbox each), then the sessions.
    say(`server ${url} (pid ${serverPid}); ${sandboxes} sandboxes of ${labId}, ${sessions} sessions`);
    const admin = new Client(url);
    const made = await admin.post("/api/invites/accept", { token, email: "admin@bench.example", name: "Admin", password: PASSWORD });
    if (made.status !== 201) throw new Error(`admin: ${JSON.stringify(made.body)}`);
    const t0 = Date.now();
    for (let i = 0; i < sandboxes; i++) {
      const inv = await admin.post("/api/admin/invites", { role: "trainee" });
      const c = new Client(url);
      await c.post("/api/invites/accept", { token: inv.body.token, email: `t${i}@bench.example`, name: `t${i}`, password: PASSWORD });
      trainees.push(c);
      const r = await c.post("/api/attempts", { lab: labId });
      if (r.status !== 201) throw new Error(`start ${i}: ${r.status} ${JSON.stringify(r.body)}`);
      attempts.push(r.body.attempt.id);
    }
    for (let i = 0; i < sandboxes; i++) {
      for (;;) {
        const a = (await trainees[i]!.get(`/api/attempts/${attempts[i]}`)).body.attempt;
        if (a.state === "running") break;
        if (a.state !== "provisioning") throw new Error(`attempt ${i}: ${a.state} ${a.error}`);
        await sleep(250);
      }
    }
    say(`${sandboxes} sandboxes running after ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    const all: Session[] = await Promise.all(
      Array.from({ length: sessions }, async (_, i) => {
        const k = i % sandboxes;
        const c = new Client(url);
        await c.login(`t${k}@bench.example`, PASSWORD);
        const socket = await connect(url, c);
        sockets.push(socket);
        const s = await openSession(socket, attempts[k]!);
        await s.until((t) => PROMPT.test(t), 120_000);
        return s;
      }),
    );
    await sleep(500);
    sample("open");
    say(`${sessions} terminals open`);

    // What the sandboxes themselves cost while nobody does anything: the CPU their processes use.
    const reader = new SimDriver(dataDir, createLogger({}, { level: "error" }));
    const ranges = reader.list().map((x) => reader.meta(x.name).uidBase);
    const ours = () => scanProcesses().filter((p) => ranges.some((b) => p.uid >= b && p.uid < b + 65536)).map((p) => p.pid);
    const idle0 = new Map(ours().map((pid) => [pid, cpuMs(pid)]));
    await sleep(5000);
    let idleMs = 0;
    for (const [pid, before] of idle0) {
      const after = cpuMs(pid);
      if (after >= before) idleMs += after - before;
    }
    const sandboxesIdleCpuPct = (idleMs / 5000) * 100;
    say(`${sandboxes} idle sandboxes use ${sandboxesIdleCpuPct.toFixed(0)}% of a core`);

    // 1. Echo, every session typing at once.
    const keys = Number(values.keys);
    const loadBefore = loadavg()[0]!;
    const cpuBefore = cpuMs(serverPid);
    const echoWatch = watchServer();
    const echoStarted = performance.now();
    const echo: number[] = [];
    await Promise.all(
      all.map(async (s, i) => {
        await sleep((i * 97) % 100);
        for (let k = 0; k < keys; k++) {
          const ch = String.fromCharCode(97 + (k % 26));
          const arrived = s.nextFrame();
          const sent = performance.now();
          s.type(ch);
          echo.push((await arrived) - sent);
          await sleep(70 + Math.random() * 60);
        }
        s.type("\x15"); // Ctrl-U: clear the line
      }),
    );
    const echoCpu = { serverCpuPct: ((cpuMs(serverPid) - cpuBefore) / (performance.now() - echoStarted)) * 100, loadBefore, loadAfter: loadavg()[0]! };
    const serverEcho = await echoWatch();
    say(`echo: ${echo.length} keystrokes; server CPU ${echoCpu.serverCpuPct.toFixed(0)}% of a core; load average ${loadBefore.toFixed(1)} -> ${echoCpu.loadAfter.toFixed(1)}`);

    // 2. Throughput: cat of a big file into a headless xterm.
    const mb = Number(values.mb);
    const bytes = mb * 1_000_000;
    const s0 = all[0]!;
    s0.type(`base64 -w 100 /dev/urandom | head -c ${bytes} > ~/big.txt; echo gen""erated\r`);
    await s0.until((t) => /generated\r\n/.test(t), 120_000);
    /** One `cat`: MB/s from the command sent until its last byte is in (and parsed, with an xterm). */
    const cat = async (s: Session): Promise<number> => {
      await s.ready();
      const start = s.received;
      const began = performance.now();
      s.type("cat ~/big.txt; echo ca\"\"t-done\r");
      await s.until((t) => /cat-done\r\n/.test(t), 300_000);
      // Into the xterm means parsed by it: the last frames may still be queued in its write buffer.
      await s.parsedAll();
      return (s.received - start) / 1e6 / ((performance.now() - began) / 1000);
    };
    const raw: number[] = [];
    for (let run = 0; run < Number(values["cat-runs"]); run++) raw.push(await cat(s0));
    s0.xterm = new HeadlessTerminal({ cols: 120, rows: 40, scrollback: 1000, allowProposedApi: true });
    const throughput: number[] = [];
    // Where the CPU goes while output streams: the server, and this process (socket.io client + xterm).
    // And the PTY chain: the sandbox's processes (`script`, bash, and through bash's waited-for
    // children `cat`), and the host's kernel workers, which move bytes between a PTY's two sides.
    const catWatch = watchServer();
    const serverCpu0 = cpuTimes(serverPid);
    const ownCpu0 = process.cpuUsage();
    const chain0 = new Map(ours().map((pid) => [pid, cpuTimes(pid)]));
    const kworkers0 = kworkerCpuMs();
    const bytes0 = s0.received;
    const frames0 = s0.frames;
    const acks0 = s0.acks;
    for (let run = 0; run < Number(values["cat-runs"]); run++) throughput.push(await cat(s0));
    const streamedMB = (s0.received - bytes0) / 1e6;
    const meanFrameKiB = (s0.received - bytes0) / 1024 / (s0.frames - frames0);
    const own = process.cpuUsage(ownCpu0);
    const serverCpu = cpuTimes(serverPid);
    let chainMs = 0;
    for (const [pid, before] of chain0) {
      const after = cpuTimes(pid);
      // A process that exited meanwhile reads as zero; its pid is not reused within a run.
      if (after.totalMs >= before.totalMs) chainMs += after.totalMs + after.childrenMs - before.totalMs - before.childrenMs;
    }
    const perMB = (ms: number) => ms / streamedMB;
    const cpuPerMB = {
      server: perMB(serverCpu.totalMs - serverCpu0.totalMs),
      client: perMB((own.user + own.system) / 1000),
      serverUserSys: [perMB(serverCpu.userMs - serverCpu0.userMs), perMB(serverCpu.sysMs - serverCpu0.sysMs)],
      clientUserSys: [perMB(own.user / 1000), perMB(own.system / 1000)],
      ptyChain: perMB(chainMs),
      kernelWorkers: perMB(kworkerCpuSince(kworkers0)),
    };
    const acksPerMB = (s0.acks - acks0) / streamedMB;
    const serverCat = await catWatch();
    sample("after cat");
    say(`throughput: ${throughput.map((x) => x.toFixed(1)).join(", ")} MB/s into xterm; ${raw.map((x) => x.toFixed(1)).join(", ")} MB/s acknowledged on arrival`);

    // 3. Ctrl-C during yes.
    const ctrlc: number[] = [];
    const yesWatch = watchServer();
    for (let run = 0; run < Number(values["ctrlc-runs"]); run++) {
      const s = all[run % all.length]!;
      s.xterm ??= new HeadlessTerminal({ cols: 120, rows: 40, scrollback: 1000, allowProposedApi: true });
      await s.ready();
      s.type("yes\r");
      const before = s.received;
      await s.until(() => s.received - before > 1_000_000, 30_000);
      const sent = performance.now();
      s.type("\x03");
      await s.until((t) => /\^C\r\n[^\n]*[#$] $/.test(t), 30_000);
      ctrlc.push(performance.now() - sent);
    }
    const serverYes = await yesWatch();
    sample("after yes");
    say(`ctrl-c: ${ctrlc.map((x) => x.toFixed(0)).join(", ")} ms`);

    const result = {
      lab: labId,
      sessions,
      sandboxes,
      echo: { n: echo.length, p50: percentile(echo, 0.5), p99: percentile(echo, 0.99), max: Math.max(...echo), ...echoCpu },
      machine: { cores: availableParallelism(), loadAverage1m: loadavg()[0], sandboxesIdleCpuPct },
      throughputMBps: { runs: throughput, median: median(throughput), withoutXterm: { runs: raw, median: median(raw) }, cpuMsPerMB: cpuPerMB, meanFrameKiB, acksPerMB },
      ctrlCMs: { runs: ctrlc, median: median(ctrlc), max: Math.max(...ctrlc) },
      serverMemoryKb: memory,
      serverLoop: { echo: serverEcho, cat: serverCat, ctrlC: serverYes },
      goals: GOALS,
    };
    if (values.json) process.stdout.write(JSON.stringify(result, null, 2) + "\n");
    else {
      const mib = (kb: number) => `${(kb / 1024).toFixed(0)} MiB`;
      const row = (name: string, value: string, goal: string, okay: boolean) => `${name.padEnd(34)} ${value.padEnd(22)} ${goal.padEnd(12)} ${okay ? "ok" : "MISSED"}`;
      const lines = [
        "",
        `${sessions} sessions, ${sandboxes} sandboxes (${labId}), one terminal each; ${availableParallelism()} cores, load average ${loadavg()[0]!.toFixed(1)} at the end`,
        row("", "measured", "goal", true).replace(/ok$/, ""),
        row("keystroke echo p50", `${result.echo.p50.toFixed(2)} ms`, `<= ${GOALS.echoP50Ms} ms`, result.echo.p50 <= GOALS.echoP50Ms),
        row("keystroke echo p99", `${result.echo.p99.toFixed(2)} ms`, `<= ${GOALS.echoP99Ms} ms`, result.echo.p99 <= GOALS.echoP99Ms),
        row(`cat ${mb} MB, acknowledged on arrival`, `${median(raw).toFixed(1)} MB/s`, "", true),
        row(`cat ${mb} MB into headless xterm (median)`, `${result.throughputMBps.median.toFixed(1)} MB/s`, `>= ${GOALS.throughputMBps} MB/s`, result.throughputMBps.median >= GOALS.throughputMBps),
        `  CPU per MB streamed: server ${cpuPerMB.server.toFixed(1)} ms (one core would carry ${(1000 / cpuPerMB.server).toFixed(0)} MB/s), this client ${cpuPerMB.client.toFixed(1)} ms; frames of ${meanFrameKiB.toFixed(1)} KiB on average, ${acksPerMB.toFixed(1)} acks per MB`,
        `  user + system: server ${cpuPerMB.serverUserSys.map((x) => x.toFixed(1)).join(" + ")} ms, client ${cpuPerMB.clientUserSys.map((x) => x.toFixed(1)).join(" + ")} ms; ` +
          `PTY chain (the sandbox's processes) ${cpuPerMB.ptyChain.toFixed(1)} ms, host kernel workers ${cpuPerMB.kernelWorkers.toFixed(1)} ms (host-wide)`,
        row("Ctrl-C during yes (median)", `${result.ctrlCMs.median.toFixed(0)} ms (max ${result.ctrlCMs.max.toFixed(0)})`, `<= ${GOALS.ctrlCMs} ms`, result.ctrlCMs.median <= GOALS.ctrlCMs),
        "server main thread during each test: event-loop delay beyond its 10 ms timer, GC pauses, time runnable but not running (run queue):",
        ...Object.entries(result.serverLoop).map(([k, { loop: l, mainThread: t }]) =>
          `  ${k.padEnd(6)} delay p50 ${l.delayMs.p50.toFixed(1)} ms, p99 ${l.delayMs.p99.toFixed(1)} ms, max ${l.delayMs.max.toFixed(1)} ms; ` +
          `GC ${l.gc.count}x (${l.gc.major} major), ${l.gc.totalMs.toFixed(0)} ms, longest ${l.gc.maxMs.toFixed(1)} ms; CPU ${t.cpuMs.toFixed(0)} ms, run queue ${t.runQueueMs.toFixed(0)} ms`),
        "",
        `${sandboxes} sandboxes, idle, use ${sandboxesIdleCpuPct.toFixed(0)}% of a core (their processes' CPU over 5 s)`,
        "server process memory (sandboxes not included):",
        ...Object.entries(memory).map(([k, m]) => `  ${k.padEnd(12)} RSS ${mib(m.rssKb)}, PSS ${mib(m.pssKb)}, peak RSS ${mib(m.hwmKb)}`),
        "",
      ];
      process.stdout.write(lines.join("\n"));
    }
  } finally {
    await cleanup();
  }
}

/** CPU time (user + system) of a process so far, in ms. */
function cpuMs(pid: number): number {
  return cpuTimes(pid).totalMs;
}

/**
 * A process's CPU time so far, in ms (/proc/<pid>/stat, in clock ticks of 10 ms): user, system, their
 * sum, and that of its children it has waited for (a shell's finished commands). Zeros if it is gone.
 */
function cpuTimes(pid: number, text?: string): { userMs: number; sysMs: number; totalMs: number; childrenMs: number } {
  try {
    const c = procCpu(pid, text);
    return { userMs: c.userMs, sysMs: c.sysMs, totalMs: c.ownMs, childrenMs: c.reapedMs };
  } catch {
    return { userMs: 0, sysMs: 0, totalMs: 0, childrenMs: 0 };
  }
}

/** CPU time of each of the host's kernel worker threads (`kworker/...`) so far, in ms, by pid. */
function kworkerCpuMs(): Map<number, number> {
  const out = new Map<number, number>();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      if (stat.includes("(kworker/")) out.set(Number(d), cpuTimes(Number(d), stat).totalMs);
    } catch {
      /* exited */
    }
  }
  return out;
}

/** CPU the kernel workers used since `before` (host-wide, so other work counts too); workers come and go. */
function kworkerCpuSince(before: Map<number, number>): number {
  let ms = 0;
  for (const [pid, now] of kworkerCpuMs()) ms += now - (before.get(pid) ?? 0);
  return ms;
}

/** A thread's time on a CPU and time runnable but waiting for one, so far (ms; /proc/<pid>/task/<pid>/schedstat, in ns). */
function schedstat(pid: number): ThreadStats {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, "utf8").split(" ").map(Number);
    return { cpuMs: run! / 1e6, runQueueMs: wait! / 1e6 };
  } catch {
    return { cpuMs: 0, runQueueMs: 0 };
  }
}

function readStatus(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return "";
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench terminal: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
