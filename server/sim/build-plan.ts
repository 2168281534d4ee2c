import { FaultlineError } from "../errors.js";
import { nodeNames, type ClusterSpec } from "../labs/lab.js";
import { podNetnsName, caliIfaceName } from "./dataplane/render.js";
import { CalicoIpam } from "./ipam/ipam.js";
import { calicoRoutes, type NodeAddr } from "./ipam/routes.js";
import type { InventoryEvaluation } from "./kubespray/evaluate.js";
import { containsIp, formatIp, nth, parseCidr, parseIp, size } from "./net/cidr.js";
import type { ClusterPlan, PlanBlock, PlanNode, PlanPod, PlanService, RouteSpec } from "./plan.js";

/** Expands `{name: worker, count: 6}` into worker-1 .. worker-6, keeping declaration order. */
export function expandNodes(cluster: ClusterSpec): Array<{ name: string; role: "control-plane" | "worker" }> {
  const out: Array<{ name: string; role: "control-plane" | "worker" }> = [];
  for (const n of cluster.nodes) for (const name of nodeNames(n)) out.push({ name, role: n.role });
  const seen = new Set<string>();
  for (const n of out) {
    if (seen.has(n.name)) throw new FaultlineError(`cluster.nodes: node "${n.name}" is declared twice`, "give every node (after `count` expansion) a unique name");
    seen.add(n.name);
  }
  return out;
}

/** Calico >= v3.30 programs /32 routes for borrowed tunnel addresses (calico commit dcdaf147e5). */
export function calicoRoutesBorrowedTunnels(calicoVersion: string): boolean {
  const m = /^v?(\d+)\.(\d+)/.exec(calicoVersion);
  if (!m) return false;
  const [maj, min] = [Number(m[1]), Number(m[2])];
  return maj > 3 || (maj === 3 && min >= 30);
}

/**
 * Computes the whole cluster: node addresses on the node network, Calico blocks and addresses in the
 * order calico-node claims them, the routes Calico would program, pods and Services.
 */
