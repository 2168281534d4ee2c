import { FaultlineError } from "../../errors.js";
import { type Cidr, containsIp, formatCidr, formatIp, overlaps, parseCidr, parseIp, size } from "../net/cidr.js";
import { IPAM_STATE_VERSION, type IpamState, formatPath, ipamStateSchema } from "./schema.js";

/**
 * Calico-style IPAM for one IPv4 pool, modelled on libcalico-go `lib/ipam` (ipam.go, ipam_block.go,
 * ipam_block_reader_writer.go) and its validation in `clientv3/ippool.go`. It is deterministic where
 * Calico is random (which block a node claims first), so a lab always produces the same addresses.
 *
 * What is modelled, and why it matters for the labs:
 * - Blocks of `blockSize` are claimed by a node on demand (block affinity); the node's addresses come
 *   from its own blocks first. Each node's blocks are blackholed on it (routes.ts).
 * - With strict affinity off (Calico's default) a node that finds no free block of its own and no
 *   unclaimed block **borrows** an address from another node's block. That is the flagship fault.
 * - Inside a block, free addresses are handed out in Calico's `unallocated` order: ascending when the
 *   block is created (so the first allocation, usually the tunnel address, gets the block's first
 *   address, x.x.x.0), released ordinals appended at the end (so a freed address is reused last).
 *
 * Not modelled (documented so nobody relies on it): several pools, node/namespace selectors, reserved
 * addresses, `maxBlocksPerHost` (current Calico defaults it to 20 and then fails instead of borrowing),
 * and reclaiming empty blocks that other nodes hold (Calico does that when no unclaimed block is left
 * and the block has been claimed for over a minute). Here an affinity ends only with {@link releaseNode}.
 */

/** Calico's IPv4 block-size bounds [`clientv3/ippool.go`: "IPv4 block size must be between 20 and 32"]. */
export const CALICO_MIN_BLOCK_SIZE = 20;
export const CALICO_MAX_BLOCK_SIZE = 32;
/** Calico's default when an IPPool leaves `blockSize` unset (kubespray >= v2.20 also defaults to 26). */
export const CALICO_DEFAULT_BLOCK_SIZE = 26;

/** Calico refuses pools overlapping IPv4 link-local [`clientv3/ippool.go`]. */
const LINK_LOCAL = parseCidr("169.254.0.0/16");

const FIX_SIZE_HINT =
  "give the pod subnet more room (a shorter prefix, e.g. /21 instead of /22) or use smaller blocks " +
  "(a longer block prefix such as /25 or /26) so that every node can claim a block of its own";

export interface IpamOptions {
  /** The pod subnet, as a CIDR (kubespray's `kube_pods_subnet`). */
  pool: string;
  /** Prefix length of one block (Calico IPPool `blockSize`; kubespray `calico_pool_blocksize`). */
  blockSize: number;
  /** Forbid borrowing from other nodes' blocks. Default false, as in Calico's IPAMConfig. */
  strictAffinity?: boolean;
}

/** The result of one {@link CalicoIpam.autoAssign}. */
export interface Allocation {
  address: string;
  /** CIDR of the block the address came from. */
  block: string;
  /** True when the block's affinity is another node (or none): the address is borrowed. */
  borrowed: boolean;
}

/** One claimed block as `calicoctl ipam show --show-blocks` would list it. */
export interface BlockView {
  cidr: string;
  affinity: string | null;
  /** In ascending address order. */
  allocations: Array<{ address: string; handle: string }>;
  free: number;
}

/** An address in use by a node other than its block's affine node. */
export interface BorrowedAddress {
  address: string;
  handle: string;
  block: string;
  /** The block's affinity (null if its node was deleted). */
  owner: string | null;
  /** The node that requested the address. */
  usedBy: string;
}

interface Slot {
  handle: string;
  /** The node that requested the address (Calico's `node` allocation attribute). */
  node: string;
}

