import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FaultlineError } from "../../../../server/errors.js";
import { podHandle } from "../../../../server/sim/ipam/handles.js";
import { CalicoIpam } from "../../../../server/sim/ipam/ipam.js";
import { bootCluster, thrown } from "./fixtures.js";

/** A small valid state to break one field at a time. */
function sample(): Record<string, unknown> & { blocks: Array<Record<string, unknown>> } {
  return {
    version: 1,
    pool: "10.0.0.0/23",
    blockSize: 24,
    strictAffinity: false,
    affinities: { a: ["10.0.0.0/24"] },
    blocks: [
      {
        cidr: "10.0.0.0/24",
        affinity: "a",
        allocations: [
          { address: "10.0.0.0", handle: "ipip-tunnel-addr-a", node: "a" },
          { address: "10.0.0.1", handle: "ipip-tunnel-addr-b", node: "b" },
        ],
      },
    ],
  };
}

describe("CalicoIpam toJSON/fromJSON", () => {
  it("round-trips the flagship state through JSON text, including Calico's free-list order", () => {
    const { ipam } = bootCluster({ pool: "10.233.64.0/22", blockSize: 24 });
    ipam.release("10.233.64.1");
    const copy = CalicoIpam.fromJSON(JSON.parse(JSON.stringify(ipam)));
    assert.deepEqual(copy.toJSON(), ipam.toJSON());
    assert.deepEqual(copy.blocks(), ipam.blocks());
    assert.deepEqual(copy.borrowed(), ipam.borrowed());
    assert.deepEqual(copy.affinities("worker-3"), ["10.233.64.0/24"]);
    // Both hand out the same next addresses: .4 first, the released .1 only at the end.
    assert.deepEqual(copy.autoAssign("worker-3", podHandle("x")), ipam.autoAssign("worker-3", podHandle("x")));
    assert.equal(copy.lookup("10.233.64.4")?.handle, "k8s-pod-network.x");
    const json = ipam.toJSON();
    assert.equal(json.blocks[0]?.unallocated?.at(-1), 1, "released ordinal 1 sits at the end of the free list");
  });

  it("keeps per-node claim order and strictAffinity", () => {
    const ipam = new CalicoIpam({ pool: "10.0.0.0/22", blockSize: 24, strictAffinity: true });
    ipam.autoAssign("b", "b0");
    ipam.autoAssign("a", "a0");
    for (let i = 1; i <= 256; i++) ipam.autoAssign("b", `b${i}`); // b's 257th address claims a second block
    assert.deepEqual(ipam.affinities("b"), ["10.0.0.0/24", "10.0.2.0/24"]);
    const copy = CalicoIpam.fromJSON(ipam.toJSON());
    assert.equal(copy.strictAffinity, true);
    assert.deepEqual(copy.affinities("b"), ["10.0.0.0/24", "10.0.2.0/24"]);
  });

  it("derives affinities and free lists when a hand-written fixture omits them", () => {
    const data = sample();
    delete data["affinities"];
    const ipam = CalicoIpam.fromJSON(data);
    assert.deepEqual(ipam.affinities("a"), ["10.0.0.0/24"]);
    assert.deepEqual(ipam.autoAssign("a", "next"), { address: "10.0.0.2", block: "10.0.0.0/24", borrowed: false });
    assert.deepEqual(ipam.borrowed().map((b) => b.usedBy), ["b"]);
  });

  it("names the path of a malformed field (schema)", () => {
    const data = sample();
    (data.blocks[0]!["allocations"] as Array<Record<string, unknown>>)[1]!["address"] = 42;
    const err = thrown(() => CalicoIpam.fromJSON(data));
    assert.ok(err instanceof FaultlineError);
    assert.match(err.message, /^IPAM state: blocks\[0\]\.allocations\[1\]\.address: /);
    assert.match(err.hint ?? "", /toJSON/);
    assert.match(thrown(() => CalicoIpam.fromJSON("nope")).message, /^IPAM state: \(top level\): /);
    assert.match(thrown(() => CalicoIpam.fromJSON({ ...sample(), version: 2 })).message, /^IPAM state: version: /);
  });

  it("names the path of a field that is well-formed but wrong", () => {
    const cases: Array<[(d: ReturnType<typeof sample>) => void, RegExp]> = [
      [(d) => void (d["pool"] = "10.0.0.0/33"), /^IPAM state: pool: the Calico IP pool "10\.0\.0\.0\/33" is not an IPv4 CIDR/],
      [(d) => void (d["blockSize"] = 19), /^IPAM state: blockSize: block size 19 is not valid/],
      [(d) => void (d.blocks[0]!["cidr"] = "10.0.4.0/24"), /^IPAM state: blocks\[0\]\.cidr: 10\.0\.4\.0\/24 is not a block of the pool 10\.0\.0\.0\/23/],
      [
        (d) => void ((d.blocks[0]!["allocations"] as Array<Record<string, unknown>>)[1]!["address"] = "10.0.1.7"),
        /^IPAM state: blocks\[0\]\.allocations\[1\]\.address: 10\.0\.1\.7 is outside the block 10\.0\.0\.0\/24/,
      ],
      [(d) => void (d["affinities"] = { b: ["10.0.0.0/24"] }), /^IPAM state: affinities\.b\[0\]: block 10\.0\.0\.0\/24 has affinity "a", not "b"/],
      [(d) => void (d["affinities"] = {}), /^IPAM state: blocks\[0\]\.affinity: block 10\.0\.0\.0\/24 is affine to "a" but affinities\.a does not list it/],
      [(d) => void (d.blocks[0]!["unallocated"] = [2, 3, 0]), /^IPAM state: blocks\[0\]\.unallocated\[2\]: ordinal 0 \(10\.0\.0\.0\) is allocated/],
      [(d) => void (d.blocks[0]!["unallocated"] = [2, 3]), /^IPAM state: blocks\[0\]\.unallocated: lists 2 free ordinals, but 254 addresses of the block are free/],
      [(d) => void d.blocks.push({ ...d.blocks[0]! }), /^IPAM state: blocks\[1\]\.cidr: 10\.0\.0\.0\/24 is listed twice \(also blocks\[0\]\)/],
    ];
    for (const [breakIt, expected] of cases) {
      const data = sample();
      breakIt(data);
      assert.match(thrown(() => CalicoIpam.fromJSON(data)).message, expected);
    }
  });

  it("imports leftover blocks of another size, and overlappingAffinities reports them", () => {
    const ipam = CalicoIpam.fromJSON({
      version: 1,
      pool: "10.0.0.0/16",
      blockSize: 25,
      blocks: [
        { cidr: "10.0.0.0/24", affinity: "old-node", allocations: [{ address: "10.0.0.200", handle: "h1", node: "old-node" }] },
        { cidr: "10.0.0.0/25", affinity: "new-node", allocations: [{ address: "10.0.0.0", handle: "h2", node: "new-node" }] },
      ],
    });
    assert.deepEqual(ipam.overlappingAffinities(), [{ a: "old-node", b: "new-node", cidr: "10.0.0.0/25" }]);
    assert.equal(ipam.owner("10.0.0.5"), "new-node", "the most specific block wins, as in routing");
    assert.equal(ipam.owner("10.0.0.200"), "old-node");
    // A new claim skips both: the first free /25 is 10.0.1.0/25.
    assert.deepEqual(ipam.autoAssign("third", "h3"), { address: "10.0.1.0", block: "10.0.1.0/25", borrowed: false });
  });
});
