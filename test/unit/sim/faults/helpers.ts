/**
 * Shared by the fault tests: a small cluster plan (three workers owning one /24 each, the control
 * plane's tunnel address borrowed from worker-3's block as in the flagship lab), fixture lookup, and
 * a throwaway user+network namespace to prove the kernel accepts the ops the faults render.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { NetOp } from "../../../../server/sim/dataplane/ops.js";
import type { ClusterPlan, PlanNode, RouteSpec } from "../../../../server/sim/plan.js";
import type { Topology } from "../../../../server/sim/faults/fault.js";

const W = [
  { name: "worker-1", address: "192.168.10.11", tunnel: "10.233.64.0", block: "10.233.64.0/24" },
  { name: "worker-2", address: "192.168.10.12", tunnel: "10.233.65.0", block: "10.233.65.0/24" },
  { name: "worker-3", address: "192.168.10.13", tunnel: "10.233.66.0", block: "10.233.66.0/24" },
];

/** Calico-style routes for `self`: a blackhole for its own block, the others via their owners. */
function calicoRoutes(self: string, src: string): RouteSpec[] {
  return W.map((w): RouteSpec =>
    w.name === self ? { dst: w.block, type: "blackhole", proto: "bird" } : { dst: w.block, via: w.address, src, proto: "bird" },
  );
}

function node(name: string, role: PlanNode["role"], address: string, tunnel: string, blocks: string[], routes: RouteSpec[]): PlanNode {
  return { name, role, address, tunnelAddress: tunnel, tunnelBorrowed: name === "cp-1", blocks, netns: `n_${name}`, mtu: 1500, routes };
}

/** A fresh plan each call, so a test can change it freely. */
export function testPlan(): ClusterPlan {
  return {
    sandbox: "t",
    kubesprayVersion: "v2.19",
    calicoVersion: "v3.29",
    routesBorrowedTunnels: false,
    calicoBackend: "bird",
    nodeNetwork: { cidr: "192.168.10.0/24", gateway: "192.168.10.1", bridge: "br-t" },
    podsSubnet: "10.233.64.0/22",
    serviceCidr: "10.233.0.0/18",
    blockSize: 24,
    nodes: [
      node("cp-1", "control-plane", "192.168.10.10", "10.233.66.200", [], calicoRoutes("cp-1", "10.233.66.200")),
      ...W.map((w) => node(w.name, "worker", w.address, w.tunnel, [w.block], calicoRoutes(w.name, w.tunnel))),
    ],
    pods: [
      { namespace: "default", name: "web", node: "worker-1", address: "10.233.64.5", borrowed: false, netns: "pod_default_web", hostIface: "cali0123456789a", labels: { app: "web" } },
      {
        namespace: "metallb-system", name: "controller", node: "worker-3", address: "10.233.66.5", borrowed: false,
        netns: "pod_metallb-system_controller", hostIface: "calib1c2d3e4f50", labels: { component: "controller" },
      },
    ],
    services: [],
    blocks: W.map((w) => ({ cidr: w.block, affinity: w.name, allocations: [] })),
  };
}

export const testTopology: Topology = {
  nodes: ["cp-1", "worker-1", "worker-2", "worker-3"],
  pods: ["default/web", "metallb-system/controller"],
};

/**
 * A fixture folder under test/fixtures/faults. Tests may run compiled from dist/ or from a build
 * folder outside the repository, so look upwards from this file first, then from the working dir.
 */
export function fixture(name: string): string {
  for (const start of [path.dirname(fileURLToPath(import.meta.url)), process.cwd()]) {
    for (let dir = start; ; dir = path.dirname(dir)) {
      const candidate = path.join(dir, "test", "fixtures", "faults", name);
      if (existsSync(candidate)) return candidate;
      if (path.dirname(dir) === dir) break;
    }
  }
  throw new Error(`fixture ${name} not found above ${fileURLToPath(import.meta.url)} or ${process.cwd()}`);
}

/** A temporary copy of fixture `name`, removed by the returned `cleanup`. */
export async function fixtureCopy(name: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), "faultline-faults-"));
  const dir = path.join(tmp, name);
  await cp(fixture(name), dir, { recursive: true });
  return { dir, cleanup: () => rm(tmp, { recursive: true, force: true }) };
}

const NS = ["unshare", "--user", "--map-root-user", "--net", "--mount"];

/** Why kernel tests cannot run here (no unprivileged user namespaces, no ip/iptables), or null. */
export function kernelUnavailable(): string | null {
  const probe = spawnSync(NS[0]!, [...NS.slice(1), "sh", "-c", "ip link show lo >/dev/null && iptables -S >/dev/null"], { encoding: "utf8" });
  if (probe.error) return `cannot run unshare: ${probe.error.message}`;
  return probe.status === 0 ? null : `unprivileged namespaces unavailable: ${probe.stderr.trim()}`;
}

/** The shell that runs `ops` like dataplane/execute.ts: per namespace ip -batch, sysctl, iptables-restore. */
export async function opsScript(ops: NetOp[], dir: string, tag: string): Promise<string> {
  const byNs = new Map<string, NetOp[]>();
  for (const op of ops) byNs.set(op.netns, [...(byNs.get(op.netns) ?? []), op]);
  const lines: string[] = [];
  let n = 0;
  for (const [ns, list] of byNs) {
    const exec = ns ? `ip netns exec ${ns} ` : "";
    const ip = list.flatMap((o) => (o.kind === "ip" ? [o.line] : []));
    if (ip.length) {
      const file = path.join(dir, `${tag}-${n++}.batch`);
      await writeFile(file, ip.join("\n") + "\n");
      lines.push(`ip ${ns ? `-n ${ns} ` : ""}-batch ${file}`);
    }
    for (const o of list) if (o.kind === "sysctl") lines.push(`${exec}sysctl -q -w ${o.key}=${o.value}`);
    const tables = new Map<string, string[]>();
    for (const o of list) if (o.kind === "iptables") tables.set(o.table, [...(tables.get(o.table) ?? []), o.rule]);
    if (tables.size) {
      const file = path.join(dir, `${tag}-${n++}.rules`);
      await writeFile(file, [...tables].map(([t, r]) => `*${t}\n${r.join("\n")}\nCOMMIT\n`).join(""));
      lines.push(`${exec}iptables-restore --noflush < ${file}`);
    }
  }
  return lines.join("\n");
}

/**
 * Runs `script` (sh, `set -e`) in a new user, network and mount namespace with a private /run, so
 * `ip netns add` works and nothing touches the host's network. Returns stdout; throws with stderr.
 */
export async function inThrowawayNamespace(build: (dir: string) => Promise<string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "faultline-netns-"));
  try {
    const body = await build(dir);
    const script = `set -e\nmount -t tmpfs none /run\nmkdir /run/netns\n${body}\n`;
    const res = spawnSync(NS[0]!, [...NS.slice(1), "sh", "-s"], { input: script, encoding: "utf8", timeout: 60_000 });
    if (res.status !== 0) throw new Error(`namespace script failed (${res.status ?? res.signal}): ${res.stderr}\n--- script ---\n${script}`);
    return res.stdout;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Splits output printed as `=== name` headers followed by text into name -> text. */
export function sections(out: string): Map<string, string> {
  const m = new Map<string, string>();
  let cur = "";
  for (const line of out.replace(/\n$/, "").split("\n")) {
    const h = /^=== (.+)$/.exec(line);
    if (h) m.set((cur = h[1]!), "");
    else if (cur) m.set(cur, m.get(cur)! + line + "\n");
  }
  return m;
}
