/**
 * The dataplane renderer: a plan in, the exact kernel operations out, in phases the executor can
 * batch. A tiny plan (two nodes, one pod) is rendered op for op; Services are rendered the way
 * kube-proxy's iptables mode writes them.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { NetOp } from "../../../../server/sim/dataplane/ops.js";
import { caliIfaceName, podNetnsName, renderProvisioning, renderRoute, renderServices } from "../../../../server/sim/dataplane/render.js";
import type { ClusterPlan, PlanService } from "../../../../server/sim/plan.js";

/** sha1("default.web") starts 68caf03a5f4 (printf 'default.web' | sha1sum). */
const WEB_IFACE = "cali68caf03a5f4";

/**
 * cp-1 (tunnel address borrowed from worker-1's block, no pods) and worker-1 (owns 10.233.64.0/25,
 * runs default/web, a smaller MTU so the pod's MTU visibly follows its node's). A fresh copy per call.
 */
function tinyPlan(): ClusterPlan {
  return {
    sandbox: "tiny",
    kubesprayVersion: "v2.19",
    calicoVersion: "v3.22.3",
    routesBorrowedTunnels: false,
    calicoBackend: "bird",
    nodeNetwork: { cidr: "192.168.10.0/24", gateway: "192.168.10.1", bridge: "br-nodes" },
    podsSubnet: "10.233.64.0/24",
    serviceCidr: "10.233.0.0/18",
    blockSize: 25,
    nodes: [
      {
        name: "cp-1", role: "control-plane", address: "192.168.10.10", tunnelAddress: "10.233.64.1", tunnelBorrowed: true, blocks: [],
        netns: "cp-1", mtu: 1500,
        routes: [
          { dst: "10.233.64.0/25", via: "192.168.10.11", dev: "eth0", src: "10.233.64.1", proto: "bird" },
          { dst: "10.233.0.0/18", dev: "eth0", scope: "link", src: "10.233.64.1" },
        ],
      },
      {
        name: "worker-1", role: "worker", address: "192.168.10.11", tunnelAddress: "10.233.64.0", tunnelBorrowed: false, blocks: ["10.233.64.0/25"],
        netns: "worker-1", mtu: 1450,
        routes: [
          { dst: "10.233.64.0/25", type: "blackhole", proto: "bird" },
          { dst: "10.233.0.0/18", dev: "eth0", scope: "link", src: "10.233.64.0" },
        ],
      },
    ],
    pods: [
      { namespace: "default", name: "web", node: "worker-1", address: "10.233.64.2", borrowed: false, netns: "pod_default_web", hostIface: WEB_IFACE, labels: { app: "web" } },
    ],
    services: [],
    blocks: [{ cidr: "10.233.64.0/25", affinity: "worker-1", allocations: [] }],
  };
}

const ip = (netns: string, line: string): NetOp => ({ kind: "ip", netns, line });
const sysctl = (netns: string, key: string, value: string): NetOp => ({ kind: "sysctl", netns, key, value });
const nat = (netns: string, rule: string): NetOp => ({ kind: "iptables", netns, table: "nat", rule });
const filter = (netns: string, rule: string): NetOp => ({ kind: "iptables", netns, table: "filter", rule });

/** The rules kube-proxy writes in every node whatever the Services are. */
const portals = (netns: string): NetOp[] => [
  nat(netns, ":KUBE-SERVICES - [0:0]"),
  nat(netns, '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES'),
  nat(netns, '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES'),
  filter(netns, ":KUBE-SERVICES - [0:0]"),
  filter(netns, '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES'),
  filter(netns, '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES'),
];

function service(over: Partial<PlanService> = {}): PlanService {
  return {
    namespace: "default",
    name: "web",
    clusterIP: "10.233.0.10",
    ports: [{ name: "http", port: 80, targetPort: 8080, protocol: "TCP" }],
    endpoints: ["10.233.64.2", "10.233.64.3", "10.233.64.130"],
    ...over,
  };
}

