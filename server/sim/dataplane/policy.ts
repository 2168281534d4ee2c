/**
 * Kubernetes NetworkPolicy enforcement the way Calico's Felix (iptables dataplane, the v3.22 that the
 * modelled kubespray v2.19 ships) programs the `filter` table of a node: a pure renderer from pods,
 * namespaces and NetworkPolicy objects to the `iptables-restore --noflush` input of every node.
 *
 * Layout, as `iptables-save` shows it on a Calico node:
 * - hooks: `INPUT -j cali-INPUT`, `FORWARD -j cali-FORWARD`, `OUTPUT -j cali-OUTPUT` inserted at the top,
 *   and at the end of FORWARD "Policy explicitly accepted packet." (ACCEPT on the accept mark 0x10000);
 * - `cali-FORWARD` sends `-i cali+` to `cali-from-wl-dispatch` and `-o cali+` to `cali-to-wl-dispatch`,
 *   which `--goto` the per-endpoint chains `cali-fw-<iface>` (from the workload: pod egress) and
 *   `cali-tw-<iface>` (to the workload: pod ingress), Felix's prefix tree of child dispatch chains
 *   included, and drop "Unknown interface";
 * - an endpoint chain accepts RELATED,ESTABLISHED first, drops INVALID, then jumps to the policy chains
 *   `cali-pi-_<hash>` / `cali-po-_<hash>` of the NetworkPolicies that select the pod ("Return if policy
 *   accepted", "Drop if no policies passed packet"), then to the namespace's profile `cali-pri-kns.<ns>`
 *   (allow all, as Calico's kdd namespace profiles) and the service account's `cali-pri-ksa.<ns>.<sa>`;
 * - traffic from a pod to its own node goes `cali-INPUT -> cali-wl-to-host -> cali-from-wl-dispatch`
 *   (egress policy applies), then DefaultEndpointToHostAction (kubespray's default RETURN);
 * - traffic from the node itself to a local pod is not policed (`cali-OUTPUT -o cali+ -j RETURN`), as
 *   Felix does (kubelet probes keep working under a default deny); traffic from another node's host to
 *   a pod is forwarded, so the pod's ingress policy applies to it.
 *
 * Chain names and the `cali:<hash>` rule comments are computed exactly as Felix computes them, so they
 * match a real node for the same rule text. The one structural deviation: Felix matches selectors with
 * ipsets (`-m set --match-set cali40s:<id> src`, named ports with `hash:ip,port` sets); no ipset module
 * is guaranteed here, so every set is expanded into one rule per address (`--source <ip>/32`, and
 * `--destination <ip>/32 -m multiport --destination-ports <port>` for named ports), followed by the
 * rule's single "-m mark --mark 0x10000/0x10000 --jump RETURN".
 *
 * Idempotence: applied with `iptables-restore --noflush`, every chain is declared (`:chain - [0:0]`,
 * which flushes an existing chain), hooks are added only when `current` does not hold them, and chains
 * of pods and policies that are gone are flushed and deleted (`-X`). `current` is what the node's filter
 * table holds now: its `iptables-save -t filter` output, or the `state` of the previous render.
 */
import { createHash } from "node:crypto";
import { selectorMatches } from "../apiserver/selectors.js";
import { containsIp, formatCidr, isIpv4, parseCidr, parseIp } from "../net/cidr.js";
import { iptablesRestoreInput } from "./execute.js";
import type { NetOp } from "./ops.js";

/** A pod on the pod network (one with a `cali…` veth). Host-networked pods have no Calico endpoint: leave them out. */
export interface PolicyPod {
  namespace: string;
  name: string;
  /** Node name, as in `PolicyNode.name`. */
  node: string;
  address: string;
  labels?: Record<string, string>;
  /** The node-side veth (`caliIfaceName`). */
  hostIface: string;
  /** Container ports of all its containers, for named ports (`port: http` in a policy). */
  ports?: Array<{ name?: string; containerPort: number; protocol?: string }>;
  /** Service account (Calico's `ksa.<ns>.<sa>` profile); "default" when absent. */
  serviceAccount?: string;
}

export interface PolicyNamespace {
  name: string;
  labels?: Record<string, string>;
}

export interface PolicyNode {
  name: string;
  /** The node's network namespace inside the sandbox; the node name when absent. */
  netns?: string;
}

export interface LabelSelector {
  matchLabels?: Record<string, string> | null;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] | null }> | null;
}

