import { createHash } from "node:crypto";
import type { ClusterPlan, PlanNode, PlanPod, PlanService, RouteSpec } from "../plan.js";
import type { NetOp } from "./ops.js";

/**
 * Turns a plan into the kernel operations that build it, in phases: every op of a phase can run as
 * soon as the previous phase is done, so the executor batches a phase per namespace (`ip -batch`,
 * `iptables-restore`) instead of running one process per line.
 */
export interface Provisioning {
  /** Network namespaces to create, in order (nodes first, then pods). */
  netns: string[];
  phases: NetOp[][];
}

/** The interface name Calico gives a pod's host-side veth: `cali` + 11 hex chars of sha1("<ns>.<pod>"). */
export function caliIfaceName(namespace: string, pod: string): string {
  return "cali" + createHash("sha1").update(`${namespace}.${pod}`).digest("hex").slice(0, 11);
}

/** A pod's network namespace name inside the sandbox (never shown to trainees; stable and readable). */
export function podNetnsName(namespace: string, pod: string): string {
  return `pod_${namespace}_${pod}`;
}

export function renderRoute(r: RouteSpec): string {
  const parts: string[] = [];
  if (r.type) parts.push(r.type);
  parts.push(r.dst);
  if (r.via) parts.push("via", r.via);
  if (r.dev) parts.push("dev", r.dev);
  if (r.proto) parts.push("proto", r.proto);
  if (r.scope) parts.push("scope", r.scope);
  if (r.src) parts.push("src", r.src);
  return parts.join(" ");
}

const ip = (netns: string, line: string): NetOp => ({ kind: "ip", netns, line });
const sysctl = (netns: string, key: string, value: string): NetOp => ({ kind: "sysctl", netns, key, value });

export function renderProvisioning(plan: ClusterPlan): Provisioning {
  const { nodeNetwork } = plan;
  const prefix = nodeNetwork.cidr.split("/")[1]!;
  const nodeByName = new Map(plan.nodes.map((n) => [n.name, n]));

  // Phase 1: the node network. The bridge lives in the sandbox's root namespace; each node's eth0 is
  // created directly inside the node's namespace (create-in-place is ~30x faster than create-then-move).
  const wiring: NetOp[] = [
    ip("", `link add ${nodeNetwork.bridge} type bridge`),
    ip("", `link set ${nodeNetwork.bridge} up`),
    // The gateway exists so nodes have the default route a VM has; the sandbox root has no uplink,
    // so anything sent "outside" ends here with ICMP net unreachable.
    ip("", `addr add ${nodeNetwork.gateway}/${prefix} dev ${nodeNetwork.bridge}`),
  ];
  plan.nodes.forEach((n, i) => {
    wiring.push(ip("", `link add vn${i} mtu ${n.mtu} type veth peer name eth0 netns ${n.netns}`));
    wiring.push(ip("", `link set vn${i} master ${nodeNetwork.bridge} up`));
  });
  // Pods: the veth pair is created from the node's namespace with its peer placed in the pod's.
  for (const p of plan.pods) wiring.push(...renderPodAttach(p, nodeByName.get(p.node)!)[0]);

  // Phase 2: addresses, links, sysctls and routes inside every namespace.
  const config: NetOp[] = [];
  for (const n of plan.nodes) config.push(...renderNode(plan, n));
  for (const p of plan.pods) config.push(...renderPodAttach(p, nodeByName.get(p.node)!)[1]);

  // Phase 3: Service ClusterIPs, as kube-proxy would program them, in every node.
  const services: NetOp[] = [];
  for (const n of plan.nodes) services.push(...renderServices(plan.services, n.netns));

  return {
    netns: [...plan.nodes.map((n) => n.netns), ...plan.pods.map((p) => p.netns)],
    phases: [wiring, config, services],
  };
}

function renderNode(plan: ClusterPlan, n: PlanNode): NetOp[] {
  const prefix = plan.nodeNetwork.cidr.split("/")[1]!;
  const ops: NetOp[] = [
    ip(n.netns, "link set lo up"),
    ip(n.netns, `addr add ${n.address}/${prefix} dev eth0`),
    ip(n.netns, "link set eth0 up"),
    sysctl(n.netns, "net.ipv4.ip_forward", "1"),
  ];
  // The tunnel address sits on lo (no dummy/ipip link here) and is used as `src` of pod routes, which is
  // how host-networked processes end up talking to pods from it, as with Calico's tunl0.
  if (n.tunnelAddress) ops.push(ip(n.netns, `addr add ${n.tunnelAddress}/32 dev lo`));
  ops.push(ip(n.netns, `route add default via ${plan.nodeNetwork.gateway} dev eth0`));
  for (const r of n.routes) ops.push(ip(n.netns, `route add ${renderRoute(r)}`));
  return ops;
}