interface Block {
  readonly cidr: Cidr;
  affinity: string | null;
  /** Ordinal -> allocation. */
  readonly slots: Map<number, Slot>;
  /** Free ordinals in hand-out order (Calico's `Unallocated`). */
  unallocated: number[];
}

/**
 * One Calico IP pool with its blocks, affinities and allocations.
 *
 * @example The flagship fault: a /22 pod subnet with /24 blocks holds 4 blocks for 7 nodes.
 * ```ts
 * const ipam = new CalicoIpam({ pool: "10.233.64.0/22", blockSize: 24 });
 * for (const n of ["worker-3", "worker-1", "worker-2", "worker-4", "worker-5", "worker-6", "cp-1"]) {
 *   ipam.autoAssign(n, tunnelHandle(n));
 * }
 * ipam.lookup("10.233.64.3"); // { block: "10.233.64.0/24", handle: "ipip-tunnel-addr-cp-1", affinity: "worker-3", usedBy: "cp-1" }
 * ```
 */
export class CalicoIpam {
  readonly pool: string;
  readonly blockSize: number;
  readonly strictAffinity: boolean;
  readonly #pool: Cidr;
  /** Claimed blocks, sorted by (base, prefix). */
  #blocks: Block[] = [];
  /** Node -> its blocks in claim order (Calico's BlockAffinity objects). */
  readonly #affinity = new Map<string, Block[]>();

