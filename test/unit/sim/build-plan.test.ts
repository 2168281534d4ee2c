/**
 * buildPlan turns a lab's cluster (topology) and kubespray's view of the inventory into addresses,
 * blocks, routes and Services. Inventories are evaluated with the real kubespray evaluator; cluster
 * specs are files under test/fixtures/build-plan/clusters (one per edge case), read through the lab
 * schema so defaults apply as they do for a lab. The flagship test uses the bundled lab itself.
 */
import assert from "node:assert/strict";
import { cp, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { parse as parseYaml } from "yaml";
import { FaultlineError } from "../../../server/errors.js";
import { clusterSchema, loadLabSandboxSpec, type ClusterSpec } from "../../../server/labs/lab.js";
import { projectRoot } from "../../../server/paths.js";
import { buildPlan, calicoRoutesBorrowedTunnels, expandNodes } from "../../../server/sim/build-plan.js";
import { injectInventoryFaults } from "../../../server/sim/faults/index.js";
import { evaluateInventory, type InventoryEvaluation } from "../../../server/sim/kubespray/evaluate.js";
import type { ClusterPlan, PlanNode, RouteSpec } from "../../../server/sim/plan.js";

const FIXTURES = path.join(projectRoot, "test", "fixtures", "build-plan");

/** test/fixtures/build-plan/clusters/<name>.yaml through the lab's cluster schema (defaults applied). */
async function cluster(name: string): Promise<ClusterSpec> {
  return clusterSchema.parse(parseYaml(await readFile(path.join(FIXTURES, "clusters", `${name}.yaml`), "utf8")));
}

/** test/fixtures/build-plan/inventories/<name>, evaluated with kubespray v2.19 semantics. */
function inventory(name: string): Promise<InventoryEvaluation> {
  return evaluateInventory(path.join(FIXTURES, "inventories", name), "v2.19");
}

async function plan(clusterName: string, inventoryName: string): Promise<ClusterPlan> {
  return buildPlan("t", await cluster(clusterName), await inventory(inventoryName));
}

function nodeOf(p: ClusterPlan, name: string): PlanNode {
  const n = p.nodes.find((x) => x.name === name);
  assert.ok(n, `node ${name} is in the plan`);
  return n;
}

/** Asserts a FaultlineError whose message matches `message` (and hint matches `hint`, if given). */
function faultline(message: RegExp, hint?: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof FaultlineError, `a FaultlineError, got ${String(e)}`);
    assert.match(e.message, message);
    if (hint) assert.match(e.hint ?? "", hint);
    return true;
  };
}

const serviceRoute = (src: string): RouteSpec => ({ dst: "10.233.0.0/18", dev: "eth0", scope: "link", src });
const via = (dst: string, gw: string, src: string): RouteSpec => ({ dst, via: gw, dev: "eth0", src, proto: "80" });
const blackhole = (dst: string): RouteSpec => ({ dst, type: "blackhole", proto: "80" });

describe("expandNodes", () => {
  it("expands count into name-1 .. name-N, keeping declaration order and roles", async () => {
    assert.deepEqual(expandNodes(await cluster("services")), [
      { name: "cp-1", role: "control-plane" },
      { name: "worker-1", role: "worker" },
      { name: "worker-2", role: "worker" },
    ]);
  });

  it("refuses a node declared twice once count is expanded, naming it", async () => {
    const spec = await cluster("node-twice-via-count");
    assert.throws(() => expandNodes(spec), faultline(/^cluster\.nodes: node "worker-1" is declared twice$/, /unique name/));
  });
});

describe("calicoRoutesBorrowedTunnels", () => {
  it("is true from Calico v3.30 on, comparing versions as numbers", () => {
    const cases: Array<[string, boolean]> = [
      ["v3.22.3", false], // kubespray v2.19's Calico: the flagship
      ["v3.29.9", false],
      ["v3.3.0", false], // 3 < 30, although "3.3" > "3.29" as text
      ["v3.30.0", true],
      ["3.30.1", true],
      ["v3.31.0", true],
      ["v4.0.0", true],
      ["master", false],
      ["", false],
    ];
    for (const [version, want] of cases) assert.equal(calicoRoutesBorrowedTunnels(version), want, version);
  });
});

