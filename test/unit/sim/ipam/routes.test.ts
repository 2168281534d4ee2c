import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FaultlineError } from "../../../../server/errors.js";
import { podHandle } from "../../../../server/sim/ipam/handles.js";
import { CalicoIpam } from "../../../../server/sim/ipam/ipam.js";
import { calicoRoutes } from "../../../../server/sim/ipam/routes.js";
import { bootCluster, nodeAddrs, thrown } from "./fixtures.js";

describe("calicoRoutes: flagship (/24 blocks, cp-1's tunnel address borrowed from worker-3)", () => {
  const { ipam, tunnels } = bootCluster({ pool: "10.233.64.0/22", blockSize: 24 });
  const nodes = nodeAddrs(tunnels);

  it("programs on worker-3 the blackhole covering cp-1's tunnel address and no /32 for it", () => {
    const routes = calicoRoutes(ipam, nodes, { routeBorrowedTunnels: false });
    assert.deepEqual(routes.get("worker-3"), [
      { dst: "10.233.64.0/24", type: "blackhole", proto: "bird" },
      { dst: "10.233.65.0/24", via: "192.168.10.11", src: "10.233.64.0", proto: "bird" },
      { dst: "10.233.66.0/24", via: "192.168.10.12", src: "10.233.64.0", proto: "bird" },
      { dst: "10.233.67.0/24", via: "192.168.10.14", src: "10.233.64.0", proto: "bird" },
    ]);
    assert.equal(tunnels.get("cp-1"), "10.233.64.3");
    for (const [node, list] of routes) assert.ok(!list.some((r) => r.dst.endsWith("/32")), `no /32 on ${node}`);
  });

  it("routes worker-3's block via worker-3 everywhere else, with each node's tunnel address as src", () => {
    const routes = calicoRoutes(ipam, nodes, { routeBorrowedTunnels: false });
    assert.deepEqual(routes.get("cp-1"), [
      { dst: "10.233.64.0/24", via: "192.168.10.13", src: "10.233.64.3", proto: "bird" },
      { dst: "10.233.65.0/24", via: "192.168.10.11", src: "10.233.64.3", proto: "bird" },
      { dst: "10.233.66.0/24", via: "192.168.10.12", src: "10.233.64.3", proto: "bird" },
      { dst: "10.233.67.0/24", via: "192.168.10.14", src: "10.233.64.3", proto: "bird" },
    ]);
    assert.deepEqual([...routes.keys()], ["cp-1", "worker-1", "worker-2", "worker-3", "worker-4", "worker-5", "worker-6"]);
  });

  it("with routeBorrowedTunnels (Calico's fix), adds the /32 that beats worker-3's blackhole", () => {
    const routes = calicoRoutes(ipam, nodes, { routeBorrowedTunnels: true });
    const w3 = routes.get("worker-3")!;
    assert.deepEqual(w3.slice(0, 4), [
      { dst: "10.233.64.0/24", type: "blackhole", proto: "bird" },
      { dst: "10.233.64.1/32", via: "192.168.10.15", src: "10.233.64.0", proto: "bird" },
      { dst: "10.233.64.2/32", via: "192.168.10.16", src: "10.233.64.0", proto: "bird" },
      { dst: "10.233.64.3/32", via: "192.168.10.10", src: "10.233.64.0", proto: "bird" },
    ]);
    assert.equal(w3.length, 7);
    // Nothing for an address on the node that uses it.
    assert.ok(!routes.get("cp-1")!.some((r) => r.dst === "10.233.64.3/32"));
    assert.deepEqual(routes.get("worker-1")!.find((r) => r.dst === "10.233.64.3/32"), {
      dst: "10.233.64.3/32",
      via: "192.168.10.10",
      src: "10.233.65.0",
      proto: "bird",
    });
  });

  it("always routes borrowed workload (pod) addresses as /32s, whatever routeBorrowedTunnels says", () => {
    const withPod = bootCluster({ pool: "10.233.64.0/22", blockSize: 24 });
    const pod = withPod.ipam.autoAssign("worker-6", podHandle("webhook"));
    assert.deepEqual(pod, { address: "10.233.64.4", block: "10.233.64.0/24", borrowed: true });
    const routes = calicoRoutes(withPod.ipam, nodeAddrs(withPod.tunnels), { routeBorrowedTunnels: false });
    assert.deepEqual(routes.get("worker-3")!.filter((r) => r.dst.endsWith("/32")), [
      { dst: "10.233.64.4/32", via: "192.168.10.16", src: "10.233.64.0", proto: "bird" },
    ]);
    assert.equal(routes.get("worker-6")!.filter((r) => r.dst.endsWith("/32")).length, 0);
  });
});