export function buildPlan(sandbox: string, cluster: ClusterSpec, ev: InventoryEvaluation): ClusterPlan {
  const nodes = expandNodes(cluster);
  const names = new Set(nodes.map((n) => n.name));
  const nodeNet = parseCidr(cluster.nodeNetwork);
  if (nodes.length + 10 > 2 ** (32 - nodeNet.prefix) - 1) {
    throw new FaultlineError(`cluster.nodeNetwork ${cluster.nodeNetwork} is too small for ${nodes.length} nodes`, "nodes get .10 upwards; use a /24");
  }
  const gateway = formatIp(nth(nodeNet, 1));
  const address = new Map(nodes.map((n, i) => [n.name, formatIp(nth(nodeNet, 10 + i))]));

  const order = cluster.blockClaimOrder ?? [];
  order.forEach((n, i) => {
    if (!names.has(n)) throw new FaultlineError(`cluster.blockClaimOrder: node "${n}" does not exist`, `nodes are ${[...names].join(", ")}`);
    if (order.indexOf(n) !== i) throw new FaultlineError(`cluster.blockClaimOrder: node "${n}" is listed twice`, "list each node once; nodes left out claim after the listed ones, in node order");
  });
  const podIds = new Set<string>();
  for (const p of cluster.pods) {
    const id = `${p.namespace}/${p.name}`;
    if (podIds.has(id)) throw new FaultlineError(`cluster.pods: pod ${id} is declared twice`, "give every pod of a namespace a unique name");
    podIds.add(id);
  }
  const claimOrder = [...order, ...nodes.map((n) => n.name).filter((n) => !order.includes(n))];

  // Calico's pool is calico_pool_cidr, which kubespray defaults to the pod subnet.
  const ipam = new CalicoIpam({ pool: ev.poolCidr, blockSize: ev.blockSize });
  const tunnel = new Map<string, { address: string; borrowed: boolean }>();
  // calico-node allocates its tunnel address at start-up, so the start order decides who claims which block.
  for (const n of claimOrder) {
    // Calico names the handle after the tunnel device: vxlan.calico in VXLAN mode, tunl0 with IPIP.
    const a = ipam.autoAssign(n, `${ev.calicoBackend === "bird" ? "ipip" : "vxlan"}-tunnel-addr-${n}`);
    tunnel.set(n, { address: a.address, borrowed: a.borrowed });
  }

  const pods: PlanPod[] = cluster.pods.map((p) => {
    if (!names.has(p.node)) {
      throw new FaultlineError(`cluster.pods: pod ${p.namespace}/${p.name} is on node "${p.node}", which does not exist`, `nodes are ${[...names].join(", ")}`);
    }
    const a = ipam.autoAssign(p.node, `k8s-pod-network.${p.namespace}.${p.name}`);
    return {
      namespace: p.namespace,
      name: p.name,
      node: p.node,
      address: a.address,
      borrowed: a.borrowed,
      netns: podNetnsName(p.namespace, p.name),
      hostIface: caliIfaceName(p.namespace, p.name),
      labels: p.labels,
    };
  });

  const routesBorrowed = calicoRoutesBorrowedTunnels(ev.calicoVersion);
  const backend = ev.calicoBackend === "bird" ? "bird" : "vxlan";
  const nodeAddrs = nodes.map((n) => ({ name: n.name, address: address.get(n.name)!, tunnelAddress: tunnel.get(n.name)?.address ?? null }));
  const routes = nodeRoutes(ipam, nodeAddrs, { routesBorrowedTunnels: routesBorrowed, calicoBackend: backend, serviceCidr: ev.serviceAddresses });
  const planNodes: PlanNode[] = nodes.map((n) => {
    const t = tunnel.get(n.name) ?? null;
    return {
      name: n.name,
      role: n.role,
      address: address.get(n.name)!,
      tunnelAddress: t?.address ?? null,
      tunnelBorrowed: t?.borrowed ?? false,
      blocks: ipam.affinities(n.name),
      netns: n.name,
      mtu: 1500,
      routes: routes.get(n.name) ?? [],
    };
  });

  const services = planServices(cluster, ev, pods, address);
  return {
    sandbox,
    kubesprayVersion: ev.kubesprayVersion,
    calicoVersion: ev.calicoVersion,
    routesBorrowedTunnels: routesBorrowed,
    calicoBackend: backend,
    nodeNetwork: { cidr: cluster.nodeNetwork, gateway, bridge: "br-nodes" },
    podsSubnet: ev.podsSubnet,
    serviceCidr: ev.serviceAddresses,
    blockSize: ev.blockSize,
    nodes: planNodes,
    pods,
    services,
    blocks: planBlocks(ipam),
    ipam: ipam.toJSON(),
  };
}

/** The plan's view of the IPAM blocks (what the API server shows as IPAMBlocks). */
export function planBlocks(ipam: CalicoIpam): PlanBlock[] {
  return ipam.blocks().map((b) => ({ cidr: b.cidr, affinity: b.affinity, allocations: b.allocations }));
}

/**
 * The routes each node holds, from the IPAM state: what Calico programs for the pool's blocks, plus the
 * service range. Recomputed whenever a pod's address is assigned or released at runtime, because a
 * borrowed address changes routes on every other node.
 */
