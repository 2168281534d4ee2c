/**
 * The API server as a process of its own, started by the sandbox supervisor inside the control-plane
 * node's network namespace (like kube-apiserver on a kubeadm/kubespray master): it listens on
 * <cp address>:6443, and its own outbound calls (admission webhooks) cross the simulated network.
 *
 * Usage (by the supervisor only): node dist/sandbox/apiserver.cjs <box>, the bundle of this module that
 * `npm run build` makes, or its startup snapshot (server/sandboxes/sim/programs.ts).
 * Starts before the plan exists (loading its code is most of its start-up), reads the plan on a line
 * `plan` on stdin, and while the supervisor programs the network makes its certificates, seeds its
 * store, starts its controllers and writes <box>/kubernetes/<cp>/admin.conf; then waits for a line
 * `listen` (the control plane's address exists from then on), listens and prints one line
 * `{"ready":true,"port":6443}` on stdout.
 */
import { existsSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { stringify as stringifyYaml } from "yaml";
import path from "node:path";
import { FaultlineError, formatError } from "../../errors.js";
import { createLogger } from "../../log.js";
import type { InventoryEvaluation } from "../kubespray/evaluate.js";
import type { ClusterPlan, PlanNode } from "../plan.js";
import { prepareApiServer, prepareClusterState, type PreparedApiServer } from "./index.js";
import { boxPaths, type BoxPaths } from "../../sandboxes/sim/box.js";
import type { KObject } from "./objects.js";
import { metallbWebhookObjects } from "../workloads/metallb-objects.js";
import { workloadFor } from "../workloads/select.js";
import { runSandboxProgram, type WarmupSample } from "../../sandboxes/sim/program-main.js";

/**
 * The supervisor's lines on stdin: `plan` once plan.json and vars.json exist, `listen` once the control
 * plane's address is up. The process exits when the supervisor closes stdin first. Read from main on
 * (module level runs when the startup snapshot is built: program-main.ts).
 */
const lines: string[] = [];
const waiting: Array<{ word: string; resolve: () => void }> = [];
function readSupervisorLines(): void {
  let stdinBuf = "";
  process.stdin.on("data", (d: Buffer) => {
    stdinBuf += d.toString();
    for (let nl = stdinBuf.indexOf("\n"); nl >= 0; nl = stdinBuf.indexOf("\n")) {
      lines.push(stdinBuf.slice(0, nl).trim());
      stdinBuf = stdinBuf.slice(nl + 1);
    }
    for (const w of [...waiting]) if (lines.includes(w.word)) (waiting.splice(waiting.indexOf(w), 1), w.resolve());
  });
  process.stdin.on("end", () => {
    if (waiting.length) process.exit(0);
  });
}
function untilLine(word: string): Promise<void> {
  if (lines.includes(word)) return Promise.resolve();
  return new Promise((resolve) => waiting.push({ word, resolve }));
}

/** The agents' pids from <box>/ready.json, read per exec: the supervisor writes it after the API server starts, and again on rebuilds. */
function readAgents(paths: BoxPaths): Record<string, number> {
  try {
    const ready = JSON.parse(readFileSync(paths.ready, "utf8")) as { agents?: Record<string, number> };
    return ready.agents ?? {};
  } catch {
    return {};
  }
}

const log = createLogger({ component: "apiserver" }, { json: true });

/** How long after listening the controllers' first pass waits (see main). */
const CONTROLLER_RESYNC_DELAY_MS = 1500;

/**
 * The control plane's static pod manifests, as kubeadm/kubespray leave them in
 * /etc/kubernetes/manifests: one file per mirror pod of this node. Files already there (a trainee's
 * edits, kept across re-provisioning) are left alone.
 */
function writeStaticManifests(pods: KObject[], node: string, dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const pod of pods) {
    const meta = pod.metadata as { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
    const spec = pod.spec as Record<string, unknown> | undefined;
    if (meta.annotations?.["kubernetes.io/config.source"] !== "file" || spec?.nodeName !== node) continue;
    const component = meta.labels?.component ?? meta.name!;
    const file = path.join(dir, `${component}.yaml`);
    if (existsSync(file)) continue;
    const annotations = Object.fromEntries(Object.entries(meta.annotations ?? {}).filter(([k]) => !k.startsWith("kubernetes.io/config.")));
    const { nodeName: _node, ...podSpec } = spec;
    const manifest = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: component, namespace: "kube-system", labels: meta.labels, ...(Object.keys(annotations).length ? { annotations } : {}) },
      spec: podSpec,
    };
    writeFileSync(file, stringifyYaml(manifest));
  }
}

/**
 * What the control-plane node holds once the API server is prepared: MetalLB's webhook configuration
 * wherever its controller runs (the lab installed MetalLB), and in `dir` (its /etc/kubernetes) the
 * static pod manifests and admin.conf.
 */
