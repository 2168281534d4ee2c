/**
 * The sandbox supervisor: runs INSIDE the sandbox's user + mount + pid + network namespaces, as the
 * sandbox's unprivileged "root", under tini (pid 1). It builds the cluster (kubespray evaluation, IPAM,
 * dataplane, faults, node/pod agents), reports progress on fd 3 until ready, then stays up to serve
 * rebuilds and fault changes. Killing it (or tini) ends the pid namespace, and with it every process,
 * mount and network namespace of the sandbox: the kernel does the teardown.
 *
 * Usage (by the sim driver only): node dist/sandbox/supervisor.cjs <box>/spec.json, the bundle of this
 * module that `npm run build` makes, or its startup snapshot (programs.ts).
 */
import { spawn, spawnSync, type ChildProcess, type ChildProcessByStdio } from "node:child_process";
import type { Readable, Writable } from "node:stream";

/** The API server process: commands on stdin, its ready line on stdout, its log to ours. */
type ApiProcess = ChildProcessByStdio<Writable, Readable, null>;
import { createWriteStream, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import path from "node:path";
import { writeFileAtomic } from "../../atomic-file.js";
import { FaultlineError, formatError } from "../../errors.js";
import { createLogger } from "../../log.js";
import { buildPlan, expandNodes } from "../../sim/build-plan.js";
import { executeOps, executePhases, spawnRunner } from "../../sim/dataplane/execute.js";
import { renderProvisioning } from "../../sim/dataplane/render.js";
import { checkFaults, dataplaneOps, findFaultKind, injectInventoryFaults, revertInventoryFault, revertOps, topologyOf } from "../../sim/faults/index.js";
import { faultSpecSchema, type FaultSpec } from "../../sim/faults/schema.js";
import { z } from "zod";
import { evaluateInventory } from "../../sim/kubespray/evaluate.js";
import type { ClusterPlan, PlanPod } from "../../sim/plan.js";
import { CalicoIpam } from "../../sim/ipam/ipam.js";
import { kubeClient, type KubeClient } from "../../sim/workloads/kubeclient.js";
import { SharedInformers } from "../../sim/workloads/informer.js";
import { Kubelet, type KubeletRuntime, type PodHandle, type PodServe } from "./kubelet.js";
import { KubeProxy } from "./kube-proxy.js";
import { Felix } from "./felix.js";
import { bwrapArgs, type TargetRoot } from "./rootfs.js";
import { Launcher, type Job } from "./launcher.js";
import { calicoctlScript } from "./tools/calicoctl.js";
import { startHttpEcho } from "../../sim/workloads/http-echo.js";
import { corednsRelays, corednsSockets, isCoreDnsPod, startCoreDns } from "../../sim/workloads/coredns.js";
import { apiClusterSource, type ClusterSource } from "../../sim/workloads/coredns-source.js";
import { startMetallbWebhook } from "../../sim/workloads/metallb-webhook.js";
import { workloadFor } from "../../sim/workloads/select.js";
import type { RunningWorkload } from "../../sim/workloads/types.js";
import { boxPaths, type BoxPaths } from "./box.js";
import { supervisorSpecSchema, type SupervisorEvent, type SupervisorSpec } from "./layout.js";
import { runSandboxProgram, type WarmupSample } from "./program-main.js";

const log = createLogger({ component: "supervisor" }, { json: true });
/** Milliseconds since this process started (its events' `ms`), its start-up included. */
const sinceStart = () => Math.round(process.uptime() * 1000);

/** Progress channel to the host, opened by main; closed once ready, after which the host may be gone. */
let progress: NodeJS.WritableStream | null = null;
function emit(ev: SupervisorEvent): void {
  log.info("supervisor.event", ev);
  progress?.write(JSON.stringify(ev) + "\n");
}
const phase = (name: string, detail?: string) => emit({ type: "phase", phase: name, ...(detail ? { detail } : {}), ms: sinceStart() });

interface Agent { target: string; job: Job; pid: number }

/**
 * Pid 1 of every node and pod: catatonit in pause mode, the pause process of a pod (podman's), which
 * reaps the orphans trainees leave behind and otherwise sleeps in a blocking read of its signals.
 * (tini, used before, wakes every second to poll for zombies even when there are none: 20 wake-ups a
 * second per flagship sandbox, most of an idle sandbox's CPU once nothing else polled; and it needed a
 * `sleep infinity` child to run.) bubblewrap execs it as pid 1 (--as-pid-1), so `ps` inside shows no
 * host paths from bubblewrap's command line.
 */
const AGENT_INIT = ["/usr/bin/catatonit", "-P"];

/** Where the files bound into every target's /etc are written (see Supervisor.etcFile). */
const ETC_FILES = "/run/faultline/etc";

class Supervisor {
  agents: Agent[] = [];
  apiserver: ChildProcess | null = null;
  /** Built-in workloads (MetalLB webhook, HTTP echo) hosted here, and the socat in each pod that owns its port. */
  workloads: RunningWorkload[] = [];
  relays: Job[] = [];
  /** Each pod's workload and socat, to stop them when the pod is deleted. */
  podWorkloads = new Map<string, { workload: RunningWorkload; relays: Job[] }>();
  kubelet: Kubelet | null = null;
  kubeProxy: KubeProxy | null = null;
  felix: Felix | null = null;
  readyAt = "";
  plan: ClusterPlan | null = null;
  generation = 0;
  /** Faults in force, in the order applied. Inventory faults are injected once, at the first build. */
  faults: FaultSpec[] = [];
  busy: Promise<unknown> = Promise.resolve();

  readonly paths: BoxPaths;
  /** Starts every process of the sandbox but the API server (launcher.ts says why). */
  readonly launcher: Launcher;

  constructor(readonly spec: SupervisorSpec) {
    this.paths = boxPaths(spec.box);
    // In /run, the supervisor's private tmpfs: nothing in the sandbox sees the launcher's files.
    this.launcher = new Launcher("/run/faultline-launcher");
    this.faults = [...spec.faults];
  }


  /** Serialises builds and fault changes: one change to the kernel state at a time. */
  serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.busy.then(fn, fn);
    this.busy = next.catch(() => {});
    return next;
  }

  async build(report: (phase: string, detail?: string) => void): Promise<void> {
    const { spec } = this;
    checkLabFaults(this.faults, spec.cluster);

    // First build: nothing exists yet, so the control plane's namespace can be made now and the API
    // server process start loading (~0.5 s of module loading) while kubespray's evaluation, IPAM and
    // the network are done. A rebuild replaces a running cluster and starts it after the teardown.
    const early = this.generation === 0 && !this.apiserver ? this.spawnApiServerEarly() : null;
    if (this.generation === 0) {
      const edits = await injectInventoryFaults(this.faults, spec.inventoryDir);
      // The count only: progress is shown to the trainee, and the fault's description is the answer.
      if (edits.length) report("faults", `${edits.length} inventory change(s)`);
    }

    report("kubespray", `evaluating ${spec.inventoryDisplayRoot} with kubespray ${spec.kubespray} semantics`);
    const ev = await evaluateInventory(spec.inventoryDir, spec.kubespray, { displayRoot: this.paths.workspace });
    writeFileAtomic(this.paths.vars, JSON.stringify(ev, null, 2));

    report("ipam", `pool ${ev.podsSubnet}, blocks of /${ev.blockSize}`);
    const plan = buildPlan(spec.name, spec.cluster, ev);
    writeFileAtomic(this.paths.plan, JSON.stringify(plan, null, 2));
    // plan.json and vars.json exist: the early API server makes its certificates and seeds its store
    // while the network is programmed (a rebuild's starts once the old cluster is gone, below).
    const earlyApi = early ? this.startApiServer(plan, early.child) : null;
    earlyApi?.ready.catch(() => {}); // awaited below; a failure meanwhile is not unhandled

    if (!early) await this.teardown();
    report("network", `${plan.nodes.length} nodes, ${plan.pods.length} pods`);
    // Where the build's time goes, in ms since the process started: logged once it is ready.
    const timings: Record<string, number> = { network: sinceStart() };
    const mark = <T>(name: string, p: Promise<T>): Promise<T> => p.then((v) => ((timings[name] = sinceStart()), v));
    const prov = renderProvisioning(plan);
    const made = early ? [early.netns] : [];
    await mark("netns", this.launcher.run(["ip", "-batch", "-"], prov.netns.filter((n) => !made.includes(n)).map((n) => `netns add ${n}`).join("\n") + "\n"));
    const api = earlyApi ?? this.startApiServer(plan);
    api.ready.catch(() => {});
    // Phases 1 and 2 (render.ts) wire the namespaces and give every node its address: the API server can
    // listen on the control plane's from then on. They go first, being its critical path.
    await mark("addresses", executePhases(prov.phases.slice(0, 2), this.launcher.run));
    api.listen();
    // The node and pod shells and the workloads' socats need nothing but their namespaces: they start
    // while phase 3 writes kube-proxy's Service rules and the API server finishes its start-up.
    const shells = mark("shells", this.startAgents(plan));
    const workloads = mark("workloads", this.startWorkloads(plan, api.ready));
    void mark("apiserver", api.ready).catch(() => {});
    shells.catch(() => {});
    workloads.catch(() => {});
    await mark("services", executePhases(prov.phases.slice(2), this.launcher.run));
    this.plan = plan;

    const ops = dataplaneOps(this.faults, plan);
    if (ops.length) {
      report("faults", `${ops.length} kernel changes`);
      await executeOps(ops, this.launcher.run);
    }
    writeFileAtomic(this.paths.faults, JSON.stringify(this.faults, null, 2));

    report("agents", "waiting for the API server, the node and pod shells and the workloads");
    await Promise.all([api.ready, workloads, shells]);
    const cpu = process.cpuUsage();
    log.info("supervisor.build_timings", { generation: this.generation + 1, ms: timings, cpuMs: Math.round((cpu.user + cpu.system) / 1000) });
    this.installKubeconfigs(plan);
    this.generation++;
    this.readyAt = new Date().toISOString();
    this.writeReady();
    // Like kubelets registering after the control plane is up: the node agents list the API server and
    // adopt what runs while the sandbox is already usable; a pod created meanwhile is picked up by the
    // kubelet's first list. Not awaited, so it stays off the ready path.
    const gen = this.generation;
    void this.startNodeAgents(plan).catch((e: unknown) => {
      if (this.generation === gen) log.error("supervisor.node_agents_failed", { error: formatError(e) });
    });
    if (spec.manifests.length) {
      report("manifests", `${spec.manifests.length} file(s) of the lab's starting objects`);
      await this.applyManifests(plan, spec.manifests);
    }
  }

  /** The lab's starting objects, with the real kubectl as the admin: what a lab author wrote is what a trainee sees. */
  private async applyManifests(plan: ClusterPlan, texts: string[]): Promise<void> {
    const cp = plan.nodes.find((n) => n.role === "control-plane");
    if (!cp) return;
    const home = path.join(this.spec.box, "tmp", "kubectl-home");
    mkdirSync(home, { recursive: true });
    await new Promise<void>((resolve, reject) => {
      const child = spawn("kubectl", ["apply", "-f", "-"], {
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, KUBECONFIG: this.paths.adminConf(cp.name) },
        stdio: ["pipe", "ignore", "pipe"],
      });
      let err = "";
      child.stderr.on("data", (d: Buffer) => (err += d.toString()));
      child.on("error", (e) => reject(new FaultlineError(`cannot run kubectl: ${e.message}`, "install kubectl (see README)")));
      child.on("close", (code) => (code === 0 ? resolve() : reject(new FaultlineError(`the lab's manifests were refused: ${err.trim()}`, "fix the lab's manifests; `faultline lab validate` checks their syntax, the API server their content"))));
      child.stdin.on("error", () => {});
      child.stdin.end(texts.join("\n---\n"));
    });
  }

  /** The kubelets and kube-proxy: from here on, pods and Services follow the API server. */
  private async startNodeAgents(plan: ClusterPlan): Promise<void> {
    const cp = plan.nodes.find((n) => n.role === "control-plane");
    if (!cp || !plan.ipam) return;
    const client = kubeClient(this.paths.adminConf(cp.name), "kubelet/v1.24.6 (linux/amd64) kubernetes/faultline");
    const ipam = CalicoIpam.fromJSON(plan.ipam);
    // One list and watch per resource, as the controllers of one binary share them: the kubelet and
    // Felix follow the same pods.
    const informers = new SharedInformers(client);
    const kubelet = new Kubelet(this.kubeletRuntime(plan, ipam, client, informers));
    const run = this.launcher.run;
    const proxy = new KubeProxy({ plan, informers, log, run, serial: (fn) => this.serial(fn) });
    const felix = new Felix({ plan, informers, log, run, serial: (fn) => this.serial(fn) });
    this.kubelet = kubelet;
    this.kubeProxy = proxy;
    this.felix = felix;
    // Their kernel work goes through serial(), behind any build or fault change in progress.
    await Promise.all([kubelet.start(), proxy.start(), felix.start()]);
  }

  /** Removes everything a build created, leaving the workspace and homes. */
  async teardown(): Promise<void> {
    // First: whoever reads ready.json (the server opening a shell, a check) must learn that the agents'
    // pids are about to die before they do, not enter a dying namespace.
    if (existsSync(this.paths.ready)) rmSync(this.paths.ready);
    const [kubelet, proxy, felix] = [this.kubelet, this.kubeProxy, this.felix];
    this.kubelet = null;
    this.kubeProxy = null;
    this.felix = null;
    await Promise.all([kubelet?.stop(), proxy?.stop(), felix?.stop()]);
    this.podWorkloads.clear();
    this.dnsSource = null;
    await Promise.all([this.apiserver ? killAndWait(this.apiserver) : undefined, ...this.relays.map((r) => r.kill()), ...this.agents.map((a) => a.job.kill())]);
    this.apiserver = null;
    this.relays = [];
    this.agents = [];
    await Promise.all(this.workloads.map((w) => w.close().catch(() => {})));
    this.workloads = [];
    // A namespace outlives `ip netns delete` while anything still holds it, and with it the node's eth0
    // and our end of the veth. Deleting our ends removes both ends at once, so a rebuild starts clean.
    const run = this.launcher.run;
    await run(["ip", "-all", "netns", "delete"]).catch(() => {});
    const links = await run(["ip", "-o", "link", "show"]).catch(() => "");
    const ours = [...links.matchAll(/^\d+: (vn\d+|br-nodes)[@:]/gm)].map((m) => `link del ${m[1]}`);
    if (ours.length) await run(["ip", "-force", "-batch", "-"], ours.join("\n") + "\n").catch(() => {});
    this.plan = null;
  }

  /** `hostname`: a hostNetwork pod shares its node's UTS namespace, so its hostname is the node's. */
  private targetRoot(plan: ClusterPlan, target: string, hostname?: string): TargetRoot {
    const { box } = this.spec;
    const key = target.replaceAll("/", "_");
    const home = path.join(box, "home", key);
    mkdirSync(home, { recursive: true });
    const hostsLines = ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback", ...plan.nodes.map((n) => `${n.address} ${n.name}`)];
    const [kind, ...rest] = target.split("/");
    hostname ??= rest[rest.length - 1]!;
    const ro: Array<[string, string]> = [
      [this.etcFile(`hostname-${hostname}`, hostname + "\n"), "/etc/hostname"],
      [this.etcFile("hosts", hostsLines.join("\n") + "\n"), "/etc/hosts"],
    ];
    const rw: Array<[string, string]> = [[home, "/root"]];
    if (kind === "node") {
      const node = plan.nodes.find((n) => n.name === hostname)!;
      const kube = path.join(box, "kubernetes", node.name);
      mkdirSync(path.join(kube, "manifests"), { recursive: true });
      mkdirSync(path.join(home, "workspace"), { recursive: true });
      // A login shell (the web terminal's, `sandbox shell`'s) reads /etc/profile, which sets root's PATH
      // without /opt/faultline/bin: ~/.profile puts faultline-reprovision and calicoctl back on it.
      // Written once: a rebuild keeps the home, and the trainee may have edited it.
      const profile = path.join(home, ".profile");
      if (!existsSync(profile)) writeFileSync(profile, ROOT_PROFILE);
      rw.push([kube, "/etc/kubernetes"], [path.join(box, "workspace"), "/root/workspace"]);
      ro.push(
        [this.etcFile("resolv.conf-node", `nameserver ${plan.nodeNetwork.gateway}\n`), "/etc/resolv.conf"],
        [this.etcFile(`10-calico.conflist-${node.name}`, JSON.stringify(calicoConflist(plan, node.name), null, 2) + "\n"), "/etc/cni/net.d/10-calico.conflist"],
        [path.join(box, "trainee.sock"), "/run/faultline/control.sock"],
        [this.etcFile("faultline-reprovision", REPROVISION_SCRIPT, 0o755), "/opt/faultline/bin/faultline-reprovision"],
        [this.etcFile("calicoctl", calicoctlScript(plan.calicoVersion), 0o755), "/opt/faultline/bin/calicoctl"],
      );
    } else {
      const ns = rest[0]!;
      const dns = plan.services.find((s) => s.namespace === "kube-system" && s.name === "coredns");
      const resolv = `${dns ? `nameserver ${dns.clusterIP}\n` : ""}search ${ns}.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n`;
      ro.push([this.etcFile(`resolv.conf-${ns}`, resolv), "/etc/resolv.conf"]);
    }
    return { hostname, etcBase: this.spec.etcBase, roFiles: ro, rwBinds: rw };
  }

  /** Files already written to ETC_FILES in this build, by name, with their content. */
  private etcWritten = new Map<string, string>();

  /**
   * A file bound read-only into targets (/etc/hosts, /etc/resolv.conf, the node tools), written once
   * per content and shared by every target that needs the same: 20 agents used to write ~80 files to
   * the data disk on the start-up path. They live in the supervisor's private /run tmpfs: nothing but
   * the binds needs them, and a rebuild rewrites them.
   */
  private etcFile(name: string, text: string, mode = 0o644): string {
    const file = path.join(ETC_FILES, name);
    if (this.etcWritten.get(name) === text) return file;
    if (this.etcWritten.size === 0) mkdirSync(ETC_FILES, { recursive: true });
    // A new inode, never an in-place rewrite: a file already bound into a running agent keeps its content.
    writeFileAtomic(file, text, { mode });
    this.etcWritten.set(name, text);
    return file;
  }

  /**
   * kube-apiserver runs on the control plane's host network (its own process in that node's namespace),
   * so the trainee's kubectl reaches it at <cp>:6443 and its webhook calls cross the simulated network.
   */
  /** The API server process in the first control-plane node's (new) namespace, before the plan exists. */
  private spawnApiServerEarly(): { child: ApiProcess; netns: string } | null {
    const cp = expandNodes(this.spec.cluster).find((n) => n.role === "control-plane");
    if (!cp) return null;
    // the node's namespace is named after the node (build-plan.ts)
    const made = spawnSync("ip", ["netns", "add", cp.name], { stdio: "ignore" });
    if (made.status !== 0) return null;
    return { child: this.spawnApiServer(cp.name), netns: cp.name };
  }

  private spawnApiServer(netns: string): ApiProcess {
    const child = spawn("nsenter", [`--net=/run/netns/${netns}`, "--", process.execPath, ...this.spec.apiserverArgs, this.spec.box], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    child.stdin.on("error", () => {});
    this.apiserver = child;
    return child;
  }

  private startApiServer(plan: ClusterPlan, spawned?: ApiProcess): { listen(): void; ready: Promise<void> } {
    const cp = plan.nodes.find((n) => n.role === "control-plane");
    if (!cp) {
      if (spawned) void killAndWait(spawned);
      return { listen: () => {}, ready: Promise.resolve() };
    }
    const child = spawned ?? this.spawnApiServer(cp.netns);
    // plan.json and vars.json are written: it may read them and make its certificates
    child.stdin.write("plan\n");
    const ready = new Promise<void>((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        const nl = out.indexOf("\n");
        if (nl < 0) return;
        let msg: { ready?: unknown; error?: unknown };
        try {
          msg = JSON.parse(out.slice(0, nl)) as { ready?: unknown; error?: unknown };
        } catch {
          msg = { ready: false, error: `unexpected output: ${out.slice(0, nl).slice(0, 200)}` };
        }
        if (msg.ready === true) resolve();
        else reject(new FaultlineError(`the API server did not start: ${String(msg.error ?? "unknown error")}`, "see supervisor.log in the sandbox folder"));
      });
      child.on("exit", (code, sig) => reject(new FaultlineError(`the API server exited (${sig ?? code}) during start-up`, "see supervisor.log in the sandbox folder")));
    });
    return { listen: () => child.stdin.write("listen\n"), ready };
  }

  /**
   * Pods whose image has a built-in workload get it: the workload listens on a unix socket here (one
   * process hosts them all, instead of ~50 MB of Node.js per pod), and a socat in the pod's network
   * namespace owns the pod's TCP port. The TCP connection ends in the pod: tcpdump there sees the
   * handshake, and a blackholed reply is lost exactly as it would be for a real container.
   */
  private async startWorkloads(plan: ClusterPlan, apiReady: Promise<void>): Promise<void> {
    await Promise.all(
      plan.pods.map((pod) => {
        if (isCoreDnsPod(pod)) return this.startWorkload(plan, pod, { workload: "coredns", port: 53 }, apiReady);
        const choice = workloadFor(pod);
        if (!choice) return undefined;
        const port = Number(choice.args[choice.args.indexOf("--port") + 1] ?? 0);
        return this.startWorkload(plan, pod, { workload: choice.workload, port }, apiReady);
      }),
    );
  }

  private socketSeq = 0;
  /** One API data source for every CoreDNS replica of a build (they would list the same objects). */
  private dnsSource: ClusterSource | null = null;

  /**
   * One pod's built-in workload on unix sockets here, and the socats in the pod that own its ports. The
   * socats start at once; workloads that talk to the API server (CoreDNS lists it, MetalLB's webhook
   * needs its certificate from the sandbox CA) start once `apiReady` resolves.
   */
  private async startWorkload(plan: ClusterPlan, pod: PlanPod, serve: PodServe, apiReady: Promise<void> = Promise.resolve()): Promise<void> {
    const cp = plan.nodes.find((n) => n.role === "control-plane");
    const dir = this.paths.workloadSockets;
    const logs = this.paths.logs;
    mkdirSync(dir, { recursive: true });
    mkdirSync(logs, { recursive: true });
    // Short names: a unix socket path must fit in 108 bytes.
    const stem = String(this.socketSeq++);
    const out = createWriteStream(path.join(logs, `${pod.namespace}_${pod.name}.log`), { flags: "a" });
    const logLine = (line: string) => void out.write(line + "\n");
    let start: () => Promise<RunningWorkload>;
    let relays: string[][];
    if (serve.workload === "coredns") {
      const sockets = corednsSockets(dir, stem);
      for (const f of Object.values(sockets)) if (existsSync(f)) rmSync(f);
      start = async () => {
        await apiReady;
        if (!this.dnsSource && cp) this.dnsSource = apiClusterSource({ kubeconfig: this.paths.adminConf(cp.name) });
        return startCoreDns({
          sockets, podIP: pod.address, upstream: plan.nodeNetwork.gateway, log: logLine,
          ...(this.dnsSource ? { source: this.dnsSource } : cp ? { kubeconfig: this.paths.adminConf(cp.name) } : {}),
        });
      };
      relays = corednsRelays(sockets).map((r) => r.argv);
    } else {
      const sock = path.join(dir, `${stem}.sock`);
      if (existsSync(sock)) rmSync(sock);
      start =
        serve.workload === "metallb-webhook"
          ? async () => {
              await apiReady;
              return startMetallbWebhook({
                path: sock, port: serve.port, certDir: this.paths.pki, log: logLine, release: "v0.14",
                ...(cp ? { kubeconfig: this.paths.adminConf(cp.name) } : {}),
              });
            }
          : () => startHttpEcho({ path: sock, port: serve.port, podName: pod.name, log: logLine });
      relays = [["socat", `TCP-LISTEN:${serve.port},fork,reuseaddr,nodelay`, `UNIX-CONNECT:${sock}`]];
    }
    // socat connects to the workload's socket per connection, so it can bind the pod's port before the
    // workload listens; the pod counts as started only when both are up.
    const children = relays.map((argv) => this.launcher.start(["nsenter", `--net=/run/netns/${pod.netns}`, "--", ...argv], { longLived: true }));
    this.relays.push(...children);
    let workload: RunningWorkload;
    try {
      // Ready means answering: a pod whose port is not bound yet would refuse the first connection.
      [workload] = await Promise.all([start(), ...children.map((c, i) => untilListening(c, relays[i]!))]);
    } catch (e) {
      this.relays = this.relays.filter((r) => !children.includes(r));
      await Promise.all(children.map((c) => c.kill()));
      throw e;
    }
    this.workloads.push(workload);
    this.podWorkloads.set(`${pod.namespace}/${pod.name}`, { workload, relays: children });
  }

  /** The kubelet's hooks into this supervisor: start and stop pods' processes, persist the plan. */
  private kubeletRuntime(plan: ClusterPlan, ipam: CalicoIpam, client: KubeClient, informers: SharedInformers): KubeletRuntime {
    const handle = (key: string): PodHandle => ({
      stop: async () => {
        const agent = this.agents.find((a) => a.target === `pod/${key}`);
        const w = this.podWorkloads.get(key);
        this.podWorkloads.delete(key);
        this.agents = this.agents.filter((a) => a !== agent);
        this.relays = this.relays.filter((r) => !w?.relays.includes(r));
        this.workloads = this.workloads.filter((x) => x !== w?.workload);
        await Promise.all([agent?.job.kill(), ...(w?.relays ?? []).map((r) => r.kill()), w?.workload.close().catch(() => {})]);
      },
    });
    return {
      plan,
      ipam,
      client,
      informers,
      log,
      run: this.launcher.run,
      serial: (fn) => this.serial(fn),
      startPod: async (pod, opts) => {
        const key = `${pod.namespace}/${pod.name}`;
        this.agents.push(await this.startAgent(plan, `pod/${key}`, pod.netns, opts.hostNetwork ? pod.node : undefined));
        if (opts.serve) await this.startWorkload(plan, pod, opts.serve);
        return handle(key);
      },
      adopt: (pod) => handle(`${pod.namespace}/${pod.name}`),
      manifestsDir: (node) => path.join(this.paths.kubernetes(node), "manifests"),
      changed: () => {
        writeFileAtomic(this.paths.plan, JSON.stringify(plan, null, 2));
        this.writeReady();
        this.felix?.dirty();
      },
    };
  }

  private writeReady(): void {
    writeFileAtomic(
      this.paths.ready,
      JSON.stringify({ generation: this.generation, readyAt: this.readyAt, agents: Object.fromEntries(this.agents.map((a) => [a.target, a.pid])) }),
    );
  }

  /** Every node gets the admin kubeconfig at ~/.kube/config, as kubespray's `kubeconfig_localhost` leaves it. */
  private installKubeconfigs(plan: ClusterPlan): void {
    const cp = plan.nodes.find((n) => n.role === "control-plane");
    if (!cp) return;
    const conf = readFileSync(this.paths.adminConf(cp.name), "utf8");
    for (const n of plan.nodes) {
      const dir = path.join(this.paths.homes, `node_${n.name}`, ".kube");
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, "config"), conf, { mode: 0o600 });
    }
  }

  private async startAgents(plan: ClusterPlan): Promise<void> {
    const targets = [
      ...plan.nodes.map((n) => ({ target: `node/${n.name}`, netns: n.netns })),
      ...plan.pods.map((p) => ({ target: `pod/${p.namespace}/${p.name}`, netns: p.netns })),
    ];
    // Each agent is recorded as soon as it runs, so a build that fails meanwhile still tears it down.
    this.agents = [];
    await Promise.all(targets.map(async (t) => void this.agents.push(await this.startAgent(plan, t.target, t.netns))));
    const order = new Map(targets.map((t, i) => [t.target, i]));
    this.agents.sort((a, b) => (order.get(a.target) ?? 0) - (order.get(b.target) ?? 0));
  }

  private agentSeq = 0;

  private async startAgent(plan: ClusterPlan, target: string, netns: string, hostname?: string): Promise<Agent> {
    const args = bwrapArgs(this.targetRoot(plan, target, hostname), 3);
    // bubblewrap writes {"child-pid": N} to its --info-fd once the agent's namespaces exist.
    const info = path.join(this.launcher.dir, `agent-${++this.agentSeq}.json`);
    const job = this.launcher.start(["nsenter", `--net=/run/netns/${netns}`, "--", "bwrap", ...args, "--", ...AGENT_INIT], { writeFds: { 3: info }, longLived: true });
    try {
      const pid = await untilChildPid(job, info, target);
      // bwrap reports the pid before it has assembled the root; the agent is usable once its init runs.
      await untilInit(pid);
      return { target, job, pid };
    } catch (e) {
      await job.kill();
      throw e;
    } finally {
      rmSync(info, { force: true });
    }
  }

  async applyFault(spec: FaultSpec): Promise<void> {
    if (!this.plan) throw new FaultlineError("the sandbox is not built");
    const problems = checkFaults([spec], topologyOf(this.plan));
    if (problems.length) throw new FaultlineError(problems.map((p) => p.message).join("; "), problems[0]?.hint);
    if (findFaultKind(spec.kind).stage === "inventory") await injectInventoryFaults([spec], this.spec.inventoryDir);
    else await executeOps(dataplaneOps([spec], this.plan), this.launcher.run);
    this.faults.push(spec);
    writeFileAtomic(this.paths.faults, JSON.stringify(this.faults, null, 2));
  }

  async revertFault(index: number): Promise<FaultSpec> {
    const spec = this.faults[index];
    if (!spec) throw new FaultlineError(`no fault #${index}; there are ${this.faults.length}`, "list them with `faultline sandbox faults <name>`");
    if (findFaultKind(spec.kind).stage === "inventory") await revertInventoryFault(spec, this.spec.inventoryDir);
    else if (this.plan) await executeOps(revertOps(spec, this.plan), this.launcher.run);
    this.faults.splice(index, 1);
    writeFileAtomic(this.paths.faults, JSON.stringify(this.faults, null, 2));
    return spec;
  }
}