export interface NetworkPolicyPeer {
  podSelector?: LabelSelector | null;
  namespaceSelector?: LabelSelector | null;
  ipBlock?: { cidr: string; except?: string[] | null } | null;
}

export interface NetworkPolicyPort {
  protocol?: string | null;
  port?: number | string | null;
  endPort?: number | null;
}

/** networking.k8s.io/v1 NetworkPolicy as the API stores it, as far as enforcement reads it. */
export interface NetworkPolicy {
  metadata?: { name?: string; namespace?: string };
  spec?: {
    podSelector?: LabelSelector | null;
    policyTypes?: string[] | null;
    ingress?: Array<{ from?: NetworkPolicyPeer[] | null; ports?: NetworkPolicyPort[] | null }> | null;
    egress?: Array<{ to?: NetworkPolicyPeer[] | null; ports?: NetworkPolicyPort[] | null }> | null;
  };
}

/** What a node's filter table holds of Calico's: `cali-*` chains and the hook rules (by their `cali:` hash). */
export interface FilterState {
  chains: string[];
  hooks: string[];
}

/** Per node name: its `iptables-save -t filter` output, or the `state` the previous render returned. */
export type CurrentFilters = ReadonlyMap<string, FilterState | string> | Readonly<Record<string, FilterState | string>>;

/** Felix settings that change the rendered rules (FelixConfiguration names). */
export interface FelixOptions {
  /** What happens to pod-to-own-node traffic that egress policy allowed. Kubespray's default: RETURN. */
  defaultEndpointToHostAction?: "RETURN" | "ACCEPT" | "DROP";
  /** Felix drops conntrack INVALID packets in every endpoint chain unless this is set. */
  disableConntrackInvalidCheck?: boolean;
  /** Felix drops VXLAN (udp/4789) and IPIP sent by pods unless these are set. */
  allowVXLANPacketsFromWorkloads?: boolean;
  allowIPIPPacketsFromWorkloads?: boolean;
}

export interface PolicyInput {
  /** Every node to program, pods or not. */
  nodes: PolicyNode[];
  /** Every pod of the cluster: local ones get endpoint chains, all of them are peers. */
  pods: PolicyPod[];
  /** Namespaces with their labels; `kubernetes.io/metadata.name` is added as the API server does. */
  namespaces?: PolicyNamespace[];
  policies: NetworkPolicy[];
  /** What each node's filter table holds now; a node missing here is taken to hold nothing of Calico's. */
  current?: CurrentFilters;
  felix?: FelixOptions;
}

export interface NodeFilterRender {
  node: string;
  netns: string;
  /** The filter-table NetOps, in order; `executeOps` runs them as one `iptables-restore --noflush`. */
  ops: NetOp[];
  /** The same as complete `iptables-restore` input (`*filter … COMMIT`). */
  restore: string;
  /** What the table holds once applied: pass it as `current` to the next render or removal. */
  state: FilterState;
}

export interface PolicyRender {
  nodes: NodeFilterRender[];
  /** Policies or peers skipped, and why (what Calico would log). */
  warnings: string[];
}

// Felix's mark bits with the default IptablesMarkMask 0xffff0000.
const MARK_ACCEPT = 0x10000;
const MARK_PASS = 0x20000;
const MARK_SCRATCH0 = 0x40000;
const MARK_SCRATCH1 = 0x80000;
const MARK_ALL = MARK_ACCEPT | MARK_PASS | MARK_SCRATCH0 | MARK_SCRATCH1;
const MAX_CHAIN_NAME = 28;
const VXLAN_PORT = 4789;

const hex = (n: number) => (n === 0 ? "0" : "0x" + n.toString(16));
const markClear = (m: number) => `-m mark --mark 0/${hex(m)}`;
const markSet = (m: number) => `-m mark --mark ${hex(m)}/${hex(m)}`;
const setMark = (m: number, mask = m) => `--jump MARK --set-mark ${hex(m)}/${hex(mask)}`;
const clearMark = (m: number) => `--jump MARK --set-mark 0/${hex(m)}`;

/** One rule in Felix's rendering: comment, then match, then action (long options, as Felix writes them). */
interface Rule {
  comment?: string;
  match?: string;
  action: string;
}

interface Chain {
  name: string;
  rules: Rule[];
}

const body = (r: Rule) => [r.comment ? `-m comment --comment "${r.comment}"` : "", r.match ?? "", r.action].filter(Boolean).join(" ");