  /** @throws FaultlineError when the pool or block size would be refused by Calico. */
  constructor(opts: IpamOptions) {
    this.#pool = checkPool(opts.pool);
    checkBlockSize(opts.blockSize, this.#pool);
    this.pool = formatCidr(this.#pool);
    this.blockSize = opts.blockSize;
    this.strictAffinity = opts.strictAffinity ?? false;
  }

  /**
   * Calico's autoAssign for one address on `node`, recorded under `handle`:
   * 1. the first free address in a block affine to `node`, blocks in claim order;
   * 2. else claim the first unclaimed block of the pool in ascending order and take its first free
   *    address (real Calico starts the search at a block chosen by a host-seeded random generator; we
   *    start at the bottom so labs are reproducible);
   * 3. else, unless strict affinity is on, borrow the first free address of any block, blocks in
   *    ascending CIDR order (Calico again walks them from a random start);
   * 4. else FaultlineError "pool exhausted".
   *
   * @example
   * ```ts
   * ipam.autoAssign("worker-1", "ipip-tunnel-addr-worker-1"); // { address: "10.233.64.0", block: "10.233.64.0/24", borrowed: false }
   * ```
   */
  autoAssign(node: string, handle: string): Allocation {
    requireName("node", node);
    requireName("handle", handle);
    for (const b of this.#affinity.get(node) ?? []) {
      if (b.unallocated.length > 0) return this.#take(b, node, handle);
    }
    const claimed = this.#claim(node);
    if (claimed) return this.#take(claimed, node, handle);
    if (!this.strictAffinity) {
      // Calico only borrows from blocks that exist; unclaimed ones were ruled out in step 2.
      const donor = this.#blocks.find((b) => b.unallocated.length > 0);
      if (donor) return this.#take(donor, node, handle);
      throw new FaultlineError(
        `pool ${this.pool} exhausted: all ${size(this.#pool)} addresses are in use, none left for node "${node}"`,
        FIX_SIZE_HINT,
      );
    }
    throw new FaultlineError(
      `pool ${this.pool} exhausted for node "${node}": all ${this.#blocks.length} blocks of /${this.blockSize} ` +
        `are claimed and strict affinity forbids borrowing from other nodes' blocks`,
      FIX_SIZE_HINT,
    );
  }

  /**
   * Frees `address`. Releasing a free address is a no-op, as in Calico (it reports it as "unallocated").
   * The freed ordinal goes to the end of the block's free list. A block keeps its affinity even when it
   * becomes empty (Calico releases affinities on node deletion, see {@link releaseNode}); a block with no
   * affinity is deleted when its last address is released, as Calico's releaseIPsFromBlock does.
   *
   * @throws FaultlineError when `address` is not an IPv4 address inside the pool.
   */
  release(address: string): void {
    const ip = parseAddress(address);
    if (!containsIp(this.#pool, ip)) {
      throw new FaultlineError(
        `cannot release ${address}: it is not in the pool ${this.pool}`,
        "release only addresses that this IPAM handed out",
      );
    }
    const found = this.#find(ip);
    if (found) this.#free(found.block, found.ordinal);
  }

  /**
   * The node was deleted (what calico-kube-controllers does): release every address it requested, then
   * its affinities. An emptied block is deleted; a block in which other nodes still use addresses stays
   * with no affinity, so those addresses become borrowed from nobody [`releaseBlockAffinity`].
   */
  releaseNode(node: string): void {
    for (const b of [...this.#blocks]) {
      for (const [ordinal, slot] of [...b.slots]) if (slot.node === node) this.#free(b, ordinal);
    }
    for (const b of this.#affinity.get(node) ?? []) {
      if (b.slots.size === 0) this.#blocks = this.#blocks.filter((x) => x !== b);
      else b.affinity = null;
    }
    this.#affinity.delete(node);
  }

  /** Claimed blocks in ascending CIDR order. */
  blocks(): BlockView[] {
    return this.#blocks.map((b) => ({
      cidr: formatCidr(b.cidr),
      affinity: b.affinity,
      allocations: sortedSlots(b).map(([ordinal, slot]) => ({ address: formatIp(b.cidr.base + ordinal), handle: slot.handle })),
      free: b.unallocated.length,
    }));
  }

  /** CIDRs of the blocks affine to `node`, in claim order. */
  affinities(node: string): string[] {
    return (this.#affinity.get(node) ?? []).map((b) => formatCidr(b.cidr));
  }

  /** The affinity of the block containing `address`; null if no block contains it or it has none. */
  owner(address: string): string | null {
    return this.#blockContaining(parseAddress(address))?.affinity ?? null;
  }

  /**
   * Where an allocated address lives; null when it is free. `usedBy` (the requesting node) is an
   * addition to the affinity: the two differ exactly when the address is borrowed.
   */
  lookup(address: string): { block: string; handle: string; affinity: string | null; usedBy: string } | null {
    const found = this.#find(parseAddress(address));
    if (!found) return null;
    return { block: formatCidr(found.block.cidr), handle: found.slot.handle, affinity: found.block.affinity, usedBy: found.slot.node };
  }

  /**
   * Pairs of affine blocks that overlap (`cidr` is the overlapping range, i.e. the more specific block).
   * Always empty for state built by this class; state imported with {@link fromJSON} may hold leftover
   * blocks of another size, and a grader can use this to check that blocks are disjoint.
   */
  overlappingAffinities(): Array<{ a: string; b: string; cidr: string }> {
    const out: Array<{ a: string; b: string; cidr: string }> = [];
    for (let i = 0; i < this.#blocks.length; i++) {
      for (let j = i + 1; j < this.#blocks.length; j++) {
        const x = this.#blocks[i]!;
        const y = this.#blocks[j]!;
        if (x.affinity === null || y.affinity === null || !overlaps(x.cidr, y.cidr)) continue;
        out.push({ a: x.affinity, b: y.affinity, cidr: formatCidr(x.cidr.prefix >= y.cidr.prefix ? x.cidr : y.cidr) });
      }
    }
    return out;
  }

  /** Addresses used by a node other than their block's affinity, in ascending address order. */
  borrowed(): BorrowedAddress[] {
    const out: BorrowedAddress[] = [];
    for (const b of this.#blocks) {
      for (const [ordinal, slot] of sortedSlots(b)) {
        if (slot.node === b.affinity) continue;
        out.push({ address: formatIp(b.cidr.base + ordinal), handle: slot.handle, block: formatCidr(b.cidr), owner: b.affinity, usedBy: slot.node });
      }
    }
    return out;
  }

  /** The whole state; see schema.ts for the format. `fromJSON(x.toJSON())` behaves exactly like `x`. */
  toJSON(): IpamState {
    return {
      version: IPAM_STATE_VERSION,
      pool: this.pool,
      blockSize: this.blockSize,
      strictAffinity: this.strictAffinity,
      affinities: Object.fromEntries([...this.#affinity].map(([node, blocks]) => [node, blocks.map((b) => formatCidr(b.cidr))])),
      blocks: this.#blocks.map((b) => ({
        cidr: formatCidr(b.cidr),
        affinity: b.affinity,
        allocations: sortedSlots(b).map(([ordinal, s]) => ({ address: formatIp(b.cidr.base + ordinal), handle: s.handle, node: s.node })),
        unallocated: [...b.unallocated],
      })),
    };
  }

  /**
   * Rebuilds an IPAM from {@link toJSON} output (or a hand-written fixture). Everything is checked; the
   * error names the path, e.g. `IPAM state: blocks[1].allocations[0].address: 10.0.1.7 is outside the
   * block 10.0.0.0/24`.
   *
   * @example
   * ```ts
   * const copy = CalicoIpam.fromJSON(JSON.parse(JSON.stringify(ipam)));
   * ```
   */
  static fromJSON(data: unknown): CalicoIpam {
    const parsed = ipamStateSchema.safeParse(data);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw stateError(issue.path, issue.message);
    }
    const s = parsed.data;
    const pool = at(["pool"], () => checkPool(s.pool));
    at(["blockSize"], () => checkBlockSize(s.blockSize, pool));
    const ipam = new CalicoIpam({ pool: s.pool, blockSize: s.blockSize, strictAffinity: s.strictAffinity });

    const byCidr = new Map<string, { block: Block; index: number }>();
    s.blocks.forEach((raw, i) => {
      const block = readBlock(raw, ["blocks", i], pool);
      const key = formatCidr(block.cidr);
      const dup = byCidr.get(key);
      if (dup) throw stateError(["blocks", i, "cidr"], `${key} is listed twice (also blocks[${dup.index}])`);
      byCidr.set(key, { block, index: i });
    });
    ipam.#blocks = [...byCidr.values()].map((v) => v.block).sort(compareBlocks);

    if (s.affinities) {
      const listed = new Set<Block>();
      for (const [node, cidrs] of Object.entries(s.affinities)) {
        const blocks = cidrs.map((text, k) => {
          const path = ["affinities", node, k];
          const entry = byCidr.get(at(path, () => formatCidr(parseCidr(text))));
          if (!entry) throw stateError(path, `${text} is not one of the blocks`);
          if (entry.block.affinity !== node) {
            throw stateError(path, `block ${text} has affinity ${JSON.stringify(entry.block.affinity)}, not "${node}"`);
          }
          if (listed.has(entry.block)) throw stateError(path, `${text} is listed twice`);
          listed.add(entry.block);
          return entry.block;
        });
        if (blocks.length > 0) ipam.#affinity.set(node, blocks);
      }
      for (const { block, index } of byCidr.values()) {
        if (block.affinity !== null && !listed.has(block)) {
          throw stateError(["blocks", index, "affinity"], `block ${formatCidr(block.cidr)} is affine to "${block.affinity}" but affinities.${block.affinity} does not list it`);
        }
      }
    } else {
      for (const b of ipam.#blocks) {
        if (b.affinity === null) continue;
        const list = ipam.#affinity.get(b.affinity) ?? [];
        list.push(b);
        ipam.#affinity.set(b.affinity, list);
      }
    }
    return ipam;
  }