function installControlPlane(api: Pick<PreparedApiServer, "store" | "caCert" | "kubeconfig">, plan: ClusterPlan, cp: PlanNode, dir: string): void {
  if (plan.pods.some((p) => workloadFor(p)?.workload === "metallb-webhook")) {
    for (const o of metallbWebhookObjects(api.caCert)) api.store.create("validatingwebhookconfigurations.admissionregistration.k8s.io", o as KObject, { keepStatus: true });
  }
  mkdirSync(dir, { recursive: true });
  writeStaticManifests(api.store.list("pods", { namespace: "kube-system" }).items, cp.name, path.join(dir, "manifests"));
  writeFileSync(path.join(dir, "admin.conf"), api.kubeconfig(`https://${cp.address}:6443`), { mode: 0o600 });
}

async function main(args: string[]): Promise<void> {
  // Where its start-up goes, in ms since the process started: logged once it listens.
  const since = () => Math.round(process.uptime() * 1000);
  const startup: Record<string, number> = { main: since() };
  readSupervisorLines();
  const box = args[0];
  if (!box) throw new FaultlineError("usage: apiserver <box>");
  const paths = boxPaths(box);
  await untilLine("plan");
  startup.plan = since();
  const plan = JSON.parse(readFileSync(paths.plan, "utf8")) as ClusterPlan;
  const vars = JSON.parse(readFileSync(paths.vars, "utf8")) as InventoryEvaluation;
  const cp = plan.nodes.find((n) => n.role === "control-plane");
  if (!cp) throw new FaultlineError("the cluster has no control-plane node", "give one node `role: control-plane` in the lab");
  const kubeVersion = vars.vars.kube_version?.value;
  const certDir = paths.pki;
  // Everything but listening is done while the supervisor still programs the network: certificates,
  // the seeded store, the controllers, the static pod manifests and admin.conf.
  const prepared = await prepareApiServer({
    host: cp.address,
    port: 6443,
    plan,
    certDir,
    log,
    logsDir: paths.logs,
    agents: () => readAgents(paths),
    deferControllerResync: true,
    ...(typeof kubeVersion === "string" ? { kubeVersion } : {}),
  });
  installControlPlane(prepared, plan, cp, paths.kubernetes(cp.name));
  startup.prepared = since();
  await untilLine("listen");
  startup.listen = since();
  const api = await prepared.listen();
  const cpu = process.cpuUsage();
  log.info("apiserver.startup", { ms: { ...startup, listening: since() }, cpuMs: Math.round((cpu.user + cpu.system) / 1000) });
  // The controllers' first pass finds a freshly seeded cluster as they would make it: run it once the
  // sandbox's first requests (its workloads' lists, the supervisor's wait for ready) are served.
  setTimeout(() => prepared.resyncControllers(), CONTROLLER_RESYNC_DELAY_MS);
  process.stdout.write(JSON.stringify({ ready: true, port: api.port }) + "\n");
  for (const sig of ["SIGTERM", "SIGINT"] as const) process.on(sig, () => void api.close().then(() => process.exit(0)));
}

/**
 * main's work up to listening but the HTTPS server (a snapshot cannot hold node:https), on the
 * snapshot's sample sandbox (program-main.ts), in its folder: the supervisor's warm-up wrote its
 * plan.json and vars.json.
 */
async function warmUp(sample: WarmupSample): Promise<void> {
  const plan = JSON.parse(readFileSync(path.join(sample.dir, "plan.json"), "utf8")) as ClusterPlan;
  const vars = JSON.parse(readFileSync(path.join(sample.dir, "vars.json"), "utf8")) as InventoryEvaluation;
  const cp = plan.nodes.find((n) => n.role === "control-plane")!;
  const kubeVersion = vars.vars.kube_version?.value;
  const state = await prepareClusterState({
    host: cp.address,
    plan,
    certDir: path.join(sample.dir, "pki"),
    log: createLogger({}, { json: true, level: "error", write: () => {} }),
    deferControllerResync: true,
    ...(typeof kubeVersion === "string" ? { kubeVersion } : {}),
  });
  installControlPlane({ store: state.store, caCert: state.pki.ca.cert, kubeconfig: state.kubeconfig }, plan, cp, path.join(sample.dir, "kubernetes", cp.name));
  state.controllers?.resync();
  await state.controllers?.settled();
  state.controllers?.stop();
}

runSandboxProgram(
  (args) =>
    void main(args).catch((e: unknown) => {
      log.error("apiserver.failed", { error: formatError(e) });
      process.stdout.write(JSON.stringify({ ready: false, error: e instanceof Error ? e.message : String(e) }) + "\n");
      process.exit(1);
    }),
  warmUp,
);
