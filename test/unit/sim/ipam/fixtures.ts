import { tunnelHandle } from "../../../../server/sim/ipam/handles.js";
import { CalicoIpam, type IpamOptions } from "../../../../server/sim/ipam/ipam.js";
import type { NodeAddr } from "../../../../server/sim/ipam/routes.js";

/** The order calico-node starts in the flagship lab, hence the order nodes claim blocks. */
export const FLAGSHIP_CLAIM_ORDER = ["worker-3", "worker-1", "worker-2", "worker-4", "worker-5", "worker-6", "cp-1"];

/** Node-network addresses as the lab assigns them: .10 upwards in inventory order. */
export const NODE_ADDRESSES: Record<string, string> = {
  "cp-1": "192.168.10.10",
  "worker-1": "192.168.10.11",
  "worker-2": "192.168.10.12",
  "worker-3": "192.168.10.13",
  "worker-4": "192.168.10.14",
  "worker-5": "192.168.10.15",
  "worker-6": "192.168.10.16",
};

/** Every node allocates its tunnel address first, in claim order, as calico-node does at start-up. */
export function bootCluster(opts: IpamOptions, order = FLAGSHIP_CLAIM_ORDER): { ipam: CalicoIpam; tunnels: Map<string, string> } {
  const ipam = new CalicoIpam(opts);
  const tunnels = new Map<string, string>();
  for (const node of order) tunnels.set(node, ipam.autoAssign(node, tunnelHandle(node)).address);
  return { ipam, tunnels };
}

export function nodeAddrs(tunnels: Map<string, string>): NodeAddr[] {
  return Object.entries(NODE_ADDRESSES).map(([name, address]) => ({ name, address, tunnelAddress: tunnels.get(name) ?? null }));
}

/** Runs `fn` and returns the thrown error, failing if nothing was thrown. */
export function thrown(fn: () => unknown): Error & { hint?: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof Error) return err;
    throw new Error(`threw a non-Error: ${String(err)}`);
  }
  throw new Error("expected an error, nothing was thrown");
}