/**
 * Felix's rule hashes: sha224 chained from the chain name over each rule rendered as
 * `-A <chain> HASH <rule>`, URL-safe base64, 16 characters (felix/iptables Chain.RuleHashes).
 */
function ruleHashes(chain: string, rules: Rule[]): string[] {
  let h = createHash("sha224").update(chain).digest();
  return rules.map((r) => {
    h = createHash("sha224").update(h).update(`-A ${chain} HASH ${body(r)}`).digest();
    return h.toString("base64url").slice(0, 16);
  });
}

const line = (verb: string, hash: string, r: Rule) => `${verb} -m comment --comment "cali:${hash}" ${body(r)}`;

/** Felix's hashutils.GetLengthLimitedID: the name as is if it fits in 28 characters, else `_` + a hash. */
function limitedName(prefix: string, suffix: string): string {
  const total = prefix.length + suffix.length;
  if (total < MAX_CHAIN_NAME || (total === MAX_CHAIN_NAME && !suffix.startsWith("_"))) return prefix + suffix;
  return prefix + "_" + createHash("sha256").update(suffix).digest("base64url").slice(0, MAX_CHAIN_NAME - 1 - prefix.length);
}

// ---------------------------------------------------------------------------------------------------
// Static chains and hooks

interface Hook {
  chain: "INPUT" | "FORWARD" | "OUTPUT";
  insert: boolean;
  rule: Rule;
  hash: string;
}

/** The hook rules Felix puts into the built-in chains (appends are hashed under `FORWARD*appends*`). */
const HOOKS: Hook[] = (() => {
  const inserts = (["INPUT", "FORWARD", "OUTPUT"] as const).map((chain): Hook => {
    const rule = { action: `--jump cali-${chain}` };
    return { chain, insert: true, rule, hash: ruleHashes(chain, [rule])[0]! };
  });
  const appendRules: Rule[] = [
    { comment: "Policy explicitly accepted packet.", match: markSet(MARK_ACCEPT), action: "--jump ACCEPT" },
    { action: setMark(MARK_ACCEPT) },
  ];
  const hashes = ruleHashes("FORWARD*appends*", appendRules);
  return [...inserts, ...appendRules.map((rule, i): Hook => ({ chain: "FORWARD", insert: false, rule, hash: hashes[i]! }))];
})();

const hookLine = (h: Hook, verb: "add" | "delete") =>
  line(verb === "delete" ? `-D ${h.chain}` : h.insert ? `-I ${h.chain} 1` : `-A ${h.chain}`, h.hash, h.rule);

function staticChains(felix: FelixOptions): Chain[] {
  const acceptedHost = { comment: "Host endpoint policy accepted packet.", match: markSet(MARK_ACCEPT), action: "--jump ACCEPT" };
  return [
    {
      name: "cali-FORWARD",
      rules: [
        // Clear every Calico bit but "accept", which raw/mangle chains use to pass a verdict on.
        { action: clearMark(MARK_ALL & ~MARK_ACCEPT) },
        { match: markClear(MARK_ACCEPT), action: "--jump cali-from-hep-forward" },
        { match: "--in-interface cali+", action: "--jump cali-from-wl-dispatch" },
        { match: "--out-interface cali+", action: "--jump cali-to-wl-dispatch" },
        { action: "--jump cali-to-hep-forward" },
        { action: "--jump cali-cidr-block" },
      ],
    },
    {
      // No IPIP/VXLAN here, so none of Felix's encapsulation rules (they match ipsets of host addresses).
      name: "cali-INPUT",
      rules: [
        { match: "--in-interface cali+", action: "--goto cali-wl-to-host" },
        { match: markSet(MARK_ACCEPT), action: "--jump ACCEPT" },
        { action: clearMark(MARK_ALL) },
        { action: "--jump cali-from-host-endpoint" },
        acceptedHost,
      ],
    },
    {
      name: "cali-OUTPUT",
      rules: [
        { match: markSet(MARK_ACCEPT), action: "--jump ACCEPT" },
        // Felix does not police host -> local workload: the workload's ingress policy is not applied.
        { match: "--out-interface cali+", action: "--jump RETURN" },
        { action: clearMark(MARK_ALL) },
        { match: "-m conntrack ! --ctstate DNAT", action: "--jump cali-to-host-endpoint" },
        acceptedHost,
      ],
    },
    {
      name: "cali-wl-to-host",
      rules: [
        { action: "--jump cali-from-wl-dispatch" },
        { comment: "Configured DefaultEndpointToHostAction", action: `--jump ${felix.defaultEndpointToHostAction ?? "RETURN"}` },
      ],
    },
    // Host endpoint and service-loop chains: there are no host endpoints in a sim sandbox, so empty.
    ...["cali-from-hep-forward", "cali-to-hep-forward", "cali-from-host-endpoint", "cali-to-host-endpoint", "cali-cidr-block"].map((name) => ({ name, rules: [] })),
  ];
}