describe("caliIfaceName", () => {
  it("is cali + the first 11 hex characters of sha1(<namespace>.<pod>), as Calico names it", () => {
    assert.equal(caliIfaceName("default", "web"), WEB_IFACE);
    // printf 'metallb-system.controller-7d9cf7f8b-x2kqv' | sha1sum
    assert.equal(caliIfaceName("metallb-system", "controller-7d9cf7f8b-x2kqv"), "cali26f894c0d7f");
  });

  it("fits a Linux interface name (15 characters) whatever the pod's name length", () => {
    assert.equal(caliIfaceName("a-very-long-namespace-name", "x".repeat(63)).length, 15);
  });

  it("differs for the same pod name in another namespace", () => {
    assert.notEqual(caliIfaceName("default", "web"), caliIfaceName("kube-system", "web"));
  });
});

describe("podNetnsName", () => {
  it("is pod_<namespace>_<pod>", () => {
    assert.equal(podNetnsName("default", "web"), "pod_default_web");
    assert.equal(podNetnsName("metallb-system", "controller-7d9cf7f8b-x2kqv"), "pod_metallb-system_controller-7d9cf7f8b-x2kqv");
  });
});

describe("renderRoute", () => {
  it("writes the fields in `ip route` order: type, dst, via, dev, proto, scope, src", () => {
    assert.equal(renderRoute({ dst: "10.233.64.0/24", type: "blackhole", proto: "bird" }), "blackhole 10.233.64.0/24 proto bird");
    assert.equal(
      renderRoute({ src: "10.233.65.0", proto: "bird", dev: "eth0", via: "192.168.10.13", dst: "10.233.64.0/24" }),
      "10.233.64.0/24 via 192.168.10.13 dev eth0 proto bird src 10.233.65.0",
    );
    assert.equal(renderRoute({ dst: "10.233.0.0/18", dev: "eth0", scope: "link", src: "10.233.64.3" }), "10.233.0.0/18 dev eth0 scope link src 10.233.64.3");
    assert.equal(renderRoute({ dst: "10.233.64.5/32", type: "unreachable" }), "unreachable 10.233.64.5/32");
    assert.equal(renderRoute({ dst: "0.0.0.0/0", via: "192.168.10.1" }), "0.0.0.0/0 via 192.168.10.1");
  });
});