describe("buildPlan: the flagship lab webhook-to-kernel", () => {
  /** The lab as a sandbox builds it: the workspace's inventory with the lab's inventory faults injected. */
  async function build(opts: { faults: boolean }): Promise<{ plan: ClusterPlan; ev: InventoryEvaluation }> {
    const lab = await loadLabSandboxSpec("webhook-to-kernel");
    const tmp = await mkdtemp(path.join(os.tmpdir(), "faultline-build-plan-"));
    try {
      const inv = path.join(tmp, "inventory");
      await cp(path.join(lab.workspaceDir, lab.inventoryInWorkspace), inv, { recursive: true });
      if (opts.faults) await injectInventoryFaults(lab.faults, inv);
      const ev = await evaluateInventory(inv, lab.cluster.kubespray);
      return { plan: buildPlan(lab.id, lab.cluster, ev), ev };
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  // Built once per variant: the tests only read the plan.
  const built = new Map<boolean, Promise<{ plan: ClusterPlan; ev: InventoryEvaluation }>>();
  const flagship = (opts: { faults: boolean }) => {
    if (!built.has(opts.faults)) built.set(opts.faults, build(opts));
    return built.get(opts.faults)!;
  };

  const WORKER_3 = "192.168.10.13";

  it("with the typo injected: four /24 blocks, claimed in blockClaimOrder", async () => {
    const { plan: p, ev } = await flagship({ faults: true });
    assert.equal(ev.blockSize, 24, "kube_network_node_prefix is ignored, so kubespray v2.19's default /24 applies");
    assert.equal(p.blockSize, 24);
    assert.equal(p.podsSubnet, "10.233.64.0/22");
    assert.equal(p.calicoVersion, "v3.22.3");
    assert.equal(p.routesBorrowedTunnels, false);
    assert.deepEqual(
      p.blocks.map((b) => [b.cidr, b.affinity]),
      [
        ["10.233.64.0/24", "worker-3"],
        ["10.233.65.0/24", "worker-1"],
        ["10.233.66.0/24", "worker-2"],
        ["10.233.67.0/24", "worker-4"],
      ],
    );
    assert.deepEqual(
      p.nodes.map((n) => [n.name, n.role, n.address, n.tunnelAddress, n.tunnelBorrowed, n.blocks]),
      [
        ["cp-1", "control-plane", "192.168.10.10", "10.233.64.3", true, []],
        ["worker-1", "worker", "192.168.10.11", "10.233.65.0", false, ["10.233.65.0/24"]],
        ["worker-2", "worker", "192.168.10.12", "10.233.66.0", false, ["10.233.66.0/24"]],
        ["worker-3", "worker", "192.168.10.13", "10.233.64.0", false, ["10.233.64.0/24"]],
        ["worker-4", "worker", "192.168.10.14", "10.233.67.0", false, ["10.233.67.0/24"]],
        // worker-5, worker-6 and cp-1 start after the four blocks are gone: they borrow from the lowest.
        ["worker-5", "worker", "192.168.10.15", "10.233.64.1", true, []],
        ["worker-6", "worker", "192.168.10.16", "10.233.64.2", true, []],
      ],
    );
    assert.deepEqual(
      p.blocks[0]!.allocations.slice(0, 4),
      [
        { address: "10.233.64.0", handle: "vxlan-tunnel-addr-worker-3" },
        { address: "10.233.64.1", handle: "vxlan-tunnel-addr-worker-5" },
        { address: "10.233.64.2", handle: "vxlan-tunnel-addr-worker-6" },
        { address: "10.233.64.3", handle: "vxlan-tunnel-addr-cp-1" },
      ],
    );
  });

  it("worker-3 blackholes its block and has no route for cp-1's borrowed tunnel address", async () => {
    const { plan: p } = await flagship({ faults: true });
    const w3 = nodeOf(p, "worker-3");
    assert.deepEqual(w3.routes[0], blackhole("10.233.64.0/24"));
    const dsts = w3.routes.map((r) => r.dst);
    // Calico v3.22 programs no /32 for borrowed tunnel addresses: replies to cp-1 die in the blackhole.
    for (const tunnel of ["10.233.64.1/32", "10.233.64.2/32", "10.233.64.3/32"]) assert.ok(!dsts.includes(tunnel), `no route for ${tunnel}`);
    assert.equal(w3.routes.filter((r) => r.type === "blackhole").length, 1);
  });

  it("every other node routes 10.233.64.0/24 via worker-3, from its own tunnel address", async () => {
    const { plan: p } = await flagship({ faults: true });
    for (const n of p.nodes.filter((x) => x.name !== "worker-3")) {
      const r = n.routes.filter((x) => x.dst === "10.233.64.0/24");
      assert.deepEqual(r, [via("10.233.64.0/24", WORKER_3, n.tunnelAddress!)], n.name);
      assert.ok(!n.routes.some((x) => x.type === "blackhole" && x.dst === "10.233.64.0/24"), `${n.name} has no blackhole for worker-3's block`);
    }
    // cp-1's route to worker-1's block, written out: the route the trainee reads with `ip route`.
    assert.ok(nodeOf(p, "cp-1").routes.some((r) => JSON.stringify(r) === JSON.stringify(via("10.233.65.0/24", "192.168.10.11", "10.233.64.3"))));
  });

  it("borrowed pod addresses get a /32 via the node using them everywhere else", async () => {
    const { plan: p } = await flagship({ faults: true });
    const autoscaler = p.pods.find((x) => x.name.startsWith("dns-autoscaler"))!;
    // Pods are assigned in list order after every tunnel address: worker-3's block holds .0-.4 by then.
    assert.deepEqual([autoscaler.node, autoscaler.address, autoscaler.borrowed], ["worker-5", "10.233.64.5", true]);
    const w3 = nodeOf(p, "worker-3");
    assert.ok(w3.routes.some((r) => JSON.stringify(r) === JSON.stringify(via("10.233.64.5/32", "192.168.10.15", "10.233.64.0"))));
    assert.ok(!nodeOf(p, "worker-5").routes.some((r) => r.dst === "10.233.64.5/32"), "the node using the address has its dev route only (rendered later)");
  });

  it("every node reaches the service range on eth0 from its tunnel address", async () => {
    const { plan: p } = await flagship({ faults: true });
    assert.equal(p.serviceCidr, "10.233.0.0/18");
    for (const n of p.nodes) assert.deepEqual(n.routes.at(-1), serviceRoute(n.tunnelAddress!), n.name);
  });

  it("pods: addresses in list order, netns and Calico interface names", async () => {
    const { plan: p } = await flagship({ faults: true });
    const controller = p.pods[0]!;
    assert.deepEqual(controller, {
      namespace: "metallb-system",
      name: "controller-7d9cf7f8b-x2kqv",
      node: "worker-3",
      address: "10.233.64.4",
      borrowed: false,
      netns: "pod_metallb-system_controller-7d9cf7f8b-x2kqv",
      hostIface: "cali26f894c0d7f", // printf 'metallb-system.controller-7d9cf7f8b-x2kqv' | sha1sum
      labels: { app: "metallb", component: "controller" },
    });
    assert.deepEqual(
      p.pods.map((x) => [x.node, x.address, x.borrowed]),
      [
        ["worker-3", "10.233.64.4", false],
        ["worker-1", "10.233.65.1", false],
        ["worker-2", "10.233.66.1", false],
        ["worker-4", "10.233.67.1", false],
        ["worker-5", "10.233.64.5", true],
        ["worker-1", "10.233.65.2", false],
        ["worker-2", "10.233.66.2", false],
        ["worker-4", "10.233.67.2", false],
        ["worker-5", "10.233.64.6", true],
        ["worker-5", "10.233.64.7", true],
        ["worker-6", "10.233.64.8", true],
        ["worker-6", "10.233.64.9", true],
        ["worker-3", "10.233.64.10", false],
      ],
    );
  });

  it("Services: explicit ClusterIPs kept, the webhook's allocated from .10, endpoints from selectors and nodeEndpoints", async () => {
    const { plan: p } = await flagship({ faults: true });
    assert.deepEqual(p.services, [
      { namespace: "default", name: "kubernetes", clusterIP: "10.233.0.1", ports: [{ name: "https", port: 443, targetPort: 6443, protocol: "TCP" }], selector: {}, endpoints: ["192.168.10.10"] },
      {
        namespace: "kube-system",
        name: "coredns",
        clusterIP: "10.233.0.3",
        ports: [
          { name: "dns", port: 53, targetPort: 53, protocol: "UDP" },
          { name: "dns-tcp", port: 53, targetPort: 53, protocol: "TCP" },
        ],
        selector: { "k8s-app": "kube-dns" },
        endpoints: ["10.233.65.1", "10.233.66.1"],
      },
      // selector {component: controller} picks the controller, not the speaker-test pod beside it.
      { namespace: "metallb-system", name: "metallb-webhook-service", clusterIP: "10.233.0.10", ports: [{ name: undefined, port: 443, targetPort: 9443, protocol: "TCP" }], selector: { component: "controller" }, endpoints: ["10.233.64.4"] },
      { namespace: "default", name: "hello-world", clusterIP: "10.233.0.11", ports: [{ name: "http", port: 80, targetPort: 8080, protocol: "TCP" }], selector: { app: "hello-world" }, endpoints: ["10.233.64.7", "10.233.64.8"] },
    ]);
  });

  it("with the inventory as the lab wrote it (no typo): one /25 per node, nobody borrows", async () => {
    const { plan: p } = await flagship({ faults: false });
    assert.equal(p.blockSize, 25);
    assert.equal(p.blocks.length, 7);
    assert.ok(p.nodes.every((n) => !n.tunnelBorrowed && n.blocks.length === 1), "every node owns a block");
    assert.ok(p.pods.every((x) => !x.borrowed), "no pod borrows");
    assert.equal(nodeOf(p, "cp-1").tunnelAddress, "10.233.67.0"); // cp-1 starts last: the 7th /25
    assert.deepEqual(nodeOf(p, "worker-3").routes[0], blackhole("10.233.64.0/25"));
  });
});

describe("buildPlan: who programs the routes", () => {
  it("Felix in VXLAN mode (kubespray's default since v2.19): proto 80", async () => {
    const p = await plan("borrowed-tunnel", "two-blocks");
    assert.ok(nodeOf(p, "worker-1").routes.filter((r) => r.dst.startsWith("10.233.64.")).every((r) => r.proto === "80"));
  });
  it("BIRD when the inventory sets calico_network_backend: bird: proto bird", async () => {
    const p = await plan("borrowed-tunnel", "two-blocks-bird");
    const w1 = nodeOf(p, "worker-1").routes.filter((r) => r.dst.startsWith("10.233.64."));
    assert.ok(w1.length > 0 && w1.every((r) => r.proto === "bird"), JSON.stringify(w1));
  });
});

describe("buildPlan: a borrowed tunnel address in a small cluster", () => {
  it("routes, node for node, with Calico v3.22 (no /32 for the borrowed tunnel address)", async () => {
    const p = await plan("borrowed-tunnel", "two-blocks");
    assert.equal(p.sandbox, "t");
    assert.equal(p.kubesprayVersion, "v2.19");
    assert.deepEqual(p.nodeNetwork, { cidr: "192.168.10.0/24", gateway: "192.168.10.1", bridge: "br-nodes" });
    assert.deepEqual(
      p.nodes.map((n) => [n.name, n.netns, n.mtu, n.tunnelAddress, n.tunnelBorrowed, n.blocks]),
      [
        ["cp-1", "cp-1", 1500, "10.233.64.1", true, []],
        ["worker-1", "worker-1", 1500, "10.233.64.0", false, ["10.233.64.0/25"]],
        ["worker-2", "worker-2", 1500, "10.233.64.128", false, ["10.233.64.128/25"]],
      ],
    );
    assert.deepEqual(
      p.pods.map((x) => [x.name, x.node, x.address, x.borrowed]),
      [
        ["a", "worker-1", "10.233.64.2", false],
        ["b", "worker-2", "10.233.64.129", false],
        ["c", "cp-1", "10.233.64.3", true],
      ],
    );
    assert.deepEqual(nodeOf(p, "cp-1").routes, [
      via("10.233.64.0/25", "192.168.10.11", "10.233.64.1"),
      via("10.233.64.128/25", "192.168.10.12", "10.233.64.1"),
      serviceRoute("10.233.64.1"),
    ]);
    assert.deepEqual(nodeOf(p, "worker-1").routes, [
      blackhole("10.233.64.0/25"),
      via("10.233.64.3/32", "192.168.10.10", "10.233.64.0"), // pod c, borrowed by cp-1
      via("10.233.64.128/25", "192.168.10.12", "10.233.64.0"),
      serviceRoute("10.233.64.0"),
    ]);
    assert.deepEqual(nodeOf(p, "worker-2").routes, [
      via("10.233.64.0/25", "192.168.10.11", "10.233.64.128"),
      via("10.233.64.3/32", "192.168.10.10", "10.233.64.128"),
      blackhole("10.233.64.128/25"),
      serviceRoute("10.233.64.128"),
    ]);
    assert.deepEqual(p.services, [
      { namespace: "default", name: "web", clusterIP: "10.233.0.10", ports: [{ name: "http", port: 80, targetPort: 8080, protocol: "TCP" }], selector: { app: "web" }, endpoints: ["10.233.64.2", "10.233.64.129"] },
    ]);
  });

  it("with Calico v3.30 the borrowed tunnel address gets its /32 on the other nodes", async () => {
    const p = await plan("borrowed-tunnel", "two-blocks-calico-v3.30");
    assert.equal(p.calicoVersion, "v3.30.0");
    assert.equal(p.routesBorrowedTunnels, true);
    assert.deepEqual(nodeOf(p, "worker-1").routes, [
      blackhole("10.233.64.0/25"),
      via("10.233.64.1/32", "192.168.10.10", "10.233.64.0"),
      via("10.233.64.3/32", "192.168.10.10", "10.233.64.0"),
      via("10.233.64.128/25", "192.168.10.12", "10.233.64.0"),
      serviceRoute("10.233.64.0"),
    ]);
    assert.ok(nodeOf(p, "worker-2").routes.some((r) => r.dst === "10.233.64.1/32"));
    assert.ok(!nodeOf(p, "cp-1").routes.some((r) => r.dst === "10.233.64.1/32"), "not on cp-1 itself");
  });
});

describe("buildPlan: Services", () => {
  it("allocates ClusterIPs from .10 upwards around explicit ones, in list order", async () => {
    const p = await plan("services", "roomy");
    assert.deepEqual(
      p.services.map((s) => [s.name, s.clusterIP]),
      [
        ["pinned", "10.233.0.11"],
        ["front", "10.233.0.10"],
        ["kubernetes", "10.233.0.1"],
        ["mixed", "10.233.0.12"], // .11 is pinned's, although pinned is listed first and front took .10
        ["nothing-matches", "10.233.0.13"],
        ["no-selector", "10.233.0.14"],
      ],
    );
  });

  it("endpoints: pods of the same namespace matching every selector label, then nodeEndpoints in order", async () => {
    const p = await plan("services", "roomy");
    const addr = (name: string) => p.pods.find((x) => x.name === name)!.address;
    assert.deepEqual(
      [addr("web-1"), addr("web-2"), addr("web-canary"), addr("web-elsewhere")],
      ["10.233.64.129", "10.233.65.1", "10.233.65.2", "10.233.64.130"],
    );
    const eps = Object.fromEntries(p.services.map((s) => [s.name, s.endpoints]));
    assert.deepEqual(eps, {
      pinned: ["10.233.64.129", "10.233.65.1", "10.233.65.2"], // not other/web-elsewhere
      front: ["10.233.64.129", "10.233.65.1"], // tier: front as well
      kubernetes: ["192.168.10.10"],
      mixed: ["10.233.65.2", "192.168.10.12", "192.168.10.10"],
      "nothing-matches": [],
      "no-selector": [], // no selector selects nothing, not every pod
    });
  });

  it("ports: targetPort defaults to port, protocol to TCP", async () => {
    const p = await plan("services", "roomy");
    assert.deepEqual(p.services.find((s) => s.name === "front")!.ports, [
      { name: "http", port: 80, targetPort: 8080, protocol: "TCP" },
      { name: "metrics", port: 9090, targetPort: 9090, protocol: "UDP" },
    ]);
  });
});

describe("buildPlan: node network", () => {
  it("the gateway is .1 and nodes get .10 upwards, up to the address before the broadcast", async () => {
    const p = await plan("node-network-just-enough", "roomy");
    assert.equal(p.nodeNetwork.gateway, "192.168.10.1");
    assert.deepEqual(p.nodes.map((n) => n.address), ["192.168.10.10", "192.168.10.11", "192.168.10.12", "192.168.10.13", "192.168.10.14"]);
  });

  it("refuses a node network too small for the nodes", async () => {
    const spec = await cluster("node-network-too-small");
    const ev = await inventory("roomy");
    assert.throws(() => buildPlan("t", spec, ev), faultline(/^cluster\.nodeNetwork 192\.168\.10\.0\/28 is too small for 6 nodes$/, /use a \/24/));
  });
});

describe("buildPlan: errors name the key and the node", () => {
  async function refuses(clusterName: string, message: RegExp, hint?: RegExp): Promise<void> {
    const spec = await cluster(clusterName);
    const ev = await inventory("roomy");
    assert.throws(() => buildPlan("t", spec, ev), faultline(message, hint));
  }

  it("a pod on a node that does not exist", () =>
    refuses("pod-on-unknown-node", /^cluster\.pods: pod default\/web is on node "worker-9", which does not exist$/, /^nodes are cp-1, worker-1, worker-2$/));

  it("blockClaimOrder naming a node that does not exist", () =>
    refuses("claim-order-unknown-node", /^cluster\.blockClaimOrder: node "worker-3" does not exist$/, /^nodes are cp-1, worker-1, worker-2$/));

  it("nodeEndpoints naming a node that does not exist", () =>
    refuses("node-endpoint-unknown", /^cluster\.services: default\/kubernetes nodeEndpoints names node "cp-2", which does not exist$/));

  it("a clusterIP outside kube_service_addresses", () =>
    refuses(
      "cluster-ip-outside-range",
      /^cluster\.services: default\/kubernetes clusterIP 10\.96\.0\.1 is outside kube_service_addresses 10\.233\.0\.0\/18$/,
      /inside the service range, or leave clusterIP out/,
    ));

  it("a node declared twice via count", () => refuses("node-twice-via-count", /^cluster\.nodes: node "worker-1" is declared twice$/));

  it("a clusterIP that is not an address names the Service", () =>
    refuses("cluster-ip-not-an-address", /default\/kubernetes.*10\.233\.0\.300/));

  it("blockClaimOrder listing a node twice", () =>
    refuses("claim-order-twice", /blockClaimOrder.*worker-1.*twice/));

  it("a pod declared twice", () =>
    refuses("pod-twice", /default\/web.*twice/));

  it("two Services with the same clusterIP", () =>
    refuses("cluster-ip-twice", /10\.233\.0\.20/));

  it("a service range with no address left for allocation", async () => {
    const spec = await cluster("service-range-exhausted");
    const ev = await inventory("tiny-service-range");
    assert.throws(() => buildPlan("t", spec, ev), faultline(/kube_service_addresses 10\.233\.0\.0\/29/));
  });
});