/**
 * What Calico's CNI plugin does for one pod, in two phases (the pod's namespace must exist): [0] the veth
 * pair, created from the node with its peer in the pod; [1] the node side (fixed MAC, proxy ARP answering
 * for 169.254.1.1, no delay, the /32 route) and the pod side (address, the 169.254.1.1 gateway).
 * Used at build time for every pod and at runtime by the kubelet for pods created later.
 */
export function renderPodAttach(p: PlanPod, node: PlanNode): [NetOp[], NetOp[]] {
  return [
    [ip(node.netns, `link add ${p.hostIface} type veth peer name eth0 netns ${p.netns}`)],
    [
      ip(node.netns, `link set ${p.hostIface} address ee:ee:ee:ee:ee:ee`),
      ip(node.netns, `link set ${p.hostIface} up`),
      sysctl(node.netns, `net.ipv4.conf.${p.hostIface}.proxy_arp`, "1"),
      sysctl(node.netns, `net.ipv4.neigh.${p.hostIface}.proxy_delay`, "0"),
      ip(node.netns, `route add ${p.address}/32 dev ${p.hostIface} scope link`),
      ip(p.netns, "link set lo up"),
      ip(p.netns, `link set eth0 mtu ${node.mtu}`),
      ip(p.netns, `addr add ${p.address}/32 dev eth0`),
      ip(p.netns, "link set eth0 up"),
      ip(p.netns, "route add 169.254.1.1 dev eth0 scope link"),
      ip(p.netns, "route add default via 169.254.1.1 dev eth0"),
    ],
  ];
}

/** kube-proxy's chain names: a hash of the service port, so rules read like the real ones. */
function chainName(prefix: string, key: string): string {
  return prefix + createHash("sha256").update(key).digest("base64").replace(/[^A-Z0-9]/gi, "").toUpperCase().slice(0, 16);
}

/**
 * iptables NAT for ClusterIPs, the way kube-proxy's iptables mode writes it (the incident cluster ran
 * IPVS; the packets a trainee captures look the same: DNAT to the endpoint before routing).
 */
export function renderServices(services: PlanService[], netns: string, opts: { hooks?: boolean } = {}): NetOp[] {
  const nat = (rule: string): NetOp => ({ kind: "iptables", netns, table: "nat", rule });
  const filter = (rule: string): NetOp => ({ kind: "iptables", netns, table: "filter", rule });
  // `iptables-restore --noflush` flushes a chain it is told to declare, so a re-sync (hooks: false)
  // rewrites KUBE-SERVICES in place; the jumps from the built-in chains are added once, at build time.
  const hooks = opts.hooks ?? true;
  const ops: NetOp[] = [
    nat(":KUBE-SERVICES - [0:0]"),
    ...(hooks ? [nat('-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES'), nat('-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES')] : []),
    filter(":KUBE-SERVICES - [0:0]"),
    ...(hooks
      ? [
          filter('-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES'),
          filter('-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES'),
        ]
      : []),
  ];
  for (const s of services) {
    for (const port of s.ports) {
      const proto = port.protocol.toLowerCase();
      const id = `${s.namespace}/${s.name}${port.name ? ":" + port.name : ""}`;
      const match = `-d ${s.clusterIP}/32 -p ${proto} -m ${proto} --dport ${port.port}`;
      if (s.endpoints.length === 0) {
        // kube-proxy rejects traffic to a Service without endpoints instead of letting it time out.
        ops.push(filter(`-A KUBE-SERVICES ${match} -m comment --comment "${id} has no endpoints" -j REJECT --reject-with icmp-port-unreachable`));
        continue;
      }
      const svcChain = chainName("KUBE-SVC-", `${id}/${proto}`);
      ops.push(nat(`:${svcChain} - [0:0]`));
      ops.push(nat(`-A KUBE-SERVICES ${match} -m comment --comment "${id} cluster IP" -j ${svcChain}`));
      s.endpoints.forEach((ep, i) => {
        const sepChain = chainName("KUBE-SEP-", `${id}/${proto}/${ep}`);
        const left = s.endpoints.length - i;
        const pick = left > 1 ? ` -m statistic --mode random --probability ${(1 / left).toFixed(10)}` : "";
        ops.push(nat(`:${sepChain} - [0:0]`));
        ops.push(nat(`-A ${svcChain} -m comment --comment "${id} -> ${ep}:${port.targetPort}"${pick} -j ${sepChain}`));
        ops.push(nat(`-A ${sepChain} -p ${proto} -m comment --comment "${id}" -m ${proto} -j DNAT --to-destination ${ep}:${port.targetPort}`));
      });
    }
  }
  return ops;
}