/** SIGKILLs a child and resolves once it has exited (at most 5 s). */
function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 5000);
    child.once("exit", () => (clearTimeout(timer), resolve()));
    child.kill("SIGKILL");
  });
}

/**
 * Waits until a socat relay has bound its port, read from the kernel's socket table of the relay's own
 * network namespace (/proc/<pid>/net/tcp or udp; nsenter execs socat, so the pid is socat's).
 */
async function untilListening(child: Job, argv: string[]): Promise<void> {
  const m = /^(TCP|UDP)4?-(?:LISTEN|RECVFROM):(\d+)/.exec(argv.find((a) => /^(TCP|UDP)4?-(LISTEN|RECVFROM):/.test(a)) ?? "");
  if (!m) return;
  const pid = await child.pid;
  const table = m[1] === "TCP" ? "tcp" : "udp";
  const port = `:${Number(m[2]).toString(16).toUpperCase().padStart(4, "0")}`;
  await pollUntil(10_000, () => {
    if (!child.running()) throw new FaultlineError(`a workload relay (${argv.join(" ")}) exited`, "see supervisor.log in the sandbox folder");
    try {
      // local_address is the second column; a bound socket lists its port there.
      if (readFileSync(`/proc/${pid}/net/${table}`, "utf8").split("\n").some((l) => l.trim().split(/\s+/)[1]?.endsWith(port))) return true;
    } catch {
      // not exec'd yet, or gone: the next round decides
    }
    return undefined;
  }, () => new FaultlineError(`a workload relay did not bind ${m[1]} port ${m[2]} within 10 s`, "the host is overloaded; start fewer sandboxes at once"));
}