  #take(b: Block, node: string, handle: string): Allocation {
    const ordinal = b.unallocated.shift()!;
    b.slots.set(ordinal, { handle, node });
    return { address: formatIp(b.cidr.base + ordinal), block: formatCidr(b.cidr), borrowed: b.affinity !== node };
  }

  #free(b: Block, ordinal: number): void {
    b.slots.delete(ordinal);
    b.unallocated.push(ordinal);
    if (b.slots.size === 0 && b.affinity === null) this.#blocks = this.#blocks.filter((x) => x !== b);
  }

  /** Claims the lowest block-sized range of the pool that overlaps no existing block, or returns null. */
  #claim(node: string): Block | null {
    // A merge walk over the sorted blocks instead of cidr.ts `subnets()`: a /8 pool of /32 blocks would
    // otherwise materialise 16M candidates to find one.
    const step = 2 ** (32 - this.blockSize);
    const end = this.#pool.base + size(this.#pool);
    let candidate = this.#pool.base;
    for (const b of this.#blocks) {
      const bEnd = b.cidr.base + size(b.cidr);
      if (bEnd <= candidate) continue;
      if (b.cidr.base >= candidate + step) break;
      candidate = Math.ceil(bEnd / step) * step;
    }
    if (candidate + step > end) return null;
    const block = newBlock({ base: candidate, prefix: this.blockSize }, node);
    this.#blocks.push(block);
    this.#blocks.sort(compareBlocks);
    const list = this.#affinity.get(node) ?? [];
    list.push(block);
    this.#affinity.set(node, list);
    return block;
  }

  /** The most specific block containing `ip` (what routing would pick). */
  #blockContaining(ip: number): Block | undefined {
    let best: Block | undefined;
    for (const b of this.#blocks) if (containsIp(b.cidr, ip) && (!best || b.cidr.prefix > best.cidr.prefix)) best = b;
    return best;
  }

  /** The allocation of `ip`; with overlapping imported blocks, the most specific block that holds it. */
  #find(ip: number): { block: Block; ordinal: number; slot: Slot } | null {
    let hit: { block: Block; ordinal: number; slot: Slot } | null = null;
    for (const block of this.#blocks) {
      if (!containsIp(block.cidr, ip)) continue;
      const ordinal = ip - block.cidr.base;
      const slot = block.slots.get(ordinal);
      if (slot && (!hit || block.cidr.prefix > hit.block.cidr.prefix)) hit = { block, ordinal, slot };
    }
    return hit;
  }
}

