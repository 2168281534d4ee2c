/**
 * IPAM handle names as Calico writes them. calico-node allocates each node's tunnel address under
 * `ipip-tunnel-addr-<node>` (IPIP) or `vxlan-tunnel-addr-<node>` (VXLAN) [calico
 * `node/pkg/allocateip/allocateip.go`]; the CNI plugin uses `k8s-pod-network.<containerID>` for pods.
 * Routing treats the two differently (see routes.ts), so the distinction lives here, in one place.
 */

export type TunnelKind = "ipip" | "vxlan";

const TUNNEL_HANDLE = /^(ipip|vxlan)-tunnel-addr-(.+)$/;

/**
 * The handle calico-node uses for `node`'s tunnel address.
 *
 * @example
 * ```ts
 * tunnelHandle("cp-1"); // "ipip-tunnel-addr-cp-1"
 * ```
 */
export function tunnelHandle(node: string, kind: TunnelKind = "ipip"): string {
  return `${kind}-tunnel-addr-${node}`;
}

/** True for a tunnel-address handle (IPIP or VXLAN), false for workloads. */
export function isTunnelHandle(handle: string): boolean {
  return TUNNEL_HANDLE.test(handle);
}

/** The handle calico's CNI plugin uses for a pod's address (`k8s-pod-network.<containerID>`). */
export function podHandle(containerId: string): string {
  return `k8s-pod-network.${containerId}`;
}