/** The pid bubblewrap reports in `info` for its child, polled (the launcher's jobs have no pipes to us). */
function untilChildPid(job: Job, info: string, target: string): Promise<number> {
  return pollUntil(60_000, () => {
    let text = "";
    try {
      text = readFileSync(info, "utf8");
    } catch {
      // not opened yet
    }
    const m = /"child-pid"\s*:\s*(\d+)/.exec(text);
    if (m) return Number(m[1]);
    if (!job.running()) throw new FaultlineError(`the shell agent for ${target} exited before it was ready`, "see supervisor.log in the sandbox folder");
    return undefined;
  }, () => new FaultlineError(`the shell agent for ${target} did not start within 60 s`, "the host is overloaded; start fewer sandboxes at once"));
}

/** Waits until `pid` runs the agent init (it has exec'd, so bubblewrap finished its mounts). */
async function untilInit(pid: number): Promise<void> {
  await pollUntil(60_000, () => {
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    } catch {
      throw new FaultlineError(`agent ${pid} exited during start-up`, "see supervisor.log in the sandbox folder");
    }
    return cmdline.startsWith(AGENT_INIT[0]!) ? true : undefined;
  }, () => new FaultlineError(`agent ${pid} did not start within 60 s`, "the host is overloaded; start fewer sandboxes at once"));
}

