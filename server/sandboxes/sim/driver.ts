import { spawn } from "node:child_process";
import { chownSync, closeSync, cpSync, existsSync, lchownSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { connect } from "node:net";
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
import { IDS_PER_SANDBOX, preflight } from "./preflight.js";

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

/** The environment of every process started inside a sandbox: nothing of the server's leaks in. */
export function sandboxEnv(term = "xterm-256color"): Record<string, string> {
  return {
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/opt/faultline/bin",
    HOME: "/root",
    USER: "root",
    LOGNAME: "root",
    SHELL: "/bin/bash",
    TERM: term,
    LANG: "C.UTF-8",
  };
}

/** Per-sandbox process limit, counted against the sandbox's own host uid, so a fork bomb stays inside. */
const NPROC_LIMIT = 4096;

/**
 * The sim driver, host side: creates a sandbox (an unprivileged supervisor in fresh namespaces), finds
 * its targets, enters them for exec and shells, and tears it down. A sandbox outlives the process that
 * created it, like `kind create cluster`; its state lives under `<dataDir>/sandboxes/<name>`.
 */
export class SimDriver {
  constructor(
    readonly dataDir: string,
    readonly log: Logger,
  ) {}

  paths(name: string): SandboxPaths {
    if (!SANDBOX_NAME.test(name)) {
      throw new FaultlineError(`"${name}" is not a valid sandbox name`, "use lowercase letters, digits and dashes, up to 40 characters");
    }
    return sandboxPaths(this.dataDir, name);
  }

  /** Provisions a sandbox for a lab and waits until every node and pod is ready. */
  async up(opts: { lab: string; name?: string; onPhase?: (p: Phase) => void }): Promise<{ meta: SandboxMeta; plan: ClusterPlan }> {
    const started = Date.now();
    const report = (phase: string, detail?: string) => opts.onPhase?.({ phase, ...(detail ? { detail } : {}), ms: Date.now() - started });
    const { range } = preflight({ codeRoot: distRoot });
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
    mkdirSync(path.join(this.dataDir, "sandboxes"), { recursive: true, mode: 0o711 });
    chmodSync(this.dataDir, 0o711);
    chmodSync(path.join(this.dataDir, "sandboxes"), 0o711);
    const slot = this.claimSlot(name, Math.floor(range.count / IDS_PER_SANDBOX));
    const uidBase = range.start + slot * IDS_PER_SANDBOX;
    let unsharePid = 0;
    try {
      report("prepare", `workspace copied, ids ${uidBase}-${uidBase + IDS_PER_SANDBOX - 1}`);
      mkdirSync(p.root, { mode: 0o711 });
      mkdirSync(p.box, { mode: 0o700 });
      cpSync(lab.workspaceDir, p.workspace, { recursive: true });
      mkdirSync(p.homes);
      chownTree(p.box, uidBase);
      const spec: SupervisorSpec = {
        name,
        lab: lab.id,
        kubespray: lab.cluster.kubespray,
        cluster: lab.cluster,
        inventoryDir: path.join(p.workspace, lab.inventoryInWorkspace),
        inventoryDisplayRoot: path.join("workspace", lab.inventoryInWorkspace),
        faults: lab.faults,
        box: p.box,
      };
      writeFileSync(p.spec, JSON.stringify(spec, null, 2));
      lchownSync(p.spec, uidBase, uidBase);

      const logFd = openSync(p.log, "a", 0o600);
      const child = spawn(
        "unshare",
        [
          `--map-users=${uidBase},0,${IDS_PER_SANDBOX}`, `--map-groups=${uidBase},0,${IDS_PER_SANDBOX}`, "--setgroups", "allow",
          // --setuid 0 inside = the unprivileged host uid uidBase outside: never host root's file access.
          "--setuid", "0", "--setgid", "0",
          "--user", "--mount", "--pid", "--net", "--ipc", "--uts", "--fork", "--mount-proc", "--kill-child=SIGKILL",
          "prlimit", `--nproc=${NPROC_LIMIT}`, "--",
          "tini", "-s", "--", process.execPath, path.join(distRoot, "server/sandboxes/sim/supervisor.js"), p.spec,
        ],
        { detached: true, stdio: ["ignore", logFd, logFd, "pipe"], env: { PATH: sandboxEnv().PATH, LANG: "C.UTF-8", FAULTLINE_LOG: "json" } },
      );
      closeSync(logFd);
      unsharePid = child.pid ?? 0;
      const initPid = await findChild(unsharePid);
      const meta: SandboxMeta = {
        name, lab: lab.id, labDir: lab.dir, slot, uidBase, createdAt: new Date().toISOString(),
        unsharePid, initPid, initStart: startTime(initPid) ?? "",
      };
      writeFileSync(p.meta, JSON.stringify(meta, null, 2), { mode: 0o644 });

      const progress = child.stdio[3] as NodeJS.ReadableStream & { destroy(): void };
      await this.awaitReady(progress, (ev) => ev.type === "phase" && report(ev.phase, ev.detail), p);
      // Let go of the sandbox: it runs on after this process exits, like a kind cluster.
      progress.destroy();
      child.unref();
      report("ready");
      return { meta, plan: this.plan(name) };
    } catch (e) {
      // Nothing of a failed sandbox stays: kill its namespaces, remove its folder, free its ids.
      if (unsharePid) killTree(unsharePid);
      rmSync(p.root, { recursive: true, force: true });
      this.freeSlot(slot);
      throw withContext(`sandbox up ${name}`, e);
    }
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

  /** Sub-id slots are claimed with an atomic mkdir, so concurrent `up`s never share ids. */
  private claimSlot(name: string, slots: number): number {
    const dir = path.join(this.dataDir, "slots");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (let i = 0; i < slots; i++) {
      try {
        mkdirSync(path.join(dir, String(i)));
        writeFileSync(path.join(dir, String(i), "owner"), name);
        return i;
      } catch {
        /* taken */
      }
    }
    throw new FaultlineError(`all ${slots} sandbox id ranges are in use`, "remove sandboxes with `faultline sandbox down`, or `faultline gc` for dead ones");
  }

  private freeSlot(slot: number): void {
    rmSync(path.join(this.dataDir, "slots", String(slot)), { recursive: true, force: true });
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
      const m = this.meta(name);
      return m.initPid > 0 && startTime(m.initPid) === m.initStart;
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
    if (!this.isAlive(name)) throw new FaultlineError(`sandbox "${name}" is not running`, "run `faultline gc`, then `faultline sandbox up` again");
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
  openShell(name: string, target: string, size: { cols: number; rows: number; term?: string } = { cols: 80, rows: 24 }): IPty {
    const term = size.term ?? "xterm-256color";
    // `script` allocates the shell's terminal from the sandbox's own devpts, so `tty`, job control and
    // programs that open their terminal by name work; it relays to our host PTY and forwards resizes.
    const argv = this.enterArgv(name, target, ["script", "-q", "-f", "-e", "-c", "/bin/bash -l", "/dev/null"], term);
    return spawnPty(argv[0]!, argv.slice(1), { name: term, cols: size.cols, rows: size.rows, env: {} });
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

  /** Destroys a sandbox: the kernel tears down its namespaces when the pid-namespace init dies. */
  async down(name: string): Promise<void> {
    const p = this.paths(name);
    if (!existsSync(p.root)) throw new FaultlineError(`no sandbox named "${name}"`, "list them with `faultline sandbox ls`");
    let slot: number | null = null;
    try {
      const m = this.meta(name);
      slot = m.slot;
      if (this.isAlive(name)) {
        process.kill(m.initPid, "SIGKILL");
        await waitGone(m.initPid, m.initStart);
      }
      if (startTime(m.unsharePid)) killTree(m.unsharePid);
    } catch (e) {
      if (!(e instanceof FaultlineError)) throw e;
    }
    rmSync(p.root, { recursive: true, force: true });
    if (slot !== null) this.freeSlot(slot);
    else this.freeSlotsOwnedBy(name);
  }

  private freeSlotsOwnedBy(name: string): void {
    const dir = path.join(this.dataDir, "slots");
    if (!existsSync(dir)) return;
    for (const s of readdirSync(dir)) {
      const owner = path.join(dir, s, "owner");
      if (!existsSync(owner) || readFileSync(owner, "utf8") === name) rmSync(path.join(dir, s), { recursive: true, force: true });
    }
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
    const dir = path.join(this.dataDir, "slots");
    if (existsSync(dir)) {
      for (const s of readdirSync(dir)) {
        const owner = path.join(dir, s, "owner");
        const name = existsSync(owner) ? readFileSync(owner, "utf8") : "";
        if (!name || !existsSync(path.join(this.dataDir, "sandboxes", name))) rmSync(path.join(dir, s), { recursive: true, force: true });
      }
    }
    return removed;
  }
}

function chownTree(dir: string, uid: number): void {
  lchownSync(dir, uid, uid);
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) chownTree(p, uid);
    else lchownSync(p, uid, uid);
  }
  chownSync(dir, uid, uid);
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
  for (let i = 0; i < 1000; i++) {
    let kids: string;
    try {
      kids = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim();
    } catch {
      throw new FaultlineError("unshare exited at once", "see supervisor.log in the sandbox folder; `faultline sandbox up` checks user namespaces first");
    }
    for (const k of kids ? kids.split(" ") : []) {
      try {
        if (readlinkSync(`/proc/${k}/ns/pid`) !== ourPidNs) return Number(k);
      } catch {
        /* a helper that just exited */
      }
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new FaultlineError("the sandbox's namespaces did not come up within 2 s");
}

async function waitGone(pid: number, start: string): Promise<void> {
  for (let i = 0; i < 1000 && startTime(pid) === start; i++) await new Promise((r) => setTimeout(r, 5));
}

function killTree(pid: number): void {
  try {
    process.kill(-pid, "SIGKILL"); // detached: unshare leads its own process group
  } catch {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
}

