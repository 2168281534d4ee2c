import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FaultlineError } from "../../../../server/errors.js";
import { podHandle, tunnelHandle } from "../../../../server/sim/ipam/handles.js";
import { CalicoIpam } from "../../../../server/sim/ipam/ipam.js";
import { bootCluster, thrown } from "./fixtures.js";

describe("CalicoIpam: flagship (10.233.64.0/22, /24 blocks, 7 nodes)", () => {
  const { ipam, tunnels } = bootCluster({ pool: "10.233.64.0/22", blockSize: 24 });

  it("claims the 4 blocks in ascending order for the first 4 nodes, each getting ordinal 0", () => {
    assert.deepEqual(
      ipam.blocks().map((b) => [b.cidr, b.affinity]),
      [
        ["10.233.64.0/24", "worker-3"],
        ["10.233.65.0/24", "worker-1"],
        ["10.233.66.0/24", "worker-2"],
        ["10.233.67.0/24", "worker-4"],
      ],
    );
    assert.equal(tunnels.get("worker-3"), "10.233.64.0");
    assert.equal(tunnels.get("worker-1"), "10.233.65.0");
    assert.equal(tunnels.get("worker-2"), "10.233.66.0");
    assert.equal(tunnels.get("worker-4"), "10.233.67.0");
  });

  it("makes the last 3 nodes, cp-1 included, borrow from worker-3's block", () => {
    assert.deepEqual(ipam.borrowed(), [
      { address: "10.233.64.1", handle: "ipip-tunnel-addr-worker-5", block: "10.233.64.0/24", owner: "worker-3", usedBy: "worker-5" },
      { address: "10.233.64.2", handle: "ipip-tunnel-addr-worker-6", block: "10.233.64.0/24", owner: "worker-3", usedBy: "worker-6" },
      { address: "10.233.64.3", handle: "ipip-tunnel-addr-cp-1", block: "10.233.64.0/24", owner: "worker-3", usedBy: "cp-1" },
    ]);
    assert.equal(tunnels.get("cp-1"), "10.233.64.3");
    assert.equal(ipam.owner("10.233.64.3"), "worker-3");
    assert.deepEqual(ipam.lookup("10.233.64.3"), {
      block: "10.233.64.0/24",
      handle: "ipip-tunnel-addr-cp-1",
      affinity: "worker-3",
      usedBy: "cp-1",
    });
    assert.deepEqual(ipam.affinities("cp-1"), []);
    assert.deepEqual(ipam.affinities("worker-3"), ["10.233.64.0/24"]);
  });

  it("shows the blocks as calicoctl would: allocations and free counts", () => {
    const [w3, w1] = ipam.blocks();
    assert.deepEqual(w3, {
      cidr: "10.233.64.0/24",
      affinity: "worker-3",
      allocations: [
        { address: "10.233.64.0", handle: "ipip-tunnel-addr-worker-3" },
        { address: "10.233.64.1", handle: "ipip-tunnel-addr-worker-5" },
        { address: "10.233.64.2", handle: "ipip-tunnel-addr-worker-6" },
        { address: "10.233.64.3", handle: "ipip-tunnel-addr-cp-1" },
      ],
      free: 252,
    });
    assert.equal(w1?.free, 255);
    assert.deepEqual(ipam.overlappingAffinities(), []);
  });

  it("reports borrowed: true on the allocation itself", () => {
    const copy = bootCluster({ pool: "10.233.64.0/22", blockSize: 24 }).ipam;
    assert.deepEqual(copy.autoAssign("worker-1", podHandle("abc")), { address: "10.233.65.1", block: "10.233.65.0/24", borrowed: false });
    assert.deepEqual(copy.autoAssign("cp-1", podHandle("def")), { address: "10.233.64.4", block: "10.233.64.0/24", borrowed: true });
  });
});

describe("CalicoIpam: the fix (/25 blocks)", () => {
  it("gives each of the 7 nodes its own block and borrows nothing", () => {
    const { ipam, tunnels } = bootCluster({ pool: "10.233.64.0/22", blockSize: 25 });
    assert.deepEqual(ipam.borrowed(), []);
    assert.equal(ipam.blocks().length, 7);
    assert.deepEqual(Object.fromEntries(tunnels), {
      "worker-3": "10.233.64.0",
      "worker-1": "10.233.64.128",
      "worker-2": "10.233.65.0",
      "worker-4": "10.233.65.128",
      "worker-5": "10.233.66.0",
      "worker-6": "10.233.66.128",
      "cp-1": "10.233.67.0",
    });
    assert.equal(ipam.owner("10.233.67.0"), "cp-1");
    assert.equal(ipam.owner("10.233.67.200"), null, "the 8th block is unclaimed");
  });
});