/**
 * Calls `probe` until it returns a value, backing off from 1 to 50 ms between calls so that a thousand
 * waiting agents add no load of their own; `probe` throws to give up. The limit is a clock deadline,
 * generous because dozens of sandboxes may start at once on two cores; past it, `timedOut()` is thrown.
 */
async function pollUntil<T>(limitMs: number, probe: () => T | undefined, timedOut: () => Error): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (let delay = 1; Date.now() < deadline; delay = Math.min(delay * 2, 50)) {
    const value = probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, delay));
  }
  throw timedOut();
}

/** The CNI config kubespray's Calico role writes, so `cat /etc/cni/net.d/*` on a node looks familiar. */
function calicoConflist(plan: ClusterPlan, node: string): unknown {
  return {
    name: "k8s-pod-network",
    cniVersion: "0.3.1",
    plugins: [
      { type: "calico", datastore_type: "kubernetes", nodename: node, mtu: 1480, ipam: { type: "calico-ipam", assign_ipv4: "true", ipv4_pools: [plan.podsSubnet] }, policy: { type: "k8s" }, kubernetes: { kubeconfig: "/etc/cni/net.d/calico-kubeconfig" } },
      { type: "portmap", capabilities: { portMappings: true } },
    ],
  };
}

/** A node's ~/.profile (root's, read by login shells after /etc/profile), as Debian's but with the sandbox's tools. */
const ROOT_PROFILE = `# ~/.profile: executed by login shells.
PATH="$PATH:/opt/faultline/bin"
if [ -n "$BASH" ] && [ -f ~/.bashrc ]; then
  . ~/.bashrc
fi
`;