describe("calicoRoutes: other shapes", () => {
  it("with /25 blocks, gives every node one blackhole and 6 block routes, no /32", () => {
    const { ipam, tunnels } = bootCluster({ pool: "10.233.64.0/22", blockSize: 25 });
    const routes = calicoRoutes(ipam, nodeAddrs(tunnels), { routeBorrowedTunnels: false });
    assert.deepEqual(routes.get("cp-1")!.filter((r) => r.type === "blackhole"), [{ dst: "10.233.67.0/25", type: "blackhole", proto: "bird" }]);
    for (const list of routes.values()) {
      assert.equal(list.length, 7);
      assert.equal(list.filter((r) => r.type === "blackhole").length, 1);
    }
  });

  it("omits src for a node without a tunnel address", () => {
    const ipam = new CalicoIpam({ pool: "10.0.0.0/24", blockSize: 26 });
    ipam.autoAssign("a", "h");
    const routes = calicoRoutes(
      ipam,
      [
        { name: "a", address: "192.168.1.1", tunnelAddress: "10.0.0.0" },
        { name: "b", address: "192.168.1.2", tunnelAddress: null },
      ],
      { routeBorrowedTunnels: false },
    );
    assert.deepEqual(routes.get("b"), [{ dst: "10.0.0.0/26", via: "192.168.1.1", proto: "bird" }]);
  });

  it("puts no blackhole on a /32 block (confd skips them) but routes it from elsewhere", () => {
    const ipam = new CalicoIpam({ pool: "10.0.0.0/30", blockSize: 32 });
    ipam.autoAssign("a", "pod-a");
    const routes = calicoRoutes(
      ipam,
      [
        { name: "a", address: "192.168.1.1", tunnelAddress: null },
        { name: "b", address: "192.168.1.2", tunnelAddress: null },
      ],
      { routeBorrowedTunnels: false },
    );
    assert.deepEqual(routes.get("a"), []);
    assert.deepEqual(routes.get("b"), [{ dst: "10.0.0.0/32", via: "192.168.1.1", proto: "bird" }]);
  });

  it("routes addresses of an affinity-less block one by one and advertises the block nowhere", () => {
    const { ipam, tunnels } = bootCluster({ pool: "10.233.64.0/22", blockSize: 24 });
    ipam.releaseNode("worker-3");
    tunnels.delete("worker-3");
    const nodes = nodeAddrs(tunnels).filter((n) => n.name !== "worker-3");
    const routes = calicoRoutes(ipam, nodes, { routeBorrowedTunnels: true });
    assert.deepEqual(
      routes.get("worker-1")!.map((r) => r.dst),
      ["10.233.64.1/32", "10.233.64.2/32", "10.233.64.3/32", "10.233.65.0/24", "10.233.66.0/24", "10.233.67.0/24"],
    );
  });

  it("names the missing node when a block's affinity is not in the node list", () => {
    const { ipam, tunnels } = bootCluster({ pool: "10.233.64.0/22", blockSize: 24 });
    const err = thrown(() => calicoRoutes(ipam, nodeAddrs(tunnels).filter((n) => n.name !== "worker-1"), { routeBorrowedTunnels: false }));
    assert.ok(err instanceof FaultlineError);
    assert.equal(err.message, `calico routes: block 10.233.65.0/24 names node "worker-1", which is not in the node list`);
  });

  it("refuses duplicate nodes and non-IPv4 addresses", () => {
    const ipam = new CalicoIpam({ pool: "10.0.0.0/24", blockSize: 26 });
    const a = { name: "a", address: "192.168.1.1", tunnelAddress: null };
    assert.match(thrown(() => calicoRoutes(ipam, [a, a], { routeBorrowedTunnels: false })).message, /node "a" is listed twice/);
    assert.match(
      thrown(() => calicoRoutes(ipam, [{ ...a, tunnelAddress: "fe80::1" }], { routeBorrowedTunnels: false })).message,
      /^calico routes: nodes\[0\]\.tunnelAddress: "fe80::1" is not an IPv4 address/,
    );
  });
});
