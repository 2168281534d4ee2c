import type { IpamState } from "./ipam/schema.js";
/**
 * The plan: everything a sim sandbox programs into the kernel, computed in plain TypeScript from the lab
 * (topology), the kubespray evaluation (subnets, block size) and Calico-style IPAM (blocks, addresses).
 * It is data, so it can be shown (`sandbox up --json`), tested without a kernel, and diffed on rebuild.
 */

/** One `ip route` entry as the node's kernel will hold it. Rendered by dataplane/render.ts. */
export interface RouteSpec {
  dst: string;
  type?: "blackhole" | "unreachable" | "prohibit";
  via?: string;
  dev?: string;
  src?: string;
  /** `bird` when BIRD programs the route (calico_network_backend: bird), `80` when Felix does (vxlan). */
  proto?: "bird" | "80" | "kernel" | "static" | "boot";
  scope?: "link";
}

export interface PlanNode {
  name: string;
  role: "control-plane" | "worker";
  /** Address on the node network (eth0). */
  address: string;
  /** Calico tunnel address (tunl0 on a real node; on `lo` here, used as route `src`). Null if IPAM had none. */
  tunnelAddress: string | null;
  /** True when the tunnel address comes from a block another node owns. */
  tunnelBorrowed: boolean;
  /** Blocks this node holds the affinity for, in claim order. */
  blocks: string[];
  /** Network namespace name inside the sandbox. */
  netns: string;
  mtu: number;
  routes: RouteSpec[];
}

export interface PlanPod {
  namespace: string;
  name: string;
  node: string;
  address: string;
  /** True when the address comes from a block another node owns. */
  borrowed: boolean;
  netns: string;
  /** The node-side veth, named like Calico's (`cali` + 11 hex characters). */
  hostIface: string;
  labels: Record<string, string>;
}

export interface PlanServicePort {
  name?: string | undefined;
  port: number;
  targetPort: number;
  protocol: "TCP" | "UDP";
}

export interface PlanService {
  namespace: string;
  name: string;
  clusterIP: string;
  ports: PlanServicePort[];
  /** Pod label selector (empty for Services whose endpoints are nodes). */
  selector?: Record<string, string>;
  /** Endpoint addresses: selected pods' addresses, or node addresses for `nodeEndpoints`. */
  endpoints: string[];
}

export interface PlanBlock {
  cidr: string;
  affinity: string | null;
  allocations: Array<{ address: string; handle: string }>;
}

export interface ClusterPlan {
  /** Sandbox name, used in interface and log names. */
  sandbox: string;
  kubesprayVersion: string;
  calicoVersion: string;
  /** Whether the modelled Calico programs /32 routes for borrowed tunnel addresses (v3.30+). */
  routesBorrowedTunnels: boolean;
  /** calico_network_backend as kubespray evaluated it: decides the routes' protocol and tunnel handles. */
  calicoBackend: "bird" | "vxlan";
  nodeNetwork: { cidr: string; gateway: string; bridge: string };
  podsSubnet: string;
  serviceCidr: string;
  blockSize: number;
  nodes: PlanNode[];
  pods: PlanPod[];
  services: PlanService[];
  blocks: PlanBlock[];
  /** The whole IPAM state (CalicoIpam.toJSON), so pods added at runtime get addresses the way Calico would (absent only in hand-written test plans). */
  ipam?: IpamState;
}
