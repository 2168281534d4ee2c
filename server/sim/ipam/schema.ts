import { z } from "zod";

/**
 * The wire format of {@link CalicoIpam.toJSON} / {@link CalicoIpam.fromJSON}: what a plan stores, a fault
 * imports and `sandbox up --json` shows. It mirrors Calico's own objects closely enough to be read next to
 * `calicoctl ipam show --show-blocks`: one entry per IPAMBlock (CIDR, affinity, allocations with their
 * handle and the node that asked for them) and the BlockAffinity objects per node, in claim order.
 *
 * The schema checks shapes only; {@link CalicoIpam.fromJSON} then checks the meaning (addresses inside
 * their block, affinities matching blocks, ...) and names the offending path either way.
 *
 * @example
 * ```json
 * {
 *   "version": 1, "pool": "10.233.64.0/22", "blockSize": 24, "strictAffinity": false,
 *   "affinities": { "worker-3": ["10.233.64.0/24"] },
 *   "blocks": [{
 *     "cidr": "10.233.64.0/24", "affinity": "worker-3",
 *     "allocations": [{ "address": "10.233.64.0", "handle": "ipip-tunnel-addr-worker-3", "node": "worker-3" }],
 *     "unallocated": [1, 2, 3]
 *   }]
 * }
 * ```
 * (`unallocated` abbreviated; a /24 lists all 255 free ordinals.)
 */
export const IPAM_STATE_VERSION = 1;

const name = z.string().min(1, "must not be empty");

const allocationSchema = z.strictObject({
  address: z.string(),
  handle: name,
  /** The node that requested the address (Calico's `node` allocation attribute). */
  node: name,
});

const blockSchema = z.strictObject({
  cidr: z.string(),
  /** Node name, or null for a block whose node was deleted while others still used addresses in it. */
  affinity: name.nullable(),
  allocations: z.array(allocationSchema),
  /**
   * Free ordinals in the order they will be handed out (Calico's `unallocated` list: ascending when the
   * block is created, released ordinals appended at the end). Omitted means ascending.
   */
  unallocated: z.array(z.number().int().min(0)).optional(),
});

export const ipamStateSchema = z.strictObject({
  version: z.literal(IPAM_STATE_VERSION),
  pool: z.string(),
  blockSize: z.number(),
  strictAffinity: z.boolean().default(false),
  /**
   * Node -> the CIDRs of its blocks in claim order (Calico's BlockAffinity objects). Omitted means
   * "derive from the blocks' affinity, in ascending CIDR order".
   */
  affinities: z.record(name, z.array(z.string())).optional(),
  /** Blocks in ascending CIDR order. */
  blocks: z.array(blockSchema),
});

/** What {@link CalicoIpam.toJSON} returns (always with `unallocated` and `affinities`). */
export type IpamState = z.output<typeof ipamStateSchema>;

/** `blocks[2].allocations[0].address`; "(top level)" for the root. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : `${out ? "." : ""}${String(p)}`;
  return out || "(top level)";
}
