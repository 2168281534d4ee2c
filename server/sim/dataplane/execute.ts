import { spawn } from "node:child_process";
import { FaultlineError } from "../../errors.js";
import type { NetOp } from "./ops.js";

/**
 * Runs NetOps batched: per phase and namespace one `ip -batch` and one `sysctl`+`iptables-restore`, so a
 * 7-node, 15-pod cluster costs a few dozen processes instead of hundreds. Must run where the sandbox's
 * named namespaces are visible (/run/netns of the supervisor's mount namespace).
 */
export interface Runner {
  (argv: string[], input?: string): Promise<string>;
}

/** Spawns argv directly; rejects with the command's stderr so errors read like the tool's own. */
export const spawnRunner: Runner = (argv, input) =>
  new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", (e) => reject(new FaultlineError(`cannot run ${argv[0]}: ${e.message}`, "run `npm run bootstrap` to install the sandbox tools")));
    child.on("close", (code) => {
      if (code === 0) resolve(out);
      else reject(new FaultlineError(`${argv.join(" ")} failed (exit ${code}): ${err.trim() || out.trim()}`));
    });
    child.stdin.on("error", () => {}); // the command may exit before reading all input; its exit code tells
    child.stdin.end(input ?? "");
  });

const netnsPath = (netns: string) => `/run/netns/${netns}`;

/** Groups `ops` per namespace, keeping their order inside each namespace. */
function byNetns(ops: NetOp[]): Map<string, NetOp[]> {
  const m = new Map<string, NetOp[]>();
  for (const op of ops) {
    const list = m.get(op.netns) ?? [];
    list.push(op);
    m.set(op.netns, list);
  }
  return m;
}

/** The iptables-restore input for `ops`, one block per table, in first-seen table order. */
export function iptablesRestoreInput(ops: NetOp[]): string {
  const tables = new Map<string, string[]>();
  for (const op of ops) {
    if (op.kind !== "iptables") continue;
    const rules = tables.get(op.table) ?? [];
    rules.push(op.rule);
    tables.set(op.table, rules);
  }
  return [...tables].map(([t, rules]) => `*${t}\n${rules.join("\n")}\nCOMMIT\n`).join("");
}

/** `force`: carry on past failing `ip` lines (a reconcile deleting a route a fault already removed). */
export interface ExecuteOptions {
  force?: boolean;
}

async function runNetns(netns: string, ops: NetOp[], run: Runner, opts: ExecuteOptions): Promise<void> {
  const ipLines = ops.flatMap((o) => (o.kind === "ip" ? [o.line] : []));
  if (ipLines.length) {
    const argv = ["ip", ...(opts.force ? ["-force"] : []), ...(netns ? ["-n", netns] : []), "-batch", "-"];
    await run(argv, ipLines.join("\n") + "\n").catch((e: unknown) => {
      if (opts.force) return;
      throw new FaultlineError(`programming ${netns || "the node network"}: ${(e as Error).message}`);
    });
  }
  const sysctls = ops.flatMap((o) => (o.kind === "sysctl" ? [`${o.key}=${o.value}`] : []));
  const restore = iptablesRestoreInput(ops);
  if (!sysctls.length && !restore) return;
  // One process enters the namespace and does both, because each process start costs more than the work.
  const script = [sysctls.length ? `sysctl -q -w ${sysctls.join(" ")} >/dev/null` : "", restore ? "iptables-restore --noflush" : ""]
    .filter(Boolean)
    .join(" && ");
  const enter = netns ? ["nsenter", `--net=${netnsPath(netns)}`, "--"] : [];
  await run([...enter, "sh", "-c", script], restore).catch((e: unknown) => {
    throw new FaultlineError(`programming ${netns || "the node network"}: ${(e as Error).message}`);
  });
}

/** Runs one phase: namespaces in parallel (bounded), each namespace's ops in order. */
export async function executeOps(ops: NetOp[], run: Runner = spawnRunner, concurrency = 4, opts: ExecuteOptions = {}): Promise<void> {
  const queue = [...byNetns(ops)];
  const workers = Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
    for (let item = queue.shift(); item; item = queue.shift()) await runNetns(item[0], item[1], run, opts);
  });
  await Promise.all(workers);
}

export async function executePhases(phases: NetOp[][], run: Runner = spawnRunner): Promise<void> {
  for (const phase of phases) await executeOps(phase, run);
}