export function nodeRoutes(
  ipam: CalicoIpam,
  nodes: NodeAddr[],
  opts: { routesBorrowedTunnels: boolean; calicoBackend: "bird" | "vxlan"; serviceCidr: string },
): Map<string, RouteSpec[]> {
  const calico = calicoRoutes(ipam, nodes, { routeBorrowedTunnels: opts.routesBorrowedTunnels });
  // In VXLAN mode (kubespray's default since v2.19) Felix programs these routes with its protocol
  // number 80; with the BIRD backend they are BIRD's. `ip route` shows which.
  const proto = opts.calicoBackend === "bird" ? "bird" : "80";
  return new Map(
    nodes.map((n) => {
      const routes: RouteSpec[] = (calico.get(n.name) ?? []).map((r) => ({
        dst: r.dst,
        ...(r.type ? { type: r.type } : {}),
        ...(r.via ? { via: r.via, dev: "eth0" } : {}),
        ...(r.src ? { src: r.src } : {}),
        proto,
      }));
      // ClusterIPs are reached through the node's tunnel address, as host processes on a Calico node do;
      // iptables DNAT then rewrites the destination to the endpoint (see docs/sandboxes.md, deviations).
      routes.push({ dst: opts.serviceCidr, dev: "eth0", scope: "link", ...(n.tunnelAddress ? { src: n.tunnelAddress } : {}) });
      return [n.name, routes];
    }),
  );
}

function planServices(cluster: ClusterSpec, ev: InventoryEvaluation, pods: PlanPod[], nodeAddr: Map<string, string>): PlanService[] {
  const svcNet = parseCidr(ev.serviceAddresses);
  const used = new Map<string, string>();
  for (const s of cluster.services) {
    if (!s.clusterIP) continue;
    const id = `${s.namespace}/${s.name}`;
    let ip: number;
    try {
      ip = parseIp(s.clusterIP);
    } catch (e) {
      throw new FaultlineError(`cluster.services: ${id} clusterIP: ${(e as Error).message}`, "write an address inside kube_service_addresses, or leave clusterIP out to get one assigned");
    }
    if (!containsIp(svcNet, ip)) {
      throw new FaultlineError(
        `cluster.services: ${id} clusterIP ${s.clusterIP} is outside kube_service_addresses ${ev.serviceAddresses}`,
        "pick an address inside the service range, or leave clusterIP out to get one assigned",
      );
    }
    const other = used.get(s.clusterIP);
    if (other) {
      throw new FaultlineError(`cluster.services: ${id} clusterIP ${s.clusterIP} is already allocated to ${other}`, "give each Service its own clusterIP, or leave it out to get one assigned");
    }
    used.set(s.clusterIP, id);
  }
  // Like the apiserver's allocator, but deterministic: .1 is `kubernetes`, kubespray puts DNS on .3,
  // the rest from .10 up to the last address before the broadcast address.
  let next = 10;
  const last = size(svcNet) - 2;
  const allocate = (id: string) => {
    for (; next <= last; next++) {
      const ip = formatIp(nth(svcNet, next));
      if (!used.has(ip)) {
        used.set(ip, id);
        next++;
        return ip;
      }
    }
    throw new FaultlineError(
      `cluster.services: no ClusterIP left for ${id} in kube_service_addresses ${ev.serviceAddresses}`,
      "Services get addresses from .10 up: use a larger kube_service_addresses, or give the Service a clusterIP",
    );
  };
  return cluster.services.map((s) => {
    const id = `${s.namespace}/${s.name}`;
    const selected = Object.keys(s.selector).length
      ? pods.filter((p) => p.namespace === s.namespace && Object.entries(s.selector).every(([k, v]) => p.labels[k] === v))
      : [];
    const nodeEps = s.nodeEndpoints.map((n) => {
      const a = nodeAddr.get(n);
      if (!a) throw new FaultlineError(`cluster.services: ${id} nodeEndpoints names node "${n}", which does not exist`, `nodes are ${[...nodeAddr.keys()].join(", ")}`);
      return a;
    });
    return {
      namespace: s.namespace,
      name: s.name,
      clusterIP: s.clusterIP ?? allocate(id),
      ports: s.ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.targetPort ?? p.port, protocol: p.protocol })),
      selector: s.selector,
      endpoints: [...selected.map((p) => p.address), ...nodeEps],
    };
  });
}