describe("renderProvisioning: two nodes, one pod", () => {
  it("creates the node and pod namespaces, nodes first", () => {
    assert.deepEqual(renderProvisioning(tinyPlan()).netns, ["cp-1", "worker-1", "pod_default_web"]);
  });

  it("phase 1 creates the links: the bridge in the root namespace, node and pod veths in place", () => {
    const { phases } = renderProvisioning(tinyPlan());
    assert.equal(phases.length, 3);
    assert.deepEqual(phases[0], [
      ip("", "link add br-nodes type bridge"),
      ip("", "link set br-nodes up"),
      ip("", "addr add 192.168.10.1/24 dev br-nodes"),
      ip("", "link add vn0 mtu 1500 type veth peer name eth0 netns cp-1"),
      ip("", "link set vn0 master br-nodes up"),
      ip("", "link add vn1 mtu 1450 type veth peer name eth0 netns worker-1"),
      ip("", "link set vn1 master br-nodes up"),
      ip("worker-1", `link add ${WEB_IFACE} type veth peer name eth0 netns pod_default_web`),
    ]);
  });

  it("phase 2 configures addresses, sysctls and routes: nodes in order, then each pod: its node side, then its own namespace", () => {
    const { phases } = renderProvisioning(tinyPlan());
    assert.deepEqual(phases[1], [
      ip("cp-1", "link set lo up"),
      ip("cp-1", "addr add 192.168.10.10/24 dev eth0"),
      ip("cp-1", "link set eth0 up"),
      sysctl("cp-1", "net.ipv4.ip_forward", "1"),
      ip("cp-1", "addr add 10.233.64.1/32 dev lo"),
      ip("cp-1", "route add default via 192.168.10.1 dev eth0"),
      ip("cp-1", "route add 10.233.64.0/25 via 192.168.10.11 dev eth0 proto bird src 10.233.64.1"),
      ip("cp-1", "route add 10.233.0.0/18 dev eth0 scope link src 10.233.64.1"),

      ip("worker-1", "link set lo up"),
      ip("worker-1", "addr add 192.168.10.11/24 dev eth0"),
      ip("worker-1", "link set eth0 up"),
      sysctl("worker-1", "net.ipv4.ip_forward", "1"),
      ip("worker-1", "addr add 10.233.64.0/32 dev lo"),
      ip("worker-1", "route add default via 192.168.10.1 dev eth0"),
      ip("worker-1", "route add blackhole 10.233.64.0/25 proto bird"),
      ip("worker-1", "route add 10.233.0.0/18 dev eth0 scope link src 10.233.64.0"),

      // Calico's host side of the pod's veth: fixed MAC, proxy ARP without delay, a /32 to the pod.
      ip("worker-1", `link set ${WEB_IFACE} address ee:ee:ee:ee:ee:ee`),
      ip("worker-1", `link set ${WEB_IFACE} up`),
      sysctl("worker-1", `net.ipv4.conf.${WEB_IFACE}.proxy_arp`, "1"),
      sysctl("worker-1", `net.ipv4.neigh.${WEB_IFACE}.proxy_delay`, "0"),
      ip("worker-1", `route add 10.233.64.2/32 dev ${WEB_IFACE} scope link`),

      ip("pod_default_web", "link set lo up"),
      ip("pod_default_web", "link set eth0 mtu 1450"),
      ip("pod_default_web", "addr add 10.233.64.2/32 dev eth0"),
      ip("pod_default_web", "link set eth0 up"),
      ip("pod_default_web", "route add 169.254.1.1 dev eth0 scope link"),
      ip("pod_default_web", "route add default via 169.254.1.1 dev eth0"),
    ]);
  });

  it("phase 3 programs the Service portals in every node and nothing in pods", () => {
    const { phases } = renderProvisioning(tinyPlan());
    assert.deepEqual(phases[2], [...portals("cp-1"), ...portals("worker-1")]);
  });

  it("each phase holds one kind of work: links, then configuration, then iptables", () => {
    const plan = tinyPlan();
    plan.services = [service({ endpoints: ["10.233.64.2"] })];
    const [links, config, services] = renderProvisioning(plan).phases;
    // The only address in phase 1 is the gateway's on the bridge, which exists from the line before.
    assert.ok(links!.every((o) => o.kind === "ip" && /^(link add |link set \S+ (master br-nodes )?up$|addr add \S+ dev br-nodes$)/.test(o.line)));
    assert.ok(config!.every((o) => o.kind !== "iptables"));
    assert.ok(services!.every((o) => o.kind === "iptables"));
    assert.ok(services!.some((o) => o.kind === "iptables" && o.rule.includes("DNAT --to-destination 10.233.64.2:8080")));
  });

  it("a node without a tunnel address gets no address on lo", () => {
    const plan = tinyPlan();
    plan.nodes[0]!.tunnelAddress = null;
    const cp = renderProvisioning(plan).phases[1]!.filter((o) => o.netns === "cp-1");
    assert.ok(!cp.some((o) => o.kind === "ip" && o.line.endsWith("dev lo")));
  });
});

