import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import * as fsp from "node:fs/promises";
import { availableParallelism } from "node:os";
import { connect, createServer, type AddressInfo } from "node:net";
import path from "node:path";
import { createInterface } from "node:readline";
import { spawn as spawnPty, type IPty } from "@lydell/node-pty";
import { FaultlineError, withContext } from "../../errors.js";
import type { Logger } from "../../log.js";
import { loadLabSandboxSpec } from "../../labs/lab.js";
import { distRoot } from "../../paths.js";
import type { ClusterPlan } from "../../sim/plan.js";
import type { InventoryEvaluation } from "../../sim/kubespray/evaluate.js";
import {
  readySchema, sandboxMetaSchema, sandboxPaths, SANDBOX_NAME, supervisorEventSchema,
  type Ready, type SandboxMeta, type SandboxPaths, type SupervisorEvent, type SupervisorSpec,
} from "./layout.js";
import { IDS_PER_SANDBOX, preflight, subordinateRange, type IdRange } from "./preflight.js";
import { ensureEtcBase } from "./rootfs.js";
import { sandboxEnv } from "./env.js";
import { killProcessGroup } from "../../proc.js";
import { createSandboxCgroup, DEFAULT_LIMITS, existingCgroup, joinScript, removeSandboxCgroup, type SandboxLimits } from "./cgroups.js";
export { sandboxEnv } from "./env.js";
import { spawnRunner } from "../../sim/dataplane/execute.js";
import { DEFAULT_SLOTS_DIR, processesInRange, Queue, SlotTable } from "./slots.js";
import { DEFAULT_PROGRAMS_DIR, sandboxPrograms } from "./programs.js";

export interface Phase {
  phase: string;
  detail?: string;
  ms: number;
}

export interface SandboxStatus {
  name: string;
  lab: string;
  state: "running" | "dead";
  createdAt: string;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A target inside a sandbox: `node/<name>` or `pod/<namespace>/<name>`. */
export const TARGET = /^(node\/[a-z0-9-]+|pod\/[a-z0-9-]+\/[a-z0-9.-]+)$/;

/** Per-sandbox process limit, counted against the sandbox's own host uid, so a fork bomb stays inside. */
const NPROC_LIMIT = 4096;

/**
 * The sim driver, host side: creates a sandbox (an unprivileged supervisor in fresh namespaces), finds
 * its targets, enters them for exec and shells, and tears it down. A sandbox outlives the process that
 * created it, like `kind create cluster`; its state lives under `<dataDir>/sandboxes/<name>`.
 */
export class SimDriver {
  readonly slots: SlotTable;
  readonly limits: SandboxLimits;
  /** Where the bundled sandbox programs are (dist/sandbox, made by `npm run build`). */
  readonly programsDir: string;
  private readonly upQueue: Queue;

  constructor(
    readonly dataDir: string,
    readonly log: Logger,
    opts: { slotsDir?: string; maxConcurrentUps?: number; limits?: SandboxLimits; programsDir?: string } = {},
  ) {
    this.limits = opts.limits ?? DEFAULT_LIMITS;
    this.programsDir = opts.programsDir ?? DEFAULT_PROGRAMS_DIR;
    this.slots = new SlotTable(opts.slotsDir ?? DEFAULT_SLOTS_DIR);
    this.upQueue = new Queue(opts.maxConcurrentUps ?? Math.max(1, availableParallelism()));
  }

  paths(name: string): SandboxPaths {
    if (!SANDBOX_NAME.test(name)) {
      throw new FaultlineError(`"${name}" is not a valid sandbox name`, "use lowercase letters, digits and dashes, up to 40 characters");
    }
    return sandboxPaths(this.dataDir, name);
  }

  /**
   * Provisions a sandbox for a lab and waits until every node and pod is ready. Calls queue beyond
   * `maxConcurrentUps` (default: the number of cores): starting more at once only makes each slower
   * and risks start-up timeouts.
   */
  up(opts: { lab: string; name?: string; onPhase?: (p: Phase) => void }): Promise<{ meta: SandboxMeta; plan: ClusterPlan }> {
    return this.upQueue.run(() => this.upNow(opts));
  }