function newBlock(cidr: Cidr, affinity: string | null): Block {
  return { cidr, affinity, slots: new Map(), unallocated: Array.from({ length: size(cidr) }, (_, i) => i) };
}

function compareBlocks(a: Block, b: Block): number {
  return a.cidr.base - b.cidr.base || a.cidr.prefix - b.cidr.prefix;
}

function sortedSlots(b: Block): Array<[number, Slot]> {
  return [...b.slots].sort((x, y) => x[0] - y[0]);
}

function requireName(what: string, value: string): void {
  if (typeof value !== "string" || value.length === 0) {
    throw new FaultlineError(`IPAM: ${what} must be a non-empty string`, `pass the ${what} the address is for`);
  }
}

function parseAddress(address: string): number {
  try {
    return parseIp(address);
  } catch (err) {
    throw err instanceof FaultlineError ? new FaultlineError(`IPAM: ${err.message}`, err.hint, { cause: err }) : err;
  }
}

/** The pool as Calico would accept it: a strictly masked IPv4 CIDR outside link-local. */
function checkPool(text: string): Cidr {
  let pool: Cidr;
  try {
    pool = parseCidr(text);
  } catch (err) {
    if (!(err instanceof FaultlineError)) throw err;
    throw new FaultlineError(`the Calico IP pool ${err.message}`, err.hint, { cause: err });
  }
  if (overlaps(pool, LINK_LOCAL)) {
    throw new FaultlineError(
      `the Calico IP pool ${formatCidr(pool)} overlaps the IPv4 link-local range 169.254.0.0/16, which Calico refuses`,
      "choose a pod subnet from private space (kubespray's default kube_pods_subnet is 10.233.64.0/18)",
    );
  }
  return pool;
}