describe("renderServices: kube-proxy's iptables mode", () => {
  it("three endpoints: one KUBE-SVC chain picking each KUBE-SEP with probabilities 1/3, 1/2, the rest", () => {
    const ops = renderServices([service()], "worker-1");
    assert.deepEqual(ops.slice(0, 6), portals("worker-1"));
    const rules = ops.slice(6).map((o) => (o.kind === "iptables" ? `${o.table} ${o.rule}` : assert.fail(`not iptables: ${JSON.stringify(o)}`)));
    assert.ok(ops.every((o) => o.netns === "worker-1"));

    const svc = /^nat :(KUBE-SVC-[A-Z0-9]{16}) - \[0:0\]$/.exec(rules[0]!)?.[1];
    assert.ok(svc, `a service chain first: ${rules[0]}`);
    assert.equal(rules[1], `nat -A KUBE-SERVICES -d 10.233.0.10/32 -p tcp -m tcp --dport 80 -m comment --comment "default/web:http cluster IP" -j ${svc}`);

    const seps: string[] = [];
    const eps = ["10.233.64.2", "10.233.64.3", "10.233.64.130"];
    const picks = [" -m statistic --mode random --probability 0.3333333333", " -m statistic --mode random --probability 0.5000000000", ""];
    eps.forEach((ep, i) => {
      const [decl, jump, dnat] = rules.slice(2 + 3 * i, 5 + 3 * i);
      const sep = /^nat :(KUBE-SEP-[A-Z0-9]{16}) - \[0:0\]$/.exec(decl!)?.[1];
      assert.ok(sep, `endpoint chain declared: ${decl}`);
      seps.push(sep);
      assert.equal(jump, `nat -A ${svc} -m comment --comment "default/web:http -> ${ep}:8080"${picks[i]} -j ${sep}`);
      assert.equal(dnat, `nat -A ${sep} -p tcp -m comment --comment "default/web:http" -m tcp -j DNAT --to-destination ${ep}:8080`);
    });
    assert.equal(rules.length, 2 + 3 * eps.length);
    assert.equal(new Set(seps).size, 3, "one chain per endpoint");
  });

  it("chain names are stable: the same Service renders the same rules in every node", () => {
    const strip = (ops: NetOp[]) => ops.map((o) => (o.kind === "iptables" ? o.rule : ""));
    assert.deepEqual(strip(renderServices([service()], "cp-1")), strip(renderServices([service()], "worker-1")));
    const other = strip(renderServices([service({ name: "api" })], "cp-1"));
    assert.notEqual(other[6], strip(renderServices([service()], "cp-1"))[6], "another Service, another chain");
  });

  it("a Service without endpoints is rejected in the filter table instead of timing out", () => {
    const ops = renderServices([service({ endpoints: [] })], "cp-1");
    assert.deepEqual(ops, [
      ...portals("cp-1"),
      filter(
        "cp-1",
        '-A KUBE-SERVICES -d 10.233.0.10/32 -p tcp -m tcp --dport 80 -m comment --comment "default/web:http has no endpoints" -j REJECT --reject-with icmp-port-unreachable',
      ),
    ]);
  });

  it("one endpoint: no statistic match; UDP ports and unnamed ports read like kube-proxy's", () => {
    const ops = renderServices(
      [service({ namespace: "kube-system", name: "coredns", clusterIP: "10.233.0.3", ports: [{ port: 53, targetPort: 53, protocol: "UDP" }], endpoints: ["10.233.65.1"] })],
      "cp-1",
    );
    const rules = ops.slice(6).map((o) => (o.kind === "iptables" ? o.rule : ""));
    assert.match(rules[1]!, /^-A KUBE-SERVICES -d 10\.233\.0\.3\/32 -p udp -m udp --dport 53 -m comment --comment "kube-system\/coredns cluster IP" -j KUBE-SVC-/);
    assert.match(rules[3]!, /^-A KUBE-SVC-\S+ -m comment --comment "kube-system\/coredns -> 10\.233\.65\.1:53" -j KUBE-SEP-\S+$/);
    assert.match(rules[4]!, /^-A KUBE-SEP-\S+ -p udp -m comment --comment "kube-system\/coredns" -m udp -j DNAT --to-destination 10\.233\.65\.1:53$/);
  });

  it("each port of a Service gets its own chains; TCP and UDP on the same port do not share", () => {
    const ops = renderServices(
      [service({ ports: [{ name: "dns", port: 53, targetPort: 53, protocol: "UDP" }, { name: "dns-tcp", port: 53, targetPort: 53, protocol: "TCP" }], endpoints: ["10.233.65.1"] })],
      "cp-1",
    );
    const svcChains = ops.flatMap((o) => (o.kind === "iptables" && /^:KUBE-SVC-/.test(o.rule) ? [o.rule] : []));
    assert.equal(svcChains.length, 2);
    assert.notEqual(svcChains[0], svcChains[1]);
  });

  it("no Services: only the portals", () => {
    assert.deepEqual(renderServices([], "cp-1"), portals("cp-1"));
  });
});