/**
 * Felix's dispatch chains: interfaces sorted, binned by the character after their common prefix; a bin
 * of one is dispatched from the root chain, a bigger bin through a child chain `<root>-<char>`.
 */
function dispatchChains(root: string, ifaces: string[], flag: "--in-interface" | "--out-interface", endpointPrefix: string): Chain[] {
  const names = [...new Set(ifaces)].sort();
  const unknown: Rule = { comment: "Unknown interface", action: "--jump DROP" };
  let common = names[0] ?? "";
  for (const n of names) while (!n.startsWith(common)) common = common.slice(0, -1);
  const bins = new Map<string, string[]>();
  for (const n of names) {
    const prefix = n.length > common.length ? n.slice(0, common.length + 1) : common;
    bins.set(prefix, [...(bins.get(prefix) ?? []), n]);
  }
  const toEndpoint = (n: string): Rule => ({ match: `${flag} ${n}`, action: `--goto ${limitedName(endpointPrefix, n)}` });
  const children: Chain[] = [];
  const rootRules: Rule[] = [];
  for (const [prefix, members] of bins) {
    if (members.length === 1) {
      rootRules.push(toEndpoint(members[0]!));
      continue;
    }
    const child = `${root}-${prefix.slice(common.length)}`;
    rootRules.push({ match: `${flag} ${prefix}+`, action: `--goto ${child}` });
    children.push({ name: child, rules: [...members.map(toEndpoint), unknown] });
  }
  return [...children, { name: root, rules: [...rootRules, unknown] }];
}

function endpointChain(name: string, fromWorkload: boolean, policyChains: string[], profileChains: string[], felix: FelixOptions): Chain {
  const rules: Rule[] = [{ match: "-m conntrack --ctstate RELATED,ESTABLISHED", action: "--jump ACCEPT" }];
  if (!felix.disableConntrackInvalidCheck) rules.push({ match: "-m conntrack --ctstate INVALID", action: "--jump DROP" });
  rules.push({ action: clearMark(MARK_ACCEPT) });
  if (fromWorkload && !felix.allowVXLANPacketsFromWorkloads) {
    rules.push({ comment: "Drop VXLAN encapped packets originating in pods", match: `-p 17 -m multiport --destination-ports ${VXLAN_PORT}`, action: "--jump DROP" });
  }
  if (fromWorkload && !felix.allowIPIPPacketsFromWorkloads) {
    rules.push({ comment: "Drop IPinIP encapped packets originating in pods", match: "-p 4", action: "--jump DROP" });
  }
  if (policyChains.length) {
    rules.push({ comment: "Start of policies", action: clearMark(MARK_PASS) });
    for (const p of policyChains) {
      rules.push({ match: markClear(MARK_PASS), action: `--jump ${p}` });
      rules.push({ comment: "Return if policy accepted", match: markSet(MARK_ACCEPT), action: "--jump RETURN" });
    }
    rules.push({ comment: "Drop if no policies passed packet", match: markClear(MARK_PASS), action: "--jump DROP" });
  }
  for (const p of profileChains) {
    rules.push({ action: `--jump ${p}` });
    rules.push({ comment: "Return if profile accepted", match: markSet(MARK_ACCEPT), action: "--jump RETURN" });
  }
  rules.push({ comment: "Drop if no profiles matched", action: "--jump DROP" });
  return { name, rules };
}

// ---------------------------------------------------------------------------------------------------
// NetworkPolicy -> Calico rules (libcalico-go's k8s conversion), then Calico rules -> iptables rules

type Direction = "ingress" | "egress";

type Peer = { kind: "any" } | { kind: "pods"; pods: PolicyPod[] } | { kind: "net"; cidr: string; except: string[] };

interface CalicoRule {
  /** Lower-case protocol name as Felix renders it; undefined = any protocol. */
  protocol?: string;
  peer: Peer;
  /** Destination ports; undefined = all. Numeric ranges merged as Calico's SimplifyPorts does. */
  ports?: { ranges: Array<[number, number]>; named: string[] };
}

