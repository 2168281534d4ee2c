/**
 * NetworkPolicy enforcement as Felix renders it (server/sim/dataplane/policy.ts). Semantics are checked
 * by walking packets through the rendered filter tables of both nodes (filter-walk.ts), one fixture
 * under test/fixtures/networkpolicy per case; the layout, Felix's names and hashes, idempotence and
 * removal by reading the rendered text. policy-kernel.test.ts checks the same with the real kernel.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { parse as parseYaml, parseAllDocuments } from "yaml";
import { projectRoot } from "../../../../server/paths.js";
import { caliIfaceName } from "../../../../server/sim/dataplane/render.js";
import {
  parseFilterState,
  renderNetworkPolicies,
  renderPolicyRemoval,
  type NetworkPolicy,
  type PolicyInput,
  type PolicyNamespace,
  type PolicyPod,
  type PolicyRender,
} from "../../../../server/sim/dataplane/policy.js";
import { FilterTable, type Packet } from "./filter-walk.js";

const FIXTURES = path.join(projectRoot, "test", "fixtures", "networkpolicy");

interface ClusterFixture {
  nodes: Array<{ name: string; address: string }>;
  namespaces: PolicyNamespace[];
  pods: Array<Omit<PolicyPod, "hostIface">>;
}

const cluster = parseYaml(readFileSync(path.join(FIXTURES, "cluster.yaml"), "utf8")) as ClusterFixture;
const pods: PolicyPod[] = cluster.pods.map((p) => ({ ...p, hostIface: caliIfaceName(p.namespace, p.name) }));
const nodes = cluster.nodes.map((n) => ({ name: n.name }));

function policies(fixture: string): NetworkPolicy[] {
  return parseAllDocuments(readFileSync(path.join(FIXTURES, fixture), "utf8")).map((d) => d.toJS() as NetworkPolicy);
}

function render(fixture: string | NetworkPolicy[], extra: Partial<PolicyInput> = {}): PolicyRender {
  return renderNetworkPolicies({ nodes, pods, namespaces: cluster.namespaces, policies: typeof fixture === "string" ? policies(fixture) : fixture, ...extra });
}

// --- walking a connection through the nodes' tables -------------------------------------------------

/** A pod (`ns/name`), a node's own address (`host:node-1`), or an address outside the cluster. */
type End = { ip: string; node?: string; iface?: string; host?: boolean };

function resolve(e: string): End {
  if (e.startsWith("host:")) {
    const n = cluster.nodes.find((x) => x.name === e.slice(5))!;
    return { ip: n.address, node: n.name, host: true };
  }
  if (e.includes("/")) {
    const p = pods.find((x) => `${x.namespace}/${x.name}` === e);
    if (!p) throw new Error(`no pod ${e}`);
    return { ip: p.address, node: p.node, iface: p.hostIface };
  }
  return { ip: e };
}

type Hop = { node: string; hook: "INPUT" | "FORWARD" | "OUTPUT"; in?: string; out?: string };

/** The filter hooks a packet from `a` to `b` crosses; pods on different nodes are routed over eth0. */
function hops(a: End, b: End): Hop[] {
  const out: Hop[] = [];
  if (a.iface) {
    if (b.host && b.node === a.node) return [{ node: a.node!, hook: "INPUT", in: a.iface }];
    out.push({ node: a.node!, hook: "FORWARD", in: a.iface, out: b.iface && b.node === a.node ? b.iface : "eth0" });
    if (b.iface && b.node === a.node) return out;
  } else if (a.host) {
    out.push({ node: a.node!, hook: "OUTPUT", out: b.node === a.node && b.iface ? b.iface : "eth0" });
    if (b.node === a.node) return out;
  }
  if (b.iface) out.push({ node: b.node!, hook: "FORWARD", in: "eth0", out: b.iface });
  else if (b.host) out.push({ node: b.node!, hook: "INPUT", in: "eth0" });
  return out;
}

const reverse = (h: Hop): Hop =>
  h.hook === "FORWARD" ? { ...h, in: h.out!, out: h.in! } : h.hook === "INPUT" ? { node: h.node, hook: "OUTPUT", out: h.in! } : { node: h.node, hook: "INPUT", in: h.out! };

function tables(r: PolicyRender): Map<string, FilterTable> {
  return new Map(r.nodes.map((n) => [n.node, new FilterTable(n.restore)]));
}