  private async upNow(opts: { lab: string; name?: string; onPhase?: (p: Phase) => void }): Promise<{ meta: SandboxMeta; plan: ClusterPlan }> {
    const started = Date.now();
    let spawnedAt = 0;
    const report = (phase: string, detail?: string, supervisorMs?: number) =>
      opts.onPhase?.({ phase, ...(detail ? { detail } : {}), ms: supervisorMs === undefined ? Date.now() - started : spawnedAt + supervisorMs });
    // Before anything is created: a checkout built without its sandbox bundles fails here, saying so.
    const programs = sandboxPrograms(this.programsDir);
    const { range } = this.preflightOnce();
    const lab = await loadLabSandboxSpec(opts.lab);
    const name = opts.name ?? lab.id;
    const p = this.paths(name);
    if (existsSync(p.root)) {
      const alive = this.isAlive(name);
      throw new FaultlineError(
        `sandbox "${name}" already exists${alive ? "" : " but its supervisor is dead"}`,
        alive ? `use it, pick another --name, or remove it with \`faultline sandbox down ${name}\`` : "run `faultline gc` to clean it up",
      );
    }
    await fsp.mkdir(path.join(this.dataDir, "sandboxes"), { recursive: true, mode: 0o711 });
    await fsp.chmod(this.dataDir, 0o711);
    await fsp.chmod(path.join(this.dataDir, "sandboxes"), 0o711);
    try {
      await fsp.mkdir(p.root, { mode: 0o711 });
    } catch {
      throw new FaultlineError(`sandbox "${name}" is being created by another command`, "pick another --name");
    }
    let slot: number | null = null;
    let unsharePid = 0;
    let initPid = 0;
    let failed = false;
    try {
      slot = this.slots.claim(p.root, Math.floor(range.count / IDS_PER_SANDBOX), (s) => processesInRange(range.start + s * IDS_PER_SANDBOX).length === 0);
      const uidBase = range.start + slot * IDS_PER_SANDBOX;
      report("prepare", `workspace copied, ids ${uidBase}-${uidBase + IDS_PER_SANDBOX - 1}`);
      await fsp.mkdir(p.box, { mode: 0o700 });
      await fsp.cp(lab.workspaceDir, p.workspace, { recursive: true });
      await fsp.mkdir(p.homes);
      await chownTree(p.box, uidBase);
      const spec: SupervisorSpec = {
        name,
        lab: lab.id,
        kubespray: lab.cluster.kubespray,
        cluster: lab.cluster,
        inventoryDir: path.join(p.workspace, lab.inventoryInWorkspace),
        inventoryDisplayRoot: path.join("workspace", lab.inventoryInWorkspace),
        faults: lab.faults,
        manifests: lab.manifests,
        box: p.box,
        etcBase: await this.etcBaseOnce(),
        apiserverArgs: programs.apiserver,
      };
      await fsp.writeFile(p.spec, JSON.stringify(spec, null, 2));
      await fsp.lchown(p.spec, uidBase, uidBase);

      const logFd = openSync(p.log, "a", 0o600);
      spawnedAt = Date.now() - started;
      // Join the sandbox's cgroups first (sh moves itself, then execs unshare): every descendant is counted.
      const { cgroup, reason } = createSandboxCgroup(cgroupName(slot), this.limits);
      if (!cgroup) this.log.warn("sandbox.no_resource_limits", { sandbox: name, reason });
      const child = spawn(
        "sh",
        [
          "-c", joinScript(cgroup), "sh", "unshare",
          `--map-users=${uidBase},0,${IDS_PER_SANDBOX}`, `--map-groups=${uidBase},0,${IDS_PER_SANDBOX}`, "--setgroups", "allow",
          // --setuid 0 inside = the unprivileged host uid uidBase outside: never host root's file access.
          "--setuid", "0", "--setgid", "0",
          "--user", "--mount", "--pid", "--net", "--ipc", "--uts", "--fork", "--mount-proc", "--kill-child=SIGKILL",
          "prlimit", `--nproc=${NPROC_LIMIT}`, "--",
          "tini", "-s", "--", process.execPath, ...programs.supervisor, p.spec,
        ],
        { detached: true, stdio: ["ignore", logFd, logFd, "pipe"], env: { PATH: sandboxEnv().PATH, LANG: "C.UTF-8", FAULTLINE_LOG: "json" } },
      );
      closeSync(logFd);
      unsharePid = child.pid ?? 0;
      initPid = await findChild(unsharePid);
      const meta: SandboxMeta = {
        name, lab: lab.id, labDir: lab.dir, slot, uidBase, createdAt: new Date().toISOString(),
        unsharePid, initPid, initStart: startTime(initPid) ?? "",
      };
      await fsp.writeFile(p.meta, JSON.stringify(meta, null, 2), { mode: 0o644 });

      const progress = child.stdio[3] as NodeJS.ReadableStream & { destroy(): void };
      // The host relay opens the supervisor's socket only when a client connects, so it can start with
      // the build instead of after it. It lives in the sandbox's pid namespace: a failed build takes it along.
      const relay = this.startRelay(p, uidBase, initPid, slot, () => failed);
      relay.catch(() => {});
      await this.awaitReady(progress, (ev) => ev.type === "phase" && report(ev.phase, ev.detail, ev.ms), p);
      // Let go of the sandbox: it runs on after this process exits, like a kind cluster.
      progress.destroy();
      child.unref();
      await relay;
      report("ready");
      return { meta, plan: this.plan(name) };
    } catch (e) {
      failed = true;
      // Nothing of a failed sandbox stays: its processes are gone before its folder and ids are released
      // (a reused id range must never meet a survivor). Its log is kept for the post-mortem.
      const start = initPid ? startTime(initPid) : null;
      if (unsharePid) killProcessGroup(unsharePid);
      if (initPid && start) {
        try {
          process.kill(initPid, "SIGKILL");
        } catch {
          /* already gone */
        }
        await waitGone(initPid, start);
      }
      const kept = await this.keepLog(name, p);
      await fsp.rm(p.root, { recursive: true, force: true });
      if (slot !== null) {
        await removeCgroupWhenEmpty(cgroupName(slot));
        this.slots.free(slot);
      }
      const err = withContext(`sandbox up ${name}`, e);
      throw kept ? new FaultlineError(err.message, `${err.hint ? err.hint + "; " : ""}the supervisor's log is in ${kept}`, { cause: e }) : err;
    }
  }