describe("CalicoIpam: exhaustion", () => {
  it("with strict affinity, refuses the 5th node once the 4 blocks are claimed", () => {
    const ipam = new CalicoIpam({ pool: "10.233.64.0/22", blockSize: 24, strictAffinity: true });
    for (const n of ["worker-3", "worker-1", "worker-2", "worker-4"]) ipam.autoAssign(n, tunnelHandle(n));
    const err = thrown(() => ipam.autoAssign("worker-5", tunnelHandle("worker-5")));
    assert.ok(err instanceof FaultlineError);
    assert.equal(
      err.message,
      `pool 10.233.64.0/22 exhausted for node "worker-5": all 4 blocks of /24 are claimed and strict affinity forbids borrowing from other nodes' blocks`,
    );
    assert.match(err.hint ?? "", /pod subnet more room.*smaller blocks/);
    assert.deepEqual(ipam.borrowed(), []);
    assert.equal(ipam.lookup("10.233.64.1"), null, "nothing was allocated by the failed call");
  });

  it("with strict affinity, a node still fills its own block to the last address", () => {
    const ipam = new CalicoIpam({ pool: "10.0.0.0/24", blockSize: 24, strictAffinity: true });
    const last = Array.from({ length: 256 }, (_, i) => ipam.autoAssign("a", `h${i}`)).at(-1);
    assert.deepEqual(last, { address: "10.0.0.255", block: "10.0.0.0/24", borrowed: false });
    assert.match(thrown(() => ipam.autoAssign("a", "h256")).message, /^pool 10\.0\.0\.0\/24 exhausted for node "a"/);
  });

  it("without strict affinity, borrows until every address is used, then fails", () => {
    const ipam = new CalicoIpam({ pool: "10.0.0.0/23", blockSize: 24 });
    ipam.autoAssign("a", "a0");
    ipam.autoAssign("b", "b0");
    for (let i = 1; i < 256; i++) ipam.autoAssign("a", `a${i}`);
    // a's block is full and no block is unclaimed: a borrows from b's.
    assert.deepEqual(ipam.autoAssign("a", "a256"), { address: "10.0.1.1", block: "10.0.1.0/24", borrowed: true });
    for (let i = 2; i < 256; i++) ipam.autoAssign("c", `c${i}`);
    const err = thrown(() => ipam.autoAssign("c", "one-too-many"));
    assert.ok(err instanceof FaultlineError);
    assert.equal(err.message, `pool 10.0.0.0/23 exhausted: all 512 addresses are in use, none left for node "c"`);
    assert.ok(err.hint);
  });

  it("claims a new block per address with /32 blocks", () => {
    const ipam = new CalicoIpam({ pool: "10.0.0.0/30", blockSize: 32 });
    assert.deepEqual(ipam.autoAssign("a", "a0"), { address: "10.0.0.0", block: "10.0.0.0/32", borrowed: false });
    assert.deepEqual(ipam.autoAssign("a", "a1"), { address: "10.0.0.1", block: "10.0.0.1/32", borrowed: false });
    assert.deepEqual(ipam.affinities("a"), ["10.0.0.0/32", "10.0.0.1/32"]);
  });
});