/** Whether a connection from `from` to `to` on `service` (`tcp/8080`, `icmp`) is set up, and its reply passes. */
function connect(t: Map<string, FilterTable>, from: string, to: string, service: string): { request: boolean; reply: boolean } {
  const [proto, port] = service.split("/") as [Packet["proto"], string | undefined];
  const [a, b] = [resolve(from), resolve(to)];
  const path = hops(a, b);
  const pass = (hs: Hop[], pkt: Omit<Packet, "in" | "out">) =>
    hs.every((h) => t.get(h.node)!.verdict(h.hook, { ...pkt, ...(h.in ? { in: h.in } : {}), ...(h.out ? { out: h.out } : {}) }) === "ACCEPT");
  const dport = port === undefined ? {} : { dport: Number(port) };
  return {
    request: pass(path, { src: a.ip, dst: b.ip, ...(proto ? { proto } : {}), ...dport, state: "NEW" }),
    reply: pass([...path].reverse().map(reverse), { src: b.ip, dst: a.ip, ...(proto ? { proto } : {}), state: "ESTABLISHED" }),
  };
}

type Expectation = [from: string, to: string, service: string, allowed: boolean];

function check(fixture: string, expectations: Expectation[]): void {
  const r = render(fixture);
  assert.deepEqual(r.warnings, []);
  const t = tables(r);
  for (const [from, to, service, allowed] of expectations) {
    const c = connect(t, from, to, service);
    assert.equal(c.request, allowed, `${fixture}: ${from} -> ${to} ${service} should be ${allowed ? "allowed" : "denied"}`);
    if (allowed) assert.equal(c.reply, true, `${fixture}: the reply of ${from} -> ${to} ${service} passes (conntrack)`);
  }
}

