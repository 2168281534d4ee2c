/**
 * NetworkPolicy enforcement with the real kernel: a two-node cluster wired like Calico's (the real
 * provisioning renderer, run by provision-child.js) in a throwaway user+network+mount namespace, the
 * filter tables rendered by dataplane/policy.ts applied with `iptables-restore --noflush`, and real TCP
 * connections (`nc`) and pings between the pods and from the nodes. Only namespace addresses are used.
 */
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { caliIfaceName, podNetnsName } from "../../../server/sim/dataplane/render.js";
import { parseFilterState, renderNetworkPolicies, renderPolicyRemoval, type NetworkPolicy, type PolicyRender } from "../../../server/sim/dataplane/policy.js";
import type { ClusterPlan, PlanPod } from "../../../server/sim/plan.js";
import { inThrowawayNamespace, kernelUnavailable, sections } from "../../unit/sim/faults/helpers.js";

const skip = kernelUnavailable() ?? false;
const PROVISION = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "unit", "sim", "dataplane", "provision-child.js");

function pod(namespace: string, name: string, node: string, address: string, labels: Record<string, string>): PlanPod {
  return { namespace, name, node, address, borrowed: false, netns: podNetnsName(namespace, name), hostIface: caliIfaceName(namespace, name), labels };
}

/** Two nodes with one /24 block each, routed node to node as Calico does without encapsulation. */
const plan: ClusterPlan = {
  sandbox: "policy",
  kubesprayVersion: "v2.19",
  calicoVersion: "v3.22",
  routesBorrowedTunnels: false,
  calicoBackend: "vxlan",
  nodeNetwork: { cidr: "192.168.10.0/24", gateway: "192.168.10.1", bridge: "br-pol" },
  podsSubnet: "10.233.64.0/18",
  serviceCidr: "10.233.0.0/18",
  blockSize: 24,
  nodes: [
    {
      name: "node-1", role: "control-plane", address: "192.168.10.11", tunnelAddress: "10.233.64.0", tunnelBorrowed: false, blocks: ["10.233.64.0/24"], netns: "node-1", mtu: 1500,
      routes: [{ dst: "10.233.64.0/24", type: "blackhole", proto: "80" }, { dst: "10.233.65.0/24", via: "192.168.10.12", dev: "eth0", src: "10.233.64.0", proto: "80" }],
    },
    {
      name: "node-2", role: "worker", address: "192.168.10.12", tunnelAddress: "10.233.65.0", tunnelBorrowed: false, blocks: ["10.233.65.0/24"], netns: "node-2", mtu: 1500,
      routes: [{ dst: "10.233.65.0/24", type: "blackhole", proto: "80" }, { dst: "10.233.64.0/24", via: "192.168.10.11", dev: "eth0", src: "10.233.65.0", proto: "80" }],
    },
  ],
  pods: [
    pod("default", "web", "node-1", "10.233.64.2", { app: "web" }),
    pod("default", "client", "node-1", "10.233.64.3", { app: "client" }),
    pod("prod", "other", "node-2", "10.233.65.2", { app: "other" }),
  ],
  services: [],
  blocks: [],
};

const [web, client, other] = plan.pods as [PlanPod, PlanPod, PlanPod];
const nodes = plan.nodes.map((n) => ({ name: n.name, netns: n.netns }));
const namespaces = [{ name: "default" }, { name: "prod" }];

const allowClientToWeb: NetworkPolicy = {
  metadata: { name: "web-from-client", namespace: "default" },
  spec: { podSelector: { matchLabels: { app: "web" } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: "client" } } }], ports: [{ protocol: "TCP", port: 8080 }] }] },
};
const prodDenyIngress: NetworkPolicy = { metadata: { name: "default-deny-ingress", namespace: "prod" }, spec: { podSelector: {}, policyTypes: ["Ingress"] } };

const render = (policies: NetworkPolicy[], current?: PolicyRender) =>
  renderNetworkPolicies({ nodes, pods: plan.pods, namespaces, policies, ...(current ? { current: new Map(current.nodes.map((n) => [n.node, n.state])) } : {}) });