/** In-sandbox command: the analogue of re-running Terraform + kubespray after editing the inventory. */
const REPROVISION_SCRIPT = `#!/bin/sh
# Re-provisions this sandbox cluster from the (edited) inventory in ~/workspace, like re-running
# Terraform + kubespray. Every node and pod is rebuilt: this shell will be disconnected.
# Said here, before asking: the rebuild ends this shell at once, and a line the supervisor sent back
# could be lost on the way to the terminal.
echo "faultline: re-provisioning from ~/workspace (this shell will be disconnected; open a new one when it is done)"
echo '{"op":"rebuild"}' | exec socat -t 60 - UNIX-CONNECT:/run/faultline/control.sock
`;

/** The control sockets' requests: untrusted input (one socket is the trainee's), parsed by schema. */
const requestSchema = z.discriminatedUnion("op", [
  z.object({ op: z.literal("rebuild") }),
  z.object({ op: z.literal("status") }),
  z.object({ op: z.literal("faults") }),
  z.object({ op: z.literal("fault-apply"), fault: faultSpecSchema }),
  z.object({ op: z.literal("fault-revert"), index: z.number().int().min(0) }),
]);
type Request = z.infer<typeof requestSchema>;

/** JSON-lines control socket. The trainee socket only accepts `rebuild` and `status`. */
function serve(sup: Supervisor, sockPath: string, trainee: boolean): Server {
  if (existsSync(sockPath)) rmSync(sockPath);
  const server = createServer((sock: Socket) => {
    let buf = "";
    let handled = false;
    sock.on("error", () => {});
    sock.on("data", (d: Buffer) => {
      if (handled) return;
      buf += d.toString();
      if (buf.length > 65536) return void sock.end(JSON.stringify({ ok: false, error: "request too large" }) + "\n");
      const nl = buf.indexOf("\n");
      if (nl < 0) return;
      handled = true;
      const line = buf.slice(0, nl);
      void handle(sup, line, trainee, (msg) => sock.write(msg + "\n")).then((res) => sock.end(JSON.stringify(res) + "\n"));
    });
  });
  server.listen(sockPath);
  return server;
}