describe("NetworkPolicy semantics, walked through the rendered tables", () => {
  it("without policies everything is allowed", () => {
    const t = tables(render([]));
    for (const [a, b, s] of [
      ["default/client", "default/web", "tcp/80"],
      ["prod/client", "default/db", "udp/53"],
      ["default/web", "203.0.113.5", "tcp/443"],
      ["host:node-2", "default/web", "tcp/8080"],
      ["default/web", "host:node-1", "tcp/10250"],
      ["default/web", "prod/api", "icmp"],
    ]) {
      assert.deepEqual(connect(t, a!, b!, s!), { request: true, reply: true }, `${a} -> ${b} ${s}`);
    }
  });

  it("default-deny-ingress: nothing reaches default's pods but their own node; their egress and its replies pass", () =>
    check("default-deny-ingress.yaml", [
      ["default/client", "default/web", "tcp/8080", false], // same node
      ["prod/client", "default/web", "tcp/8080", false], // from another node and namespace
      ["default/web", "default/db", "tcp/5432", false], // db is in default too
      ["default/web", "prod/api", "tcp/9090", true], // egress is not isolated; the reply passes web's ingress
      ["default/db", "prod/client", "icmp", true],
      ["prod/client", "prod/api", "tcp/9090", true], // other namespaces are not selected
      ["host:node-1", "default/web", "tcp/8080", true], // kubelet on web's node: Felix does not police host -> local pod
      ["host:node-2", "default/web", "tcp/8080", false], // another node's host is forwarded traffic: policed
      ["203.0.113.5", "default/db", "tcp/5432", false],
    ]));

  it("allow-from-namespace: a namespaceSelector admits every pod of the matching namespaces", () =>
    check("allow-from-namespace.yaml", [
      ["prod/client", "prod/api", "tcp/9090", true],
      ["staging/client", "prod/api", "tcp/9090", true],
      ["staging/worker", "prod/api", "udp/5000", true],
      ["default/client", "prod/api", "tcp/9090", false],
      ["kube-system/coredns", "prod/api", "tcp/9090", false],
      ["host:node-2", "prod/api", "tcp/9090", false],
      ["default/client", "default/web", "tcp/8080", true], // not selected
    ]));

  it("namespace-and-pod: both selectors in one peer are an AND", () =>
    check("namespace-and-pod.yaml", [
      ["staging/client", "prod/api", "tcp/9090", true],
      ["staging/worker", "prod/api", "tcp/9090", false], // right namespace, wrong pod
      ["prod/client", "prod/api", "tcp/9090", false], // right pod, wrong namespace
      ["default/client", "prod/api", "tcp/9090", false],
    ]));

  it("namespace-or-pod: two peers are an OR, and a lone podSelector means the policy's namespace", () =>
    check("namespace-or-pod.yaml", [
      ["staging/client", "prod/api", "tcp/9090", true],
      ["staging/worker", "prod/api", "tcp/9090", true],
      ["prod/client", "prod/api", "tcp/9090", true],
      ["default/client", "prod/api", "tcp/9090", false], // app=client, but not in prod
    ]));

  it("ipblock-except: CIDRs with exceptions, in both directions", () =>
    check("ipblock-except.yaml", [
      ["192.168.20.7", "default/web", "tcp/8080", true],
      ["192.168.10.50", "default/web", "tcp/8080", false], // in the except
      ["10.1.2.3", "default/web", "tcp/8080", false],
      ["default/client", "default/web", "tcp/8080", false], // pods are not in 192.168/16
      ["host:node-2", "default/web", "tcp/8080", false], // 192.168.10.12 is excepted
      ["default/web", "prod/api", "tcp/9090", true], // 10.233.64.4 in the egress block
      ["default/web", "default/client", "tcp/80", true],
      ["default/web", "default/db", "tcp/5432", false], // 10.233.65.0/24 excepted
      ["default/web", "203.0.113.5", "tcp/443", false],
    ]));

  it("named-port: a port name resolves on each destination pod", () =>
    check("named-port.yaml", [
      ["default/client", "default/web", "tcp/8080", false], // client's egress only reaches prod/api
      ["prod/client", "default/web", "tcp/8080", false], // lone podSelector: default's clients only
      ["default/client", "prod/api", "tcp/9090", true], // api's http
      ["default/client", "prod/api", "tcp/8080", false],
      ["default/client", "prod/api", "udp/9090", false],
      ["default/web", "default/db", "tcp/5432", true], // web is only ingress-isolated
    ]));

  it("named-port: ingress on web's http from a non-isolated client", () => {
    const t = tables(render(policies("named-port.yaml").slice(0, 1)));
    assert.deepEqual(connect(t, "default/client", "default/web", "tcp/8080"), { request: true, reply: true });
    assert.equal(connect(t, "default/client", "default/web", "tcp/9090").request, false, "9090 is api's http, not web's");
    assert.equal(connect(t, "default/client", "default/web", "tcp/9153").request, false, "web's other named port");
    assert.equal(connect(t, "default/client", "default/web", "tcp/80").request, false);
  });

  it("egress-deny-dns-allowed: only DNS to CoreDNS leaves default's pods; ingress untouched", () =>
    check("egress-deny-dns-allowed.yaml", [
      ["default/client", "kube-system/coredns", "udp/53", true],
      ["default/client", "kube-system/coredns", "tcp/53", true],
      ["default/web", "kube-system/coredns", "udp/53", true],
      ["default/client", "kube-system/coredns", "tcp/80", false],
      ["default/client", "default/web", "tcp/8080", false],
      ["default/client", "prod/api", "tcp/9090", false],
      ["default/client", "203.0.113.5", "udp/53", false],
      ["default/client", "host:node-1", "tcp/10250", false], // pod -> own node goes through its egress policy
      ["prod/client", "default/web", "tcp/8080", true], // ingress open; the reply passes web's egress (conntrack)
      ["host:node-2", "default/db", "tcp/5432", true],
    ]));

  it("other-namespace: a policy selects pods of its own namespace only", () =>
    check("other-namespace.yaml", [
      ["default/client", "default/web", "tcp/8080", true],
      ["prod/client", "default/db", "tcp/5432", true],
      ["default/client", "prod/api", "tcp/9090", false],
      ["prod/client", "prod/api", "tcp/9090", false],
      ["prod/api", "default/web", "tcp/8080", true], // prod's egress is not isolated (policyTypes defaulted to Ingress)
    ]));

  it("port-range: endPort, and protocols with and without ports", () =>
    check("port-range.yaml", [
      ["default/client", "default/web", "tcp/8000", true],
      ["default/client", "default/web", "tcp/8080", true],
      ["default/client", "default/web", "tcp/8100", true],
      ["default/client", "default/web", "tcp/8101", false],
      ["default/client", "default/web", "tcp/7999", false],
      ["default/client", "default/web", "udp/8080", false],
      ["default/client", "default/web", "udp/53", true],
      ["default/client", "default/web", "sctp/9999", true],
      ["default/client", "default/web", "icmp", false],
    ]));

  it("policy-types-default: an egress section makes the policy Egress too", () =>
    check("policy-types-default.yaml", [
      ["default/client", "default/web", "tcp/8080", true],
      ["203.0.113.5", "default/web", "tcp/1", true],
      ["default/web", "default/db", "tcp/5432", true],
      ["default/web", "prod/api", "tcp/9090", false],
      ["default/web", "kube-system/coredns", "udp/53", false],
    ]));

  it("egress-only: policyTypes [Egress] leaves ingress open", () =>
    check("egress-only.yaml", [
      ["default/client", "default/web", "tcp/8080", true],
      ["default/web", "default/db", "tcp/5432", false],
      ["default/web", "host:node-1", "tcp/10250", false],
    ]));

  it("empty-from: every source, restricted to a port", () =>
    check("empty-from.yaml", [
      ["default/client", "default/web", "tcp/8080", true],
      ["prod/client", "default/web", "tcp/8080", true],
      ["203.0.113.5", "default/web", "tcp/8080", true],
      ["host:node-2", "default/web", "tcp/8080", true],
      ["default/client", "default/web", "tcp/8081", false],
    ]));

  it("match-expressions: In, and NotIn matching a missing label", () =>
    check("match-expressions.yaml", [
      ["default/client", "default/web", "tcp/8080", true], // default has no env label
      ["staging/client", "default/web", "tcp/8080", true],
      ["prod/client", "default/web", "tcp/8080", false],
      ["prod/client", "default/db", "tcp/5432", true], // db is not selected
      ["prod/client", "prod/api", "tcp/9090", true], // api of prod is not selected by a policy of default
    ]));
});