describe("CalicoIpam: release", () => {
  it("hands a released address out again only after the never-used ones (Calico appends it to the free list)", () => {
    const { ipam } = bootCluster({ pool: "10.233.64.0/22", blockSize: 24 });
    ipam.release("10.233.64.1");
    assert.equal(ipam.lookup("10.233.64.1"), null);
    assert.equal(ipam.owner("10.233.64.1"), "worker-3", "the block keeps its affinity");
    assert.deepEqual(ipam.autoAssign("worker-3", podHandle("p1")), { address: "10.233.64.4", block: "10.233.64.0/24", borrowed: false });
    for (let i = 5; i < 256; i++) ipam.autoAssign("worker-3", podHandle(`q${i}`));
    assert.deepEqual(ipam.autoAssign("worker-3", podHandle("reuse")), { address: "10.233.64.1", block: "10.233.64.0/24", borrowed: false });
  });

  it("is a no-op for a free address and an error outside the pool", () => {
    const { ipam } = bootCluster({ pool: "10.233.64.0/22", blockSize: 24 });
    const before = JSON.stringify(ipam);
    ipam.release("10.233.65.77");
    assert.equal(JSON.stringify(ipam), before);
    assert.match(thrown(() => ipam.release("10.0.0.1")).message, /not in the pool 10\.233\.64\.0\/22/);
    assert.match(thrown(() => ipam.release("10.233.64.300")).message, /not an IPv4 address/);
  });

  it("releaseNode deletes an emptied block, so the next node claims it fresh", () => {
    const { ipam } = bootCluster({ pool: "10.233.64.0/22", blockSize: 24 });
    ipam.releaseNode("worker-4");
    assert.deepEqual(ipam.affinities("worker-4"), []);
    assert.deepEqual(ipam.blocks().map((b) => b.cidr), ["10.233.64.0/24", "10.233.65.0/24", "10.233.66.0/24"]);
    assert.deepEqual(ipam.autoAssign("worker-7", tunnelHandle("worker-7")), { address: "10.233.67.0", block: "10.233.67.0/24", borrowed: false });
  });

  it("releaseNode leaves a block others still use without affinity; its addresses become borrowed from nobody", () => {
    const { ipam } = bootCluster({ pool: "10.233.64.0/22", blockSize: 24 });
    ipam.releaseNode("worker-3");
    assert.equal(ipam.lookup("10.233.64.0"), null);
    assert.equal(ipam.owner("10.233.64.3"), null);
    assert.deepEqual(
      ipam.borrowed().map((b) => [b.address, b.owner, b.usedBy]),
      [
        ["10.233.64.1", null, "worker-5"],
        ["10.233.64.2", null, "worker-6"],
        ["10.233.64.3", null, "cp-1"],
      ],
    );
    // No unclaimed block: a new node borrows, first from the block's free list (ordinals 4.., then 0).
    assert.deepEqual(ipam.autoAssign("worker-7", tunnelHandle("worker-7")), { address: "10.233.64.4", block: "10.233.64.0/24", borrowed: true });
    // When the last user goes, the affinity-less block is deleted.
    for (const n of ["worker-5", "worker-6", "cp-1", "worker-7"]) ipam.releaseNode(n);
    assert.deepEqual(ipam.blocks().map((b) => b.cidr), ["10.233.65.0/24", "10.233.66.0/24", "10.233.67.0/24"]);
  });
});

describe("CalicoIpam: validation (what Calico's IPPool validation refuses)", () => {
  it("refuses a pool smaller than one block", () => {
    const err = thrown(() => new CalicoIpam({ pool: "10.0.0.0/26", blockSize: 24 }));
    assert.ok(err instanceof FaultlineError);
    assert.equal(err.message, "the pool 10.0.0.0/26 is too small for even one /24 block");
    assert.match(err.hint ?? "", /pod subnet of \/24 or larger, or a block size of \/26 or longer/);
  });

  it("accepts a pool of exactly one block", () => {
    assert.equal(new CalicoIpam({ pool: "10.0.0.0/24", blockSize: 24 }).autoAssign("a", "h").address, "10.0.0.0");
  });

  for (const bad of [19, 33, 0, 24.5, Number.NaN]) {
    it(`refuses block size ${bad} (Calico: IPv4 block size must be between 20 and 32)`, () => {
      const err = thrown(() => new CalicoIpam({ pool: "10.0.0.0/8", blockSize: bad }));
      assert.ok(err instanceof FaultlineError);
      assert.equal(err.message, `block size ${bad} is not valid: Calico accepts IPv4 block sizes from /20 to /32`);
      assert.match(err.hint ?? "", /calico_pool_blocksize.*default is 26/);
    });
  }

  it("refuses a pool that is not a strictly masked IPv4 CIDR, or is link-local", () => {
    assert.match(thrown(() => new CalicoIpam({ pool: "10.233.64.0", blockSize: 24 })).message, /^the Calico IP pool "10\.233\.64\.0" is not an IPv4 CIDR/);
    const hostBits = thrown(() => new CalicoIpam({ pool: "10.233.64.1/22", blockSize: 24 }));
    assert.match(hostBits.message, /has host bits set/);
    assert.match(hostBits.hint ?? "", /10\.233\.64\.0\/22/);
    assert.match(thrown(() => new CalicoIpam({ pool: "169.254.0.0/20", blockSize: 24 })).message, /link-local/);
  });

  it("refuses empty node or handle names", () => {
    const ipam = new CalicoIpam({ pool: "10.0.0.0/24", blockSize: 26 });
    assert.match(thrown(() => ipam.autoAssign("", "h")).message, /node must be a non-empty string/);
    assert.match(thrown(() => ipam.autoAssign("a", "")).message, /handle must be a non-empty string/);
  });
});