async function handle(sup: Supervisor, line: string, trainee: boolean, say: (s: string) => void): Promise<unknown> {
  let req: Request;
  try {
    const parsed = requestSchema.safeParse(JSON.parse(line));
    if (!parsed.success) throw new Error(parsed.error.issues.map((i) => `${i.path.join(".") || "(request)"}: ${i.message}`).join("; "));
    req = parsed.data;
  } catch (e) {
    return { ok: false, error: `malformed request: ${(e as Error).message}` };
  }
  if (trainee && req.op !== "rebuild" && req.op !== "status") return { ok: false, error: `operation ${req.op} is not allowed from inside the sandbox` };
  try {
    switch (req.op) {
      case "status":
        return { ok: true, generation: sup.generation, faults: sup.faults };
      case "faults":
        return { ok: true, faults: sup.faults.map((f, i) => ({ index: i, fault: f, description: findFaultKind(f.kind).describe(f as never) })) };
      case "rebuild":
        return await sup.serial(async () => {
          // faultline-reprovision has told the trainee already (REPROVISION_SCRIPT).
          if (!trainee) say("rebuilding");
          const started = Date.now();
          await sup.build((p, d) => say(`faultline: ${p}${d ? ": " + d : ""}`));
          return { ok: true, generation: sup.generation, ms: Date.now() - started };
        });
      case "fault-apply":
        return await sup.serial(async () => (await sup.applyFault(req.fault), { ok: true, faults: sup.faults }));
      case "fault-revert":
        return await sup.serial(async () => ({ ok: true, reverted: await sup.revertFault(req.index), faults: sup.faults }));
    }
  } catch (e) {
    log.warn("supervisor.request_failed", { op: req.op, error: formatError(e) });
    return { ok: false, error: e instanceof FaultlineError ? e.message : String(e), ...(e instanceof FaultlineError && e.hint ? { hint: e.hint } : {}) };
  }
}