/** `=== label` then "connected" or "refused/timed out" for one TCP connect (1 s timeout) from netns `from`. */
const tcp = (label: string, from: string, to: string, port: number) =>
  `echo '=== ${label}'; if ip netns exec ${from} nc -z -w 1 ${to} ${port} 2>/dev/null; then echo connected; else echo blocked; fi`;
const ping = (label: string, from: string, to: string) =>
  `echo '=== ${label}'; if ip netns exec ${from} ping -c1 -W1 ${to} >/dev/null 2>&1; then echo answered; else echo lost; fi`;
/** The filter table without counters and comment lines, for comparing two states. */
const save = (label: string, netns: string) => `echo '=== ${label}'; ip netns exec ${netns} iptables-save -t filter | grep -v '^#'`;

describe("NetworkPolicy rules in a real kernel", { skip, timeout: 120_000 }, () => {
  it("enforces allow-from-label and default deny, passes replies, and applies, re-applies and removes cleanly", async () => {
    const r1 = render([allowClientToWeb]);
    const r2 = render([allowClientToWeb], r1); // the same, against what r1 left
    const r3 = render([prodDenyIngress], r1); // web's policy deleted, prod denies ingress
    const removal = renderPolicyRemoval(nodes, new Map(r3.nodes.map((n) => [n.node, n.state])));
    for (const r of [r1, r2, r3]) assert.deepEqual(r.warnings, []);

    const out = sections(
      await inThrowawayNamespace(async (dir) => {
        await writeFile(path.join(dir, "plan.json"), JSON.stringify(plan));
        const apply = async (tag: string, r: PolicyRender) => {
          const lines: string[] = [];
          for (const n of r.nodes) {
            if (!n.restore) continue;
            const file = path.join(dir, `${tag}-${n.node}.rules`);
            await writeFile(file, n.restore);
            lines.push(`ip netns exec ${n.netns} iptables-restore --noflush < ${file}`);
          }
          return lines.join("\n");
        };
        return [
          `${JSON.stringify(process.execPath)} ${JSON.stringify(PROVISION)} ${JSON.stringify(path.join(dir, "plan.json"))}`,
          // Listeners in the pods; killed on exit so the namespace script ends.
          "PIDS=''",
          "trap 'kill $PIDS 2>/dev/null' EXIT",
          ...[
            [web.netns, 8080],
            [web.netns, 9090],
            [other.netns, 7000],
          ].map(([ns, port]) => `ip netns exec ${ns} nc -lk ${port} </dev/null >/dev/null 2>&1 & PIDS="$PIDS $!"`),
          "sleep 0.3",
          tcp("open: client -> web:8080", client.netns, web.address, 8080),
          tcp("open: other -> web:8080", other.netns, web.address, 8080),

          await apply("r1", r1),
          tcp("r1: client -> web:8080", client.netns, web.address, 8080),
          tcp("r1: client -> web:9090", client.netns, web.address, 9090),
          tcp("r1: other -> web:8080", other.netns, web.address, 8080),
          ping("r1: other pings web", other.netns, web.address),
          tcp("r1: node-1 -> web:8080", "node-1", web.address, 8080),
          tcp("r1: node-2 -> web:8080", "node-2", web.address, 8080),
          tcp("r1: web -> other:7000", web.netns, other.address, 7000),
          ping("r1: web pings other", web.netns, other.address),
          save("r1 node-1", "node-1"),

          await apply("r2", r2),
          save("r2 node-1", "node-1"),
          tcp("r2: client -> web:8080", client.netns, web.address, 8080),
          tcp("r2: other -> web:8080", other.netns, web.address, 8080),

          await apply("r3", r3),
          tcp("r3: other -> web:8080", other.netns, web.address, 8080),
          tcp("r3: client -> other:7000", client.netns, other.address, 7000),
          tcp("r3: node-2 -> other:7000", "node-2", other.address, 7000),
          save("r3 node-1", "node-1"),
          save("r3 node-2", "node-2"),

          await apply("removal", removal),
          save("removed node-1", "node-1"),
          save("removed node-2", "node-2"),
          tcp("removed: client -> other:7000", client.netns, other.address, 7000),
        ].join("\n");
      }),
    );

    const got = (label: string) => {
      const v = out.get(label);
      assert.ok(v !== undefined, `no output for ${label}`);
      return v.trim();
    };
    assert.equal(got("open: client -> web:8080"), "connected");
    assert.equal(got("open: other -> web:8080"), "connected");

    // Allow from a label, on one port; everything else to web dropped.
    assert.equal(got("r1: client -> web:8080"), "connected");
    assert.equal(got("r1: client -> web:9090"), "blocked", "a port the policy does not list");
    assert.equal(got("r1: other -> web:8080"), "blocked", "a pod without the label, from another node");
    assert.equal(got("r1: other pings web"), "lost");
    assert.equal(got("r1: node-1 -> web:8080"), "connected", "the pod's own node is not policed (kubelet probes)");
    assert.equal(got("r1: node-2 -> web:8080"), "blocked", "another node's host is forwarded traffic");
    // web is isolated for ingress only: what it opens gets its replies back through conntrack.
    assert.equal(got("r1: web -> other:7000"), "connected");
    assert.equal(got("r1: web pings other"), "answered");

    // What iptables-save shows is Felix's layout, hashes included, and the render reads back as its state.
    const s1 = got("r1 node-1");
    for (const l of [
      '-A INPUT -m comment --comment "cali:Cz_u1IQiXIMmKD4c" -j cali-INPUT',
      '-A FORWARD -m comment --comment "cali:wUHhoiAYhphO9Mso" -j cali-FORWARD',
      '-A FORWARD -m comment --comment "cali:S93hcgKJrXEqnTfs" -m comment --comment "Policy explicitly accepted packet." -m mark --mark 0x10000/0x10000 -j ACCEPT',
      '-A cali-FORWARD -i cali+ -m comment --comment "cali:8ZoYfO5HKXWbB3pk" -j cali-from-wl-dispatch',
    ]) {
      assert.ok(s1.split("\n").includes(l), `iptables-save lacks ${l}`);
    }
    assert.match(s1, new RegExp(`^-A cali-tw-${web.hostIface} -m comment --comment "cali:[^"]+" -m comment --comment "Drop if no policies passed packet" -m mark --mark 0x0/0x20000 -j DROP$`, "m"));
    assert.match(s1, new RegExp(`^-A cali-pi-_\\S+ -s ${client.address}/32 -p tcp -m comment --comment "cali:[^"]+" -m multiport --dports 8080 -j MARK --set-xmark 0x10000/0x10000$`, "m"));
    assert.match(s1, /^-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES$/m, "kube-proxy's rule kept");
    assert.deepEqual(parseFilterState(s1), r1.nodes[0]!.state);

    // Applying the same render again (against the state it left) changes nothing.
    assert.equal(got("r2 node-1"), s1);
    assert.equal(got("r2: client -> web:8080"), "connected");
    assert.equal(got("r2: other -> web:8080"), "blocked");

    // Web's policy gone, prod's default deny in: its chains are deleted on node-1, other is isolated.
    assert.equal(got("r3: other -> web:8080"), "connected");
    assert.equal(got("r3: client -> other:7000"), "blocked");
    assert.equal(got("r3: node-2 -> other:7000"), "connected");
    assert.doesNotMatch(got("r3 node-1"), /cali-pi-/);
    assert.match(got("r3 node-2"), /^:cali-pi-_\S+ - \[0:0\]$/m);
    assert.deepEqual(parseFilterState(got("r3 node-1")), r3.nodes[0]!.state);

    // Removal leaves nothing of Calico's, and traffic flows again.
    for (const n of ["node-1", "node-2"]) {
      const s = got(`removed ${n}`);
      assert.doesNotMatch(s, /cali/, `${n} still has Calico rules:\n${s}`);
      assert.match(s, /KUBE-SERVICES/);
    }
    assert.equal(got("removed: client -> other:7000"), "connected");
  });
});
