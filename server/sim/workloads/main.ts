/**
 * A built-in workload as a process of its own, started by the sandbox supervisor inside a pod's
 * network namespace (the pod's "container"):
 *
 *   node main.js <workload> --pod <ns>/<name> [--box <dir>] [--port N] [--host ADDR]
 *                [--cert-dir DIR] [--kubeconfig FILE] [--log-level debug|info|warn|error]
 *                [--release v0.13|v0.14]
 *
 * Prints exactly one JSON line first on stdout — `{"ready":true,"port":N}` once listening, or
 * `{"ready":false,"error":"..."}` and exit 1 — then the workload's own log lines (its `kubectl logs`);
 * lines logged during start-up are held back until after the ready line so the first line stays the
 * protocol. SIGTERM/SIGINT stop listening and exit 0.
 *
 * With --box, metallb-webhook signs its certificate with the sandbox CA in <box>/pki and reads pools
 * with <box>/kubernetes/<control plane>/admin.conf (the file the API server writes once it listens);
 * --cert-dir and --kubeconfig override either (tests use them without a box).
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { FaultlineError, formatError } from "../../errors.js";
import type { ClusterPlan } from "../plan.js";
import { WORKLOAD_NAMES, type WorkloadName } from "./select.js";
import type { RunningWorkload } from "./types.js";

export { workloadFor, workloadArgv, WORKLOAD_MAIN } from "./select.js";

const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

/** A parsed command line. */
export interface WorkloadArgs {
  workload: WorkloadName;
  pod: { namespace: string; name: string };
  box?: string;
  port: number;
  host: string;
  certDir?: string;
  kubeconfig?: string;
  logLevel: (typeof LOG_LEVELS)[number];
  /** metallb-webhook only: which MetalLB generation to answer like (see MetallbRelease). */
  release: "v0.13" | "v0.14";
}

const DEFAULT_PORT: Record<WorkloadName, number> = { "metallb-webhook": 9443, "http-echo": 8080 };
const USAGE = "usage: main.js <metallb-webhook|http-echo> --pod <namespace>/<name> [--box <dir>] [--port N] [--host ADDR] [--cert-dir DIR] [--kubeconfig FILE] [--log-level LEVEL] [--release v0.13|v0.14]";

const OPTIONS = {
  pod: { type: "string" },
  box: { type: "string" },
  port: { type: "string" },
  host: { type: "string" },
  "cert-dir": { type: "string" },
  kubeconfig: { type: "string" },
  "log-level": { type: "string" },
  release: { type: "string" },
} as const;

function parseOptions(argv: string[]) {
  return parseArgs({ args: argv, allowPositionals: true, strict: true, options: OPTIONS });
}

/**
 * Parses the command line (everything after `main.js`). Throws a FaultlineError naming the problem.
 *
 * @example parseWorkloadArgs(["http-echo", "--pod", "default/hello-world-x", "--port", "8080"]).port // 8080
 */
export function parseWorkloadArgs(argv: string[]): WorkloadArgs {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(argv);
  } catch (err) {
    throw new FaultlineError(err instanceof Error ? err.message : String(err), USAGE);
  }
  const { values, positionals } = parsed;
  const [workload, ...extra] = positionals;
  if (!workload || extra.length) throw new FaultlineError(workload ? `unexpected argument "${extra[0]}"` : "no workload named", USAGE);
  if (!(WORKLOAD_NAMES as readonly string[]).includes(workload)) throw new FaultlineError(`unknown workload "${workload}"; known: ${WORKLOAD_NAMES.join(", ")}`, USAGE);
  const name = workload as WorkloadName;
  const pod = /^([^/\s]+)\/([^/\s]+)$/.exec(values.pod ?? "");
  if (!pod) throw new FaultlineError(`--pod must be <namespace>/<name>, got "${values.pod ?? ""}"`, USAGE);
  let port = DEFAULT_PORT[name];
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!/^\d+$/.test(values.port) || port > 65535) throw new FaultlineError(`--port ${values.port} is not a port number`, USAGE);
  }
  const level = values["log-level"] ?? "info";
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new FaultlineError(`--log-level must be one of ${LOG_LEVELS.join(", ")}, got "${level}"`, USAGE);
  const release = values.release ?? "v0.13";
  if (release !== "v0.13" && release !== "v0.14") throw new FaultlineError(`--release must be v0.13 or v0.14, got "${release}"`, USAGE);
  return {
    workload: name,
    release,
    pod: { namespace: pod[1]!, name: pod[2]! },
    port,
    host: values.host ?? "0.0.0.0",
    logLevel: level as WorkloadArgs["logLevel"],
    ...(values.box ? { box: values.box } : {}),
    ...(values["cert-dir"] ? { certDir: values["cert-dir"] } : {}),
    ...(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}),
  };
}