/**
 * The host's way in to the API server: a unix socket in the box, relayed to <cp>:6443 across the node
 * network's bridge (this namespace holds the bridge's gateway address, so it reaches every node). The
 * host never gets a route into the sandbox; it talks to a file only root and the sandbox can open.
 */
function relayApiServer(sup: Supervisor, sockPath: string): Server {
  if (existsSync(sockPath)) rmSync(sockPath);
  const server = createServer((client: Socket) => {
    const cp = sup.plan?.nodes.find((n) => n.role === "control-plane");
    if (!cp) return void client.destroy();
    const upstream = connect(6443, cp.address);
    // Small last segments must not wait for the peer's delayed ACK (40 ms per response otherwise).
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.pipe(upstream).pipe(client);
    const close = () => (client.destroy(), upstream.destroy());
    client.on("error", close);
    upstream.on("error", close);
  });
  server.listen(sockPath);
  return server;
}

/**
 * Gives every network namespace made from now on (nodes, pods) its own small TCP socket hash table.
 * By default all namespaces share the host's, sized by its memory (hundreds of thousands of buckets),
 * and /proc/net/tcp (read to see a relay listen, and by `ss` and `netstat` in a trainee's shell) walks
 * all of it: 5.5 ms per read on the 24 GiB build machine, 0.1 ms with 1024 buckets of its own. A
 * sandbox's namespaces hold a few dozen sockets. The sysctl belongs to the sandbox's own network
 * namespace (Linux 6.1+); where it is missing, the shared table only costs time.
 */