interface ConvertedPolicy {
  /** Calico's name for it: `<namespace>/knp.default.<name>`. */
  id: string;
  namespace: string;
  selects: (pod: PolicyPod) => boolean;
  types: Set<Direction>;
  rules: Record<Direction, CalicoRule[]>;
}

interface Cluster {
  pods: PolicyPod[];
  nsLabels: (ns: string) => Record<string, string>;
}

/** Selector match that turns an invalid selector into a policy-level error. */
function matcher(sel: LabelSelector | null | undefined): (labels: Record<string, string>) => boolean {
  const s = (sel ?? {}) as Parameters<typeof selectorMatches>[0];
  for (const e of sel?.matchExpressions ?? []) {
    if (!["In", "NotIn", "Exists", "DoesNotExist"].includes(e.operator)) throw new Error(`${JSON.stringify(e.operator)} is not a valid label selector operator`);
  }
  return (labels) => selectorMatches(s, labels);
}

function normaliseCidr(text: string): string | null {
  try {
    return formatCidr(parseCidr(text, { strict: false }));
  } catch {
    return null;
  }
}

function convertPeer(peer: NetworkPolicyPeer | undefined, policyNs: string, cluster: Cluster, warn: (m: string) => void): Peer | null {
  if (!peer) return { kind: "any" };
  if (peer.ipBlock) {
    const cidrText = peer.ipBlock.cidr;
    // Felix renders IPv6 nets into ip6tables only: for IPv4 a rule on an IPv6 block matches nothing.
    if (!isIpv4(cidrText.split("/")[0] ?? "")) {
      if (!cidrText.includes(":")) warn(`ipBlock ${JSON.stringify(cidrText)} is not a CIDR; rule skipped`);
      return null;
    }
    const cidr = normaliseCidr(cidrText);
    if (!cidr) {
      warn(`ipBlock ${JSON.stringify(cidrText)} is not a CIDR; rule skipped`);
      return null;
    }
    const except = (peer.ipBlock.except ?? []).filter((e) => !e.includes(":")).map((e) => normaliseCidr(e));
    if (except.includes(null)) {
      warn(`ipBlock except ${JSON.stringify(peer.ipBlock.except)} holds something that is not a CIDR; rule skipped`);
      return null;
    }
    return { kind: "net", cidr, except: except as string[] };
  }
  // A missing podSelector selects every pod; a missing namespaceSelector means the policy's namespace.
  const podOk = matcher(peer.podSelector);
  const nsSel = peer.namespaceSelector;
  const nsOk = nsSel ? matcher(nsSel) : null;
  const pods = cluster.pods.filter((p) => (nsOk ? nsOk(cluster.nsLabels(p.namespace)) : p.namespace === policyNs) && podOk(p.labels ?? {}));
  return { kind: "pods", pods };
}

/** Port list -> protocol groups, as k8sRuleToCalico: sorted by protocol, "all ports" wins, ranges merged. */
function convertPorts(ports: NetworkPolicyPort[] | null | undefined): Array<{ protocol?: string; ports?: CalicoRule["ports"] }> {
  if (!ports || ports.length === 0) return [{}];
  const byProto = new Map<string, { all: boolean; numbers: Array<[number, number]>; named: string[] }>();
  for (const p of ports) {
    const proto = (p.protocol ?? "TCP").toUpperCase();
    const g = byProto.get(proto) ?? { all: false, numbers: [], named: [] };
    byProto.set(proto, g);
    if (p.port === undefined || p.port === null) g.all = true;
    else if (typeof p.port === "number" || /^\d+$/.test(p.port)) {
      const first = Number(p.port);
      g.numbers.push([first, p.endPort ?? first]);
    } else g.named.push(p.port);
  }
  return [...byProto.keys()].sort().map((proto) => {
    const g = byProto.get(proto)!;
    return { protocol: proto.toLowerCase(), ...(g.all ? {} : { ports: { ranges: simplifyPorts(g.numbers), named: [...new Set(g.named)] } }) };
  });
}