/** <box>/kubernetes/<control plane>/admin.conf, named from the sandbox plan. */
function boxKubeconfig(box: string): string {
  const planFile = path.join(box, "plan.json");
  if (!existsSync(planFile)) throw new FaultlineError(`no plan.json in ${box}`, "pass the sandbox folder as --box, or --kubeconfig");
  const plan = JSON.parse(readFileSync(planFile, "utf8")) as ClusterPlan;
  const cp = plan.nodes.find((n) => n.role === "control-plane");
  if (!cp) throw new FaultlineError("the cluster has no control-plane node", "give one node `role: control-plane` in the lab");
  return path.join(box, "kubernetes", cp.name, "admin.conf");
}

/** Starts the named workload; `log` receives its log lines. */
export async function startWorkload(args: WorkloadArgs, log: (line: string) => void): Promise<RunningWorkload> {
  // each workload loads only its own modules: one process per pod, so start time and memory count
  if (args.workload === "http-echo") {
    const { startHttpEcho } = await import("./http-echo.js");
    return startHttpEcho({ podName: args.pod.name, host: args.host, port: args.port, log });
  }
  const { startMetallbWebhook } = await import("./metallb-webhook.js");
  const certDir = args.certDir ?? (args.box ? path.join(args.box, "pki") : undefined);
  if (!certDir) throw new FaultlineError("metallb-webhook needs the sandbox CA", "pass --box <sandbox folder> or --cert-dir <folder with ca.crt and ca.key>");
  const kubeconfig = args.kubeconfig ?? (args.box ? boxKubeconfig(args.box) : undefined);
  return startMetallbWebhook({
    certDir,
    host: args.host,
    port: args.port,
    // one certificate per controller pod: replicas starting together must not write the same files
    certName: `metallb-webhook-${args.pod.name}`,
    namespace: args.pod.namespace,
    logLevel: args.logLevel,
    release: args.release,
    log,
    ...(kubeconfig ? { kubeconfig } : {}),
  });
}

async function main(): Promise<void> {
  const held: string[] = [];
  let ready = false;
  const log = (line: string) => {
    if (ready) process.stdout.write(line + "\n");
    else held.push(line);
  };
  let running: RunningWorkload;
  try {
    running = await startWorkload(parseWorkloadArgs(process.argv.slice(2)), log);
  } catch (err) {
    process.stderr.write(formatError(err) + "\n");
    process.stdout.write(JSON.stringify({ ready: false, error: err instanceof Error ? err.message : String(err) }) + "\n");
    process.exit(1);
  }
  process.stdout.write(JSON.stringify({ ready: true, port: running.port }) + "\n");
  ready = true;
  for (const line of held) process.stdout.write(line + "\n");
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    // a client holding a connection open must not keep the pod from terminating
    setTimeout(() => process.exit(0), 2000).unref();
    void running.close().then(() => process.exit(0));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

// run only as the entry point: the supervisor and tests import workloadFor from here without starting anything
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) void main();