/** Calico's rules: an integer from 20 to 32, and a pool at least one block large. */
function checkBlockSize(blockSize: number, pool: Cidr): void {
  if (!Number.isInteger(blockSize) || blockSize < CALICO_MIN_BLOCK_SIZE || blockSize > CALICO_MAX_BLOCK_SIZE) {
    throw new FaultlineError(
      `block size ${String(blockSize)} is not valid: Calico accepts IPv4 block sizes from /${CALICO_MIN_BLOCK_SIZE} to /${CALICO_MAX_BLOCK_SIZE}`,
      `set an integer from ${CALICO_MIN_BLOCK_SIZE} to ${CALICO_MAX_BLOCK_SIZE} (kubespray: calico_pool_blocksize, which ` +
        `kubespray <= v2.19 takes from kube_network_node_prefix); Calico's default is ${CALICO_DEFAULT_BLOCK_SIZE}`,
    );
  }
  if (blockSize < pool.prefix) {
    throw new FaultlineError(
      `the pool ${formatCidr(pool)} is too small for even one /${blockSize} block`,
      `Calico needs the pod subnet to be at least as large as one block: use a pod subnet of /${blockSize} or ` +
        `larger, or a block size of /${pool.prefix} or longer`,
    );
  }
}

function stateError(path: ReadonlyArray<PropertyKey>, message: string): FaultlineError {
  return new FaultlineError(
    `IPAM state: ${formatPath(path)}: ${message}`,
    "IPAM state is written by CalicoIpam.toJSON(); regenerate it, or fix the field named (format: server/sim/ipam/schema.ts)",
  );
}

/** Runs `fn`, turning a FaultlineError into a state error at `path`. */
function at<T>(path: ReadonlyArray<PropertyKey>, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof FaultlineError) throw stateError(path, err.message);
    throw err;
  }
}

function readBlock(raw: IpamState["blocks"][number], path: ReadonlyArray<PropertyKey>, pool: Cidr): Block {
  const cidr = at([...path, "cidr"], () => parseCidr(raw.cidr));
  // Any size Calico could have created is accepted (not only the pool's current blockSize): imported
  // state may hold blocks left over from an older block size, which overlappingAffinities() reports.
  if (cidr.prefix < Math.max(pool.prefix, CALICO_MIN_BLOCK_SIZE) || !containsIp(pool, cidr.base)) {
    throw stateError([...path, "cidr"], `${raw.cidr} is not a block of the pool ${formatCidr(pool)}`);
  }
  const block = newBlock(cidr, raw.affinity);
  raw.allocations.forEach((a, k) => {
    const ip = at([...path, "allocations", k, "address"], () => parseIp(a.address));
    if (!containsIp(cidr, ip)) throw stateError([...path, "allocations", k, "address"], `${a.address} is outside the block ${raw.cidr}`);
    const ordinal = ip - cidr.base;
    if (block.slots.has(ordinal)) throw stateError([...path, "allocations", k, "address"], `${a.address} is allocated twice`);
    block.slots.set(ordinal, { handle: a.handle, node: a.node });
  });
  if (raw.affinity === null && block.slots.size === 0) {
    throw stateError([...path, "affinity"], `block ${raw.cidr} has neither an affinity nor allocations; Calico deletes such a block`);
  }
  const free = block.unallocated.filter((o) => !block.slots.has(o));
  if (raw.unallocated === undefined) {
    block.unallocated = free;
  } else {
    const seen = new Set<number>();
    raw.unallocated.forEach((o, k) => {
      const p = [...path, "unallocated", k];
      if (o >= size(cidr)) throw stateError(p, `ordinal ${o} is outside the block (it has ${size(cidr)} addresses)`);
      if (block.slots.has(o)) throw stateError(p, `ordinal ${o} (${formatIp(cidr.base + o)}) is allocated`);
      if (seen.has(o)) throw stateError(p, `ordinal ${o} is listed twice`);
      seen.add(o);
    });
    if (seen.size !== free.length) {
      throw stateError([...path, "unallocated"], `lists ${seen.size} free ordinals, but ${free.length} addresses of the block are free`);
    }
    block.unallocated = [...raw.unallocated];
  }
  return block;
}