  private preflightResult: { range: IdRange } | null = null;

  /** Host checks run once per process: they do not change while it runs, and one spawns a process. */
  private preflightOnce(): { range: IdRange } {
    this.preflightResult ??= preflight({ codeRoot: distRoot });
    return this.preflightResult;
  }

  private etcBase: Promise<string> | null = null;

  private etcBaseOnce(): Promise<string> {
    this.etcBase ??= ensureEtcBase(this.dataDir, spawnRunner);
    return this.etcBase;
  }

  private async keepLog(name: string, p: SandboxPaths): Promise<string | null> {
    if (!existsSync(p.log)) return null;
    const dir = path.join(this.dataDir, "failed");
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    const dest = path.join(dir, `${name}-${new Date().toISOString().replace(/[:.]/g, "-")}.log`);
    await fsp.copyFile(p.log, dest);
    return dest;
  }

  private awaitReady(stream: NodeJS.ReadableStream, onEvent: (ev: SupervisorEvent) => void, p: SandboxPaths): Promise<void> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const rl = createInterface({ input: stream });
      rl.on("line", (line) => {
        let ev: SupervisorEvent;
        try {
          ev = supervisorEventSchema.parse(JSON.parse(line));
        } catch {
          return; // a partial or foreign line; the supervisor log has it
        }
        onEvent(ev);
        if (ev.type === "ready") (settled = true), resolve();
        if (ev.type === "error") (settled = true), reject(new FaultlineError(ev.message, ev.hint));
      });
      rl.on("close", () => {
        if (settled) return;
        const tail = existsSync(p.log) ? readFileSync(p.log, "utf8").split("\n").slice(-15).join("\n") : "";
        reject(new FaultlineError(`the supervisor exited before the sandbox was ready:\n${tail}`, `see ${p.log}`));
      });
    });
  }

  meta(name: string): SandboxMeta {
    const p = this.paths(name);
    if (!existsSync(p.meta)) throw new FaultlineError(`no sandbox named "${name}"`, "list them with `faultline sandbox ls`");
    return sandboxMetaSchema.parse(JSON.parse(readFileSync(p.meta, "utf8")));
  }

  plan(name: string): ClusterPlan {
    return JSON.parse(readFileSync(this.paths(name).plan, "utf8")) as ClusterPlan;
  }

  vars(name: string): InventoryEvaluation {
    return JSON.parse(readFileSync(this.paths(name).vars, "utf8")) as InventoryEvaluation;
  }

  ready(name: string): Ready {
    const p = this.paths(name);
    if (!existsSync(p.ready)) throw new FaultlineError(`sandbox "${name}" is being (re)built`, "wait a moment and try again");
    return readySchema.parse(JSON.parse(readFileSync(p.ready, "utf8")));
  }

  /** True while the sandbox's pid-namespace init is the process we started (not a reused pid). */
  isAlive(name: string): boolean {
    try {
      return running(this.meta(name));
    } catch {
      return false;
    }
  }

  list(): SandboxStatus[] {
    const dir = path.join(this.dataDir, "sandboxes");
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((n) => SANDBOX_NAME.test(n))
      .sort()
      .map((n) => {
        let lab = "?";
        let createdAt = "";
        try {
          const m = this.meta(n);
          lab = m.lab;
          createdAt = m.createdAt;
        } catch {
          /* a half-created folder: reported dead, removed by gc */
        }
        return { name: n, lab, createdAt, state: this.isAlive(n) ? "running" : "dead" };
      });
  }

  /**
   * argv (run on the host, as root) that enters a target's namespaces as the sandbox's root, in a clean
   * environment, with the sandbox's process limit. `command` runs inside; default an interactive bash.
   */
  enterArgv(name: string, target: string, command: string[] = ["/bin/bash", "-l"], term?: string): string[] {
    if (!TARGET.test(target)) {
      throw new FaultlineError(`"${target}" is not a target`, "targets are node/<name> or pod/<namespace>/<name>; see `faultline sandbox up --json` for the list");
    }
    const meta = this.meta(name);
    if (!running(meta)) throw new FaultlineError(`sandbox "${name}" is not running`, "run `faultline gc`, then `faultline sandbox up` again");
    const ready = this.ready(name);
    const pid = ready.agents[target];
    if (pid === undefined) {
      const known = Object.keys(ready.agents).join(", ");
      throw new FaultlineError(`sandbox "${name}" has no ${target}`, `targets are: ${known}`);
    }
    // The agent's namespaces, seen through the sandbox's own /proc (its pid is in the sandbox pid namespace).
    const ns = (t: string) => `/proc/${meta.initPid}/root/proc/${pid}/ns/${t}`;
    const env = Object.entries(sandboxEnv(term)).map(([k, v]) => `${k}=${v}`);
    return [
      // The shell joins the sandbox's cgroups, so its memory and processes count against the sandbox.
      "sh", "-c", joinScript(existingCgroup(cgroupName(meta.slot))), "sh",
      "nsenter", `--user=/proc/${meta.initPid}/ns/user`, `--mount=${ns("mnt")}`, `--uts=${ns("uts")}`, `--ipc=${ns("ipc")}`,
      `--net=${ns("net")}`, `--pid=${ns("pid")}`, "--",
      "prlimit", `--nproc=${NPROC_LIMIT}`, "--",
      "env", "-i", "-C", "/root", ...env, ...command,
    ];
  }

  /**
   * An interactive terminal in a target: real bash on a host PTY, entered into the target's namespaces.
   * The web terminal and `sandbox shell` both use this; the PTY master never enters the sandbox.
   *
   * @example
   * const pty = driver.openShell("demo", "node/cp-1", { cols: 120, rows: 40 });
   * pty.onData((d) => socket.emit("output", d));
   * pty.write("ip route\r");
   */
  openShell(name: string, target: string, size: { cols: number; rows: number; term?: string } = { cols: 80, rows: 24 }, opts: { binary?: boolean } = {}): IPty {
    const term = size.term ?? "xterm-256color";
    // `script` allocates the shell's terminal from the sandbox's own devpts, so `tty`, job control and
    // programs that open their terminal by name work; it relays to our host PTY and forwards resizes.
    // `binary`: onData gives the bytes read (Buffers, despite IPty's string type), not decoded text.
    // node-pty then leaves IUTF8 off the PTY's modes, and `script` copies them to the shell's
    // terminal (where the line editor needs it to erase a UTF-8 character whole): set it first.
    const command = opts.binary
      ? ["sh", "-c", "stty iutf8 2>/dev/null; exec script -q -f -e -c '/bin/bash -l' /dev/null"]
      : ["script", "-q", "-f", "-e", "-c", "/bin/bash -l", "/dev/null"];
    const argv = this.enterArgv(name, target, command, term);
    return spawnPty(argv[0]!, argv.slice(1), { name: term, cols: size.cols, rows: size.rows, env: {}, ...(opts.binary ? { encoding: null } : {}) });
  }

  /** Runs argv in a target and collects its output (bounded), with a timeout. */
  exec(name: string, target: string, argv: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
    const full = this.enterArgv(name, target, argv);
    return new Promise((resolve, reject) => {
      const child = spawn(full[0]!, full.slice(1), { stdio: ["pipe", "pipe", "pipe"], env: {} });
      const cap = 8 * 1024 * 1024;
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout = (stdout + d.toString()).slice(-cap)));
      child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-cap)));
      const timer = opts.timeoutMs ? setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs) : null;
      child.on("error", reject);
      child.on("close", (code, sig) => {
        if (timer) clearTimeout(timer);
        resolve({ code: code ?? (sig ? 128 + 9 : 1), stdout, stderr });
      });
      child.stdin.on("error", () => {});
      child.stdin.end(opts.input ?? "");
    });
  }

  /** One request to the supervisor's control socket (host only); resolves with its final JSON answer. */
  control(name: string, request: unknown, onLine?: (line: string) => void): Promise<Record<string, unknown>> {
    const p = this.paths(name);
    if (!this.isAlive(name)) return Promise.reject(new FaultlineError(`sandbox "${name}" is not running`, "run `faultline gc`"));
    return new Promise((resolve, reject) => {
      const sock = connect(p.controlSock);
      let last = "";
      const rl = createInterface({ input: sock });
      rl.on("line", (line) => {
        if (last) onLine?.(last);
        last = line;
      });
      sock.on("error", (e) => reject(new FaultlineError(`cannot reach the supervisor of "${name}": ${e.message}`)));
      sock.on("close", () => {
        try {
          const res = JSON.parse(last) as Record<string, unknown>;
          if (res.ok) resolve(res);
          else reject(new FaultlineError(String(res.error), typeof res.hint === "string" ? res.hint : undefined));
        } catch {
          reject(new FaultlineError(`the supervisor of "${name}" closed the connection without an answer`));
        }
      });
      sock.write(JSON.stringify(request) + "\n");
    });
  }

  /**
   * A loopback TCP port on the host for the sandbox's API server (like kind's 127.0.0.1:<port>), relayed
   * by socat to the supervisor's unix socket. socat runs as the sandbox's own unprivileged id (it can
   * open that socket and nothing else of note) and inside the sandbox's pid namespace, so the kernel
   * ends it with the sandbox. `abandoned` tells that the sandbox failed while the relay was starting.
   */
  private async startRelay(p: SandboxPaths, uid: number, initPid: number, slot: number, abandoned = () => false): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const port = await freePort();
      // The sandbox failed meanwhile: its pid may already belong to another process.
      if (abandoned()) throw new FaultlineError("the sandbox was given up before its API server relay started");
      // In the host's network namespace but the sandbox's pid namespace: it dies with the sandbox.
      const child = spawn(
        "sh",
        ["-c", joinScript(existingCgroup(cgroupName(slot))), "sh", "nsenter", `--pid=/proc/${initPid}/ns/pid`, "--setuid", String(uid), "--setgid", String(uid), "--",
          "socat", `TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork,nodelay`, `UNIX-CONNECT:${p.apiserverSock}`],
        { detached: true, stdio: "ignore", env: { PATH: sandboxEnv().PATH } },
      );
      child.unref();
      const pid = child.pid ?? 0;
      if (await listening(port)) {
        await fsp.writeFile(p.relay, JSON.stringify({ pid, port, start: startTime(pid) }));
        return;
      }
      killProcessGroup(pid); // the port was taken meanwhile: try another
    }
    throw new FaultlineError("cannot open a loopback port for the sandbox's API server", "check that socat is installed and 127.0.0.1 has free ports");
  }

  /** The host's kubeconfig for a sandbox: the admin credentials, pointed at its loopback relay. */
  kubeconfig(name: string): string {
    const p = this.paths(name);
    const relay = JSON.parse(readFileSync(p.relay, "utf8")) as { port: number };
    const cp = this.plan(name).nodes.find((n) => n.role === "control-plane");
    if (!cp) throw new FaultlineError(`sandbox "${name}" has no control plane, so no API server`);
    const conf = readFileSync(p.adminConf(cp.name), "utf8");
    return conf.replace(/server: https:\/\/[^\s]+/, `server: https://127.0.0.1:${relay.port}`);
  }

  /** Destroys a sandbox: the kernel tears down its namespaces when the pid-namespace init dies. */
  async down(name: string): Promise<void> {
    const p = this.paths(name);
    if (!existsSync(p.root)) throw new FaultlineError(`no sandbox named "${name}"`, "list them with `faultline sandbox ls`");
    let relay: { pid: number; start: string | null } | null = null;
    try {
      relay = JSON.parse(readFileSync(p.relay, "utf8")) as { pid: number; start: string | null };
    } catch {
      /* no relay yet */
    }
    // The relay's socat lives in the sandbox's pid namespace, a child of nsenter on the host. The init
    // goes first: the kernel kills socat, and nsenter, still alive, reaps it. Killed together, socat
    // could outlive nsenter and be handed to the host's pid 1 as a zombie, and the init's exit waits
    // until that one reaps it: 1 to 2 s on hosts whose pid 1 reaps lazily (this build machine's).
    const killRelay = () => {
      if (relay?.start && startTime(relay.pid) === relay.start) killProcessGroup(relay.pid);
    };
    try {
      const m = this.meta(name);
      if (running(m)) {
        process.kill(m.initPid, "SIGKILL");
        await waitGone(m.initPid, m.initStart);
      }
      killRelay();
      if (startTime(m.unsharePid)) killProcessGroup(m.unsharePid);
      await removeCgroupWhenEmpty(cgroupName(m.slot));
    } catch (e) {
      if (!(e instanceof FaultlineError)) throw e;
      killRelay();
    }
    await fsp.rm(p.root, { recursive: true, force: true });
    // By owner, not by number: a dead sandbox's slot may have been collected and handed to another.
    this.slots.freeOwnedBy(p.root);
  }

  /** Removes sandboxes whose supervisor died, and id slots nobody owns. Returns the names removed. */
  async gc(): Promise<string[]> {
    const removed: string[] = [];
    for (const s of this.list()) {
      if (s.state === "dead") {
        await this.down(s.name);
        removed.push(s.name);
      }
    }
    const range = subordinateRange("/etc/subuid");
    this.slots.collect((slot) => !range || processesInRange(range.start + slot * IDS_PER_SANDBOX).length === 0);
    return removed;
  }
}