// --- layout, names, idempotence ------------------------------------------------------------------

const node1 = (r: PolicyRender) => r.nodes.find((n) => n.node === "node-1")!;
const web = pods.find((p) => p.name === "web")!;

describe("the rendered filter table", () => {
  it("hooks Felix's chains with Felix's rule hashes", () => {
    const text = node1(render("default-deny-ingress.yaml")).restore;
    assert.match(text, /^\*filter\n/);
    assert.match(text, /\nCOMMIT\n$/);
    for (const l of [
      '-I FORWARD 1 -m comment --comment "cali:wUHhoiAYhphO9Mso" --jump cali-FORWARD',
      '-I INPUT 1 -m comment --comment "cali:Cz_u1IQiXIMmKD4c" --jump cali-INPUT',
      '-I OUTPUT 1 -m comment --comment "cali:tVnHkvAo15HuiPy0" --jump cali-OUTPUT',
      '-A FORWARD -m comment --comment "cali:S93hcgKJrXEqnTfs" -m comment --comment "Policy explicitly accepted packet." -m mark --mark 0x10000/0x10000 --jump ACCEPT',
      '-A FORWARD -m comment --comment "cali:mp77cMpurHhyjLrM" --jump MARK --set-mark 0x10000/0x10000',
      '-A cali-FORWARD -m comment --comment "cali:8ZoYfO5HKXWbB3pk" --in-interface cali+ --jump cali-from-wl-dispatch',
      '-A cali-FORWARD -m comment --comment "cali:jdEuaPBe14V2hutn" --out-interface cali+ --jump cali-to-wl-dispatch',
      '-A cali-OUTPUT -m comment --comment "cali:69FkRTJDvD5Vu6Vl" --out-interface cali+ --jump RETURN',
      '-A cali-wl-to-host -m comment --comment "cali:Ee9Sbo10IpVujdIY" --jump cali-from-wl-dispatch',
      '-A cali-pri-kns.default -m comment --comment "cali:7Fnh7Pv3_98FtLW7" --jump MARK --set-mark 0x10000/0x10000',
    ]) {
      assert.ok(text.split("\n").includes(l), `missing: ${l}`);
    }
    assert.match(text, /-A cali-wl-to-host .*"Configured DefaultEndpointToHostAction" --jump RETURN\n/, "kubespray's default action");
    const accept = render("default-deny-ingress.yaml", { felix: { defaultEndpointToHostAction: "ACCEPT" } });
    assert.match(node1(accept).restore, /"Configured DefaultEndpointToHostAction" --jump ACCEPT\n/);
  });

  it("names policy chains as Felix does and renders a selected endpoint's chain in Felix's order", () => {
    // A Felix chain name seen on a real node: cali-pi-_ + base64url(sha256("default/knp.default.allow-db-access")).
    const dbPolicy: NetworkPolicy = {
      metadata: { name: "allow-db-access", namespace: "default" },
      spec: { podSelector: { matchLabels: { app: "web" } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: "client" } } }] }] },
    };
    const text = node1(render([dbPolicy])).restore;
    const tw = text.split("\n").filter((l) => l.startsWith(`-A cali-tw-${web.hostIface} `)).map((l) => l.replace(/ -m comment --comment "cali:[^"]+"/, ""));
    assert.deepEqual(tw, [
      `-A cali-tw-${web.hostIface} -m conntrack --ctstate RELATED,ESTABLISHED --jump ACCEPT`,
      `-A cali-tw-${web.hostIface} -m conntrack --ctstate INVALID --jump DROP`,
      `-A cali-tw-${web.hostIface} --jump MARK --set-mark 0/0x10000`,
      `-A cali-tw-${web.hostIface} -m comment --comment "Start of policies" --jump MARK --set-mark 0/0x20000`,
      `-A cali-tw-${web.hostIface} -m mark --mark 0/0x20000 --jump cali-pi-_tTE-E7yY40ogArNVgKt`,
      `-A cali-tw-${web.hostIface} -m comment --comment "Return if policy accepted" -m mark --mark 0x10000/0x10000 --jump RETURN`,
      `-A cali-tw-${web.hostIface} -m comment --comment "Drop if no policies passed packet" -m mark --mark 0/0x20000 --jump DROP`,
      `-A cali-tw-${web.hostIface} --jump cali-pri-kns.default`,
      `-A cali-tw-${web.hostIface} -m comment --comment "Return if profile accepted" -m mark --mark 0x10000/0x10000 --jump RETURN`,
      `-A cali-tw-${web.hostIface} --jump cali-pri-ksa.default.default`,
      `-A cali-tw-${web.hostIface} -m comment --comment "Return if profile accepted" -m mark --mark 0x10000/0x10000 --jump RETURN`,
      `-A cali-tw-${web.hostIface} -m comment --comment "Drop if no profiles matched" --jump DROP`,
    ]);
    // The ipset Felix would use (cali40s:…) is expanded: one rule per client pod, then one RETURN.
    const pi = text.split("\n").filter((l) => l.startsWith("-A cali-pi-_tTE-E7yY40ogArNVgKt "));
    assert.deepEqual(
      pi.map((l) => l.replace(/ -m comment --comment "cali:[^"]+"/, "")),
      [
        "-A cali-pi-_tTE-E7yY40ogArNVgKt --source 10.233.64.3/32 --jump MARK --set-mark 0x10000/0x10000",
        "-A cali-pi-_tTE-E7yY40ogArNVgKt -m mark --mark 0x10000/0x10000 --jump RETURN",
      ],
    );
  });

  it("gives unselected pods endpoint chains without policies, and programs only the policies of local pods", () => {
    const r = render("allow-from-namespace.yaml"); // selects prod/api, on node-1
    const n1 = node1(r).restore;
    const n2 = r.nodes.find((n) => n.node === "node-2")!.restore;
    assert.match(n1, /^:cali-pi-_\S+ - \[0:0\]$/m);
    assert.doesNotMatch(n2, /cali-pi-/, "no pod of node-2 is selected");
    assert.doesNotMatch(n1, new RegExp(`-A cali-tw-${web.hostIface} .*Start of policies`));
    assert.doesNotMatch(n1, /cali-po-/, "an ingress-only policy has no egress chain");
    for (const p of pods) {
      const text = p.node === "node-1" ? n1 : n2;
      assert.ok(text.includes(`--out-interface ${p.hostIface} --goto cali-tw-${p.hostIface}`), `${p.name} dispatched`);
      assert.ok(text.includes(`--in-interface ${p.hostIface} --goto cali-fw-${p.hostIface}`));
    }
  });

  it("splits the dispatch chains into Felix's prefix tree", () => {
    const mk = (name: string, iface: string): PolicyPod => ({ namespace: "t", name, node: "n", address: "10.0.0.1", hostIface: iface });
    const r = renderNetworkPolicies({ nodes: [{ name: "n" }], pods: [mk("a", "cali1aaaaaaaaaa"), mk("b", "cali1bbbbbbbbbb"), mk("c", "cali2cccccccccc")], policies: [] });
    const lines = r.nodes[0]!.restore.split("\n").filter((l) => l.startsWith("-A cali-to-wl-dispatch")).map((l) => l.replace(/ -m comment --comment "cali:[^"]+"/, ""));
    assert.deepEqual(lines, [
      "-A cali-to-wl-dispatch --out-interface cali1+ --goto cali-to-wl-dispatch-1",
      "-A cali-to-wl-dispatch --out-interface cali2cccccccccc --goto cali-tw-cali2cccccccccc",
      '-A cali-to-wl-dispatch -m comment --comment "Unknown interface" --jump DROP',
      "-A cali-to-wl-dispatch-1 --out-interface cali1aaaaaaaaaa --goto cali-tw-cali1aaaaaaaaaa",
      "-A cali-to-wl-dispatch-1 --out-interface cali1bbbbbbbbbb --goto cali-tw-cali1bbbbbbbbbb",
      '-A cali-to-wl-dispatch-1 -m comment --comment "Unknown interface" --jump DROP',
    ]);
  });

  it("renders an ipBlock except as Felix's negated match block on the scratch marks", () => {
    const text = node1(render("ipblock-except.yaml")).restore;
    const pi = /^:(cali-pi-_\S+) /m.exec(text)![1]!;
    const rules = text.split("\n").filter((l) => l.startsWith(`-A ${pi} `)).map((l) => l.replace(/ -m comment --comment "cali:[^"]+"/, "").slice(pi.length + 4));
    assert.deepEqual(rules, [
      "--jump MARK --set-mark 0x40000/0xc0000",
      "--source 192.168.10.0/24 --jump MARK --set-mark 0/0x40000",
      "--source 192.168.0.0/16 -m mark --mark 0x40000/0x40000 --jump MARK --set-mark 0x10000/0x10000",
      "-m mark --mark 0x10000/0x10000 --jump RETURN",
    ]);
  });

  it("is idempotent: a render against its own state declares the same chains and adds no hooks", () => {
    const first = render("named-port.yaml");
    const again = render("named-port.yaml", { current: new Map(first.nodes.map((n) => [n.node, n.state])) });
    for (const [a, b] of first.nodes.map((n, i) => [n, again.nodes[i]!] as const)) {
      const body = (s: string) => s.split("\n").filter((l) => !/^-[IA] (INPUT|FORWARD|OUTPUT) /.test(l));
      assert.deepEqual(body(b.restore), body(a.restore));
      assert.doesNotMatch(b.restore, /^-[IA] (INPUT|FORWARD|OUTPUT) /m);
      assert.doesNotMatch(b.restore, /^-X /m);
      assert.deepEqual(b.state, a.state);
      // Applied twice on a model table, the second pass leaves the same rules.
      const t = new FilterTable(a.restore);
      const once = JSON.stringify([...t.chains]);
      t.apply(b.restore);
      assert.equal(JSON.stringify([...t.chains]), once);
    }
  });

  it("reads the current state from iptables-save output", () => {
    const save = [
      "# Generated by iptables-save v1.8.9 (nf_tables)",
      "*nat",
      ":cali-nat-outgoing - [0:0]",
      "COMMIT",
      "*filter",
      ":INPUT ACCEPT [0:0]",
      ":cali-FORWARD - [0:0]",
      ":cali-tw-cali0000000000a - [0:0]",
      '-A FORWARD -m comment --comment "cali:wUHhoiAYhphO9Mso" -j cali-FORWARD',
      '-A FORWARD -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-A FORWARD -m comment --comment "cali:S93hcgKJrXEqnTfs" -m comment --comment "Policy explicitly accepted packet." -m mark --mark 0x10000/0x10000 -j ACCEPT',
      "COMMIT",
    ].join("\n");
    assert.deepEqual(parseFilterState(save), { chains: ["cali-FORWARD", "cali-tw-cali0000000000a"], hooks: ["S93hcgKJrXEqnTfs", "wUHhoiAYhphO9Mso"] });
    const r = render([], { current: { "node-1": save } });
    const text = node1(r).restore;
    assert.doesNotMatch(text, /^-I FORWARD/m, "the FORWARD hook is there already");
    assert.match(text, /^-I INPUT 1 /m);
    assert.match(text, /^-A FORWARD -m comment --comment "cali:mp77cMpurHhyjLrM"/m, "the missing append is added");
    assert.doesNotMatch(text, /cali:S93hcgKJrXEqnTfs/);
    assert.match(text, /^:cali-tw-cali0000000000a - \[0:0\]\n/m, "a stale chain is flushed ...");
    assert.match(text, /^-X cali-tw-cali0000000000a\nCOMMIT\n$/m, "... and deleted at the end");
  });

  it("removes the chains of pods and policies that are gone", () => {
    const first = render("default-deny-ingress.yaml");
    const state = new Map(first.nodes.map((n) => [n.node, n.state]));
    const gone = renderNetworkPolicies({ nodes, pods: pods.filter((p) => p !== web), namespaces: cluster.namespaces, policies: [], current: state });
    const text = node1(gone).restore;
    const deleted = text.split("\n").filter((l) => l.startsWith("-X ")).sort();
    const pi = first.nodes[0]!.state.chains.filter((c) => c.startsWith("cali-pi-"));
    assert.equal(pi.length, 1);
    assert.deepEqual(deleted, [`-X cali-fw-${web.hostIface}`, `-X ${pi[0]}`, `-X cali-tw-${web.hostIface}`].sort());
    const t = new FilterTable(node1(first).restore);
    t.apply(text);
    assert.ok(![...t.chains.keys()].some((c) => c.includes(web.hostIface) || c.startsWith("cali-pi-")));
  });

  it("removal deletes the hooks and every cali- chain", () => {
    const first = render("named-port.yaml");
    const removal = renderPolicyRemoval(nodes, Object.fromEntries(first.nodes.map((n) => [n.node, n.state])));
    for (const [i, n] of removal.nodes.entries()) {
      assert.deepEqual(n.state, { chains: [], hooks: [] });
      const t = new FilterTable(first.nodes[i]!.restore);
      t.apply(n.restore);
      assert.deepEqual([...t.chains], [["INPUT", []], ["FORWARD", []], ["OUTPUT", []]]);
    }
    assert.equal(renderPolicyRemoval(nodes, {}).nodes[0]!.restore, "", "nothing known, nothing to remove");
  });

  it("emits NetOps for the node's namespace, in order", () => {
    const r = renderNetworkPolicies({ nodes: [{ name: "node-1", netns: "ns-node-1" }], pods, namespaces: cluster.namespaces, policies: [] });
    const n = r.nodes[0]!;
    assert.equal(n.netns, "ns-node-1");
    assert.ok(n.ops.every((o) => o.kind === "iptables" && o.netns === "ns-node-1" && o.table === "filter"));
    assert.equal(`*filter\n${n.ops.map((o) => (o.kind === "iptables" ? o.rule : "")).join("\n")}\nCOMMIT\n`, n.restore);
  });

  it("ignores a policy Calico cannot convert, and says why", () => {
    const bad: NetworkPolicy = { metadata: { name: "bad", namespace: "default" }, spec: { podSelector: { matchExpressions: [{ key: "app", operator: "Equals", values: ["web"] }] } } };
    const r = render([bad]);
    assert.equal(r.warnings.length, 1);
    assert.match(r.warnings[0]!, /NetworkPolicy default\/bad: "Equals" is not a valid label selector operator; policy ignored/);
    assert.doesNotMatch(node1(r).restore, /cali-pi-/);
  });

  it("skips IPv6 ipBlocks as the IPv4 table does", () => {
    const v6: NetworkPolicy = {
      metadata: { name: "v6", namespace: "default" },
      spec: { podSelector: { matchLabels: { app: "web" } }, ingress: [{ from: [{ ipBlock: { cidr: "2001:db8::/64" } }] }] },
    };
    const r = render([v6]);
    assert.deepEqual(r.warnings, []);
    assert.equal(connect(tables(r), "default/client", "default/web", "tcp/8080").request, false, "web is isolated, nothing matches");
  });
});