function simplifyPorts(ranges: Array<[number, number]>): Array<[number, number]> {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const [a, b] of sorted) {
    const last = out[out.length - 1];
    if (last && a <= last[1] + 1) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

function convertPolicy(np: NetworkPolicy, cluster: Cluster, warnings: string[]): ConvertedPolicy | null {
  const namespace = np.metadata?.namespace || "default";
  const name = np.metadata?.name ?? "";
  const id = `${namespace}/knp.default.${name}`;
  const spec = np.spec ?? {};
  const warn = (m: string) => warnings.push(`NetworkPolicy ${namespace}/${name}: ${m}`);
  try {
    const podOk = matcher(spec.podSelector);
    // The API server's defaulting: Ingress always, Egress when there are egress rules.
    const declared = spec.policyTypes?.length ? spec.policyTypes : ["Ingress", ...(spec.egress?.length ? ["Egress"] : [])];
    const types = new Set<Direction>(declared.flatMap((t): Direction[] => (t === "Ingress" ? ["ingress"] : t === "Egress" ? ["egress"] : [])));
    const rules: Record<Direction, CalicoRule[]> = { ingress: [], egress: [] };
    const sections: Array<[Direction, Array<{ peers?: NetworkPolicyPeer[] | null; ports?: NetworkPolicyPort[] | null }>]> = [
      ["ingress", (spec.ingress ?? []).map((r) => ({ peers: r.from, ports: r.ports }))],
      ["egress", (spec.egress ?? []).map((r) => ({ peers: r.to, ports: r.ports }))],
    ];
    for (const [dir, list] of sections) {
      for (const r of list) {
        const peers = r.peers?.length ? r.peers : [undefined];
        for (const group of convertPorts(r.ports)) {
          for (const peer of peers) {
            const converted = convertPeer(peer, namespace, cluster, warn);
            if (converted) rules[dir].push({ ...group, peer: converted });
          }
        }
      }
    }
    return { id, namespace, selects: (p) => p.namespace === namespace && podOk(p.labels ?? {}), types, rules };
  } catch (e) {
    warn(`${(e as Error).message}; policy ignored`);
    return null;
  }
}

/** Addresses of `pods` having container port `name` for `protocol`, with that port number. */
function namedPortTargets(pods: PolicyPod[], name: string, protocol: string): Array<{ address: string; port: number }> {
  const out: Array<{ address: string; port: number }> = [];
  for (const p of pods) {
    const cp = (p.ports ?? []).find((c) => c.name === name && (c.protocol ?? "TCP").toLowerCase() === protocol);
    if (cp) out.push({ address: p.address, port: cp.containerPort });
  }
  return out;
}

/** Multiport lists of at most 15 slots (a range takes two), as Felix's SplitPortList. */
function multiportSplits(ranges: Array<[number, number]>): string[] {
  const splits: string[][] = [];
  let cur: string[] = [];
  let slots = 15;
  for (const [a, b] of ranges) {
    const need = a === b ? 1 : 2;
    if (slots < need) {
      splits.push(cur);
      cur = [];
      slots = 15;
    }
    cur.push(a === b ? `${a}` : `${a}:${b}`);
    slots -= need;
  }
  if (cur.length) splits.push(cur);
  return splits.map((s) => s.join(","));
}

/**
 * One Calico allow rule as iptables rules: alternatives (one per expanded set member) that set the
 * accept mark, then the RETURN on it. An ipBlock `except` is Felix's negated match block on scratch marks.
 */
function renderCalicoRule(rule: CalicoRule, dir: Direction, selected: PolicyPod[], allPods: PolicyPod[]): Rule[] {
  const peerFlag = dir === "ingress" ? "--source" : "--destination";
  const { peer, protocol, ports } = rule;
  let peerNets: Array<string | undefined>;
  if (peer.kind === "any") peerNets = [undefined];
  else if (peer.kind === "net") peerNets = [peer.cidr];
  else peerNets = peer.pods.map((p) => `${p.address}/32`);

  // Destination alternatives from the ports: numeric multiport splits, and named ports resolved on the
  // destination pods (the selected pods for ingress, the peer pods for egress).
  type PortAlt = { dst?: string; ports?: string };
  let portAlts: PortAlt[] = [{}];
  if (ports) {
    portAlts = multiportSplits(ports.ranges).map((p) => ({ ports: p }));
    for (const name of ports.named) {
      let holders = dir === "ingress" ? selected : peer.kind === "pods" ? peer.pods : allPods;
      if (dir === "egress" && peer.kind === "net") holders = holders.filter((p) => containsIp(parseCidr(peer.cidr), parseIp(p.address)));
      for (const t of namedPortTargets(holders, name, protocol ?? "")) portAlts.push({ dst: `${t.address}/32`, ports: `${t.port}` });
    }
  }

  const out: Rule[] = [];
  const except = peer.kind === "net" ? peer.except : [];
  if (except.length) {
    out.push({ action: setMark(MARK_SCRATCH0, MARK_SCRATCH0 | MARK_SCRATCH1) });
    for (const e of except) out.push({ match: `${peerFlag} ${e}`, action: clearMark(MARK_SCRATCH0) });
  }
  const alts: Rule[] = [];
  for (const net of peerNets) {
    for (const alt of portAlts) {
      let src: string | undefined;
      let dst: string | undefined;
      if (dir === "ingress") [src, dst] = [net, alt.dst];
      else if (alt.dst) {
        // A named port's holder is inside the peer (same pod, or inside the block): its /32 is the match.
        if (peer.kind === "pods" && alt.dst !== net) continue;
        dst = alt.dst;
      } else dst = net;
      const match = [
        protocol ? `-p ${protocol}` : "",
        src ? `--source ${src}` : "",
        dst ? `--destination ${dst}` : "",
        alt.ports ? `-m multiport --destination-ports ${alt.ports}` : "",
        except.length ? markSet(MARK_SCRATCH0) : "",
      ].filter(Boolean);
      alts.push({ ...(match.length ? { match: match.join(" ") } : {}), action: setMark(MARK_ACCEPT) });
    }
  }
  if (!alts.length) return [];
  return [...out, ...alts, { match: markSet(MARK_ACCEPT), action: "--jump RETURN" }];
}

// ---------------------------------------------------------------------------------------------------
// Current state, assembly

/**
 * What of Calico's a filter table holds, from `iptables-save` (or `iptables -S`) output: the `cali-`
 * chains and the hashes of the hook rules present in INPUT, FORWARD and OUTPUT.
 */
export function parseFilterState(iptablesSave: string): FilterState {
  const chains = new Set<string>();
  const hooks = new Set<string>();
  const known = new Set(HOOKS.map((h) => h.hash));
  let table = "filter";
  for (const raw of iptablesSave.split("\n")) {
    const l = raw.trim();
    if (l.startsWith("*")) table = l.slice(1);
    if (table !== "filter") continue;
    const chain = /^(?::|-N )(cali-\S+)/.exec(l);
    if (chain) chains.add(chain[1]!);
    const hook = /^-A (?:INPUT|FORWARD|OUTPUT) .*cali:([A-Za-z0-9_-]{16})/.exec(l);
    if (hook && known.has(hook[1]!)) hooks.add(hook[1]!);
  }
  return { chains: [...chains].sort(), hooks: [...hooks].sort() };
}

function currentFor(current: CurrentFilters | undefined, node: string): FilterState {
  const v = current instanceof Map ? current.get(node) : (current as Record<string, FilterState | string> | undefined)?.[node];
  if (v === undefined) return { chains: [], hooks: [] };
  return typeof v === "string" ? parseFilterState(v) : v;
}

function nodeOutput(node: PolicyNode, lines: string[], state: FilterState): NodeFilterRender {
  const netns = node.netns ?? node.name;
  const ops: NetOp[] = lines.map((rule) => ({ kind: "iptables", netns, table: "filter", rule }));
  return { node: node.name, netns, ops, restore: ops.length ? iptablesRestoreInput(ops) : "", state };
}

/** Declarations, missing hooks, rules, then flush-and-delete of the `cali-` chains that are no longer wanted. */
function assemble(node: PolicyNode, chains: Chain[], current: FilterState): NodeFilterRender {
  const sorted = [...chains].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const wanted = new Set(sorted.map((c) => c.name));
  const stale = current.chains.filter((c) => c.startsWith("cali-") && !wanted.has(c)).sort();
  const lines = [...sorted.map((c) => `:${c.name} - [0:0]`), ...stale.map((c) => `:${c} - [0:0]`)];
  for (const h of HOOKS) if (!current.hooks.includes(h.hash)) lines.push(hookLine(h, "add"));
  for (const c of sorted) {
    const hashes = ruleHashes(c.name, c.rules);
    c.rules.forEach((r, i) => lines.push(line(`-A ${c.name}`, hashes[i]!, r)));
  }
  for (const c of stale) lines.push(`-X ${c}`);
  return nodeOutput(node, lines, { chains: [...wanted].sort(), hooks: HOOKS.map((h) => h.hash).sort() });
}

function sortById<T extends { id: string }>(list: T[]): T[] {
  return [...list].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * The filter table Felix would program on every node for these pods and NetworkPolicies.
 *
 * @example
 * const r = renderNetworkPolicies({
 *   nodes: [{ name: "worker-1" }],
 *   pods: [{ namespace: "default", name: "web", node: "worker-1", address: "10.233.64.2", hostIface: "cali1234567890a", labels: { app: "web" } }],
 *   policies: [{ metadata: { name: "deny", namespace: "default" }, spec: { podSelector: {}, policyTypes: ["Ingress"] } }],
 * });
 * await executeOps(r.nodes.flatMap((n) => n.ops)); // later renders pass `current: { "worker-1": r.nodes[0].state }`
 */
export function renderNetworkPolicies(input: PolicyInput): PolicyRender {
  const felix = input.felix ?? {};
  const warnings: string[] = [];
  const nsLabelMap = new Map((input.namespaces ?? []).map((n) => [n.name, n.labels ?? {}]));
  const cluster: Cluster = {
    pods: input.pods,
    nsLabels: (ns) => ({ ...(nsLabelMap.get(ns) ?? {}), "kubernetes.io/metadata.name": ns }),
  };
  const policies = sortById(input.policies.flatMap((np) => convertPolicy(np, cluster, warnings) ?? []));
  for (const p of input.pods) {
    if (!p.hostIface.startsWith("cali")) warnings.push(`pod ${p.namespace}/${p.name}: interface ${p.hostIface} is not cali+, so Calico's dispatch never sees its traffic`);
  }

  const nodes = input.nodes.map((node) => {
    const local = input.pods.filter((p) => p.node === node.name);
    const chains = new Map<string, Chain>();
    const add = (c: Chain) => chains.set(c.name, c);
    staticChains(felix).forEach(add);
    dispatchChains("cali-from-wl-dispatch", local.map((p) => p.hostIface), "--in-interface", "cali-fw-").forEach(add);
    dispatchChains("cali-to-wl-dispatch", local.map((p) => p.hostIface), "--out-interface", "cali-tw-").forEach(add);
    for (const pod of local) {
      for (const dir of ["ingress", "egress"] as const) {
        const [polPfx, proPfx, epPfx] = dir === "ingress" ? ["cali-pi-", "cali-pri-", "cali-tw-"] : ["cali-po-", "cali-pro-", "cali-fw-"];
        const applying = policies.filter((p) => p.types.has(dir) && p.selects(pod));
        for (const p of applying) {
          const name = limitedName(polPfx, p.id);
          if (chains.has(name)) continue;
          const selected = input.pods.filter(p.selects);
          add({ name, rules: p.rules[dir].flatMap((r) => renderCalicoRule(r, dir, selected, input.pods)) });
        }
        const kns = limitedName(proPfx, `kns.${pod.namespace}`);
        const ksa = limitedName(proPfx, `ksa.${pod.namespace}.${pod.serviceAccount ?? "default"}`);
        // Calico's kdd profiles: the namespace's allows everything, the service account's has no rules.
        add({ name: kns, rules: [{ action: setMark(MARK_ACCEPT) }, { match: markSet(MARK_ACCEPT), action: "--jump RETURN" }] });
        add({ name: ksa, rules: [] });
        const policyChains = applying.map((p) => limitedName(polPfx, p.id));
        add(endpointChain(limitedName(epPfx, pod.hostIface), dir === "egress", policyChains, [kns, ksa], felix));
      }
    }
    return assemble(node, [...chains.values()], currentFor(input.current, node.name));
  });
  // A peer is converted once per protocol of its rule, so the same complaint can come several times.
  return { nodes, warnings: [...new Set(warnings)] };
}

/**
 * Removes everything Calico's of the filter table again: the hooks (by their exact rule), then every
 * `cali-` chain, flushed and deleted. `current` as for the render; a node missing there has nothing to remove.
 *
 * @example renderPolicyRemoval([{ name: "worker-1" }], { "worker-1": await iptablesSave("worker-1") })
 */
export function renderPolicyRemoval(nodes: PolicyNode[], current: CurrentFilters): PolicyRender {
  return {
    nodes: nodes.map((node) => {
      const cur = currentFor(current, node.name);
      const chains = cur.chains.filter((c) => c.startsWith("cali-")).sort();
      const lines = [
        ...HOOKS.filter((h) => cur.hooks.includes(h.hash)).map((h) => hookLine(h, "delete")),
        ...chains.map((c) => `:${c} - [0:0]`),
        ...chains.map((c) => `-X ${c}`),
      ];
      return nodeOutput(node, lines, { chains: [], hooks: [] });
    }),
    warnings: [],
  };
}