async function chownTree(dir: string, uid: number): Promise<void> {
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await chownTree(p, uid);
    else await fsp.lchown(p, uid, uid);
  }
  await fsp.lchown(dir, uid, uid);
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks): with the pid, identifies a process uniquely. */
export function startTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}

/**
 * `unshare --fork` starts the namespace's init as a child; with --map-users it also forks short-lived
 * helpers (newuidmap), so the init is the child that lives in another pid namespace than ours.
 */
async function findChild(pid: number): Promise<number> {
  const ourPidNs = readlinkSync("/proc/self/ns/pid");
  const deadline = Date.now() + 30_000;
  for (let delay = 1; Date.now() < deadline; delay = Math.min(delay * 2, 20)) {
    let kids: string;
    try {
      kids = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim();
    } catch {
      throw new FaultlineError("unshare exited at once", "`faultline sandbox up` checks user namespaces first; see the supervisor log named below");
    }
    for (const k of kids ? kids.split(" ") : []) {
      try {
        if (readlinkSync(`/proc/${k}/ns/pid`) !== ourPidNs) return Number(k);
      } catch {
        /* a helper that just exited */
      }
    }
    await new Promise((r) => setTimeout(r, delay));
  }
  throw new FaultlineError("the sandbox's namespaces did not come up within 30 s", "the host is overloaded; start fewer sandboxes at once");
}

async function waitGone(pid: number, start: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (startTime(pid) === start && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
}

/** True while the sandbox's pid-namespace init is the process we started (not a reused pid). */
function running(m: SandboxMeta): boolean {
  return m.initPid > 0 && startTime(m.initPid) === m.initStart;
}

/** Cgroups are named after the host-wide id slot: unique on the host, unlike sandbox names. */
function cgroupName(slot: number): string {
  return `slot-${slot}`;
}

/** The kernel refuses to remove a cgroup until its last process has exited: retry for a moment. */
async function removeCgroupWhenEmpty(name: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    removeSandboxCgroup(name);
    if (!existingCgroup(name)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** True once something accepts connections on 127.0.0.1:port (within ~2 s). */
async function listening(port: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, "127.0.0.1");
      s.once("connect", () => (s.destroy(), resolve(true)));
      s.once("error", () => resolve(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}