function privateTcpHashes(): void {
  try {
    writeFileSync("/proc/sys/net/ipv4/tcp_child_ehash_entries", "1024");
  } catch (e) {
    log.debug("supervisor.tcp_child_ehash_unavailable", { error: formatError(e) });
  }
}

async function main(args: string[]): Promise<void> {
  const stream = createWriteStream("", { fd: 3 });
  stream.on("error", () => (progress = null));
  progress = stream;
  const specFile = args[0];
  if (!specFile) throw new FaultlineError("usage: supervisor <spec.json>");
  const spec = supervisorSpecSchema.parse(JSON.parse(readFileSync(specFile, "utf8")));
  // /run/netns holds the named network namespaces; a tmpfs keeps them private to this mount namespace.
  await spawnRunner(["mount", "-t", "tmpfs", "-o", "mode=0755", "none", "/run"]);
  mkdirSync("/run/netns", { recursive: true });
  privateTcpHashes();
  const sup = new Supervisor(spec);
  phase("namespaces", "user, mount, pid and network namespaces up");
  // The sockets exist before the first build: node agents bind the trainee socket into their root.
  serve(sup, sup.paths.controlSock, false);
  serve(sup, sup.paths.traineeSock, true);
  relayApiServer(sup, sup.paths.apiserverSock);
  await sup.serial(() => sup.build(phase));
  emit({ type: "ready", generation: sup.generation, ms: sinceStart() });
  progress?.end();
  progress = null;
  for (const sig of ["SIGTERM", "SIGINT"] as const) process.on(sig, () => process.exit(0));
}

/** Throws when a fault of the lab names a node or pod its cluster does not have. */
function checkLabFaults(faults: readonly FaultSpec[], cluster: SupervisorSpec["cluster"]): void {
  const topo = { nodes: expandNodes(cluster).map((n) => n.name), pods: cluster.pods.map((p) => `${p.namespace}/${p.name}`) };
  const problems = checkFaults(faults, topo);
  if (problems.length) throw new FaultlineError(`faults: ${problems.map((p) => p.message).join("; ")}`, "fix the lab's faults list");
}

/**
 * A build's planning on the snapshot's sample sandbox (program-main.ts), up to the network: the
 * inventory's evaluation, the plan and the dataplane's programs. Its plan.json and vars.json, in the
 * sample's folder, are the API server's warm-up input.
 */
async function warmUp(sample: WarmupSample): Promise<void> {
  checkLabFaults(sample.faults, sample.cluster);
  const ev = await evaluateInventory(sample.inventoryDir, sample.kubespray, { displayRoot: sample.dir });
  writeFileAtomic(path.join(sample.dir, "vars.json"), JSON.stringify(ev, null, 2));
  const plan = buildPlan(sample.name, sample.cluster, ev);
  writeFileAtomic(path.join(sample.dir, "plan.json"), JSON.stringify(plan, null, 2));
  // The kernel programs are made (ip batches, iptables-restore input) but run nowhere.
  const nowhere = async () => "";
  await executePhases(renderProvisioning(plan).phases, nowhere);
  await executeOps(dataplaneOps(sample.faults, plan), nowhere);
}

runSandboxProgram((args) => void main(args).catch((e: unknown) => {
  emit({ type: "error", message: e instanceof FaultlineError ? e.message : formatError(e), ...(e instanceof FaultlineError && e.hint ? { hint: e.hint } : {}) });
  log.error("supervisor.failed", { error: formatError(e) });
  process.exitCode = 1;
  // Exiting ends the pid namespace: the kernel removes whatever was half built.
  setTimeout(() => process.exit(1), 50);
}), warmUp);
