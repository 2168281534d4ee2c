/**
 * Calico's view of the cluster in the Kubernetes datastore: its CustomResourceDefinitions
 * (crd.projectcalico.org/v1, as kubespray installs Calico v3.22) and the objects its IPAM keeps there,
 * built from the plan, so `kubectl get ipamblocks`, `kubectl get blockaffinities -o wide` and
 * `kubectl get ippools -o yaml` tell the same story as the routes on the nodes — blocks, who holds
 * them, and which addresses a node borrowed from another node's block.
 *
 * Object shapes follow libcalico-go's KDD backend (`lib/backend/k8s/resources`, `lib/apis/v3`):
 * - IPPool `default-pool`: the pool kubespray creates (cidr, blockSize, ipipMode/vxlanMode by the
 *   backend the plan's tunnel handles show, natOutgoing true, nodeSelector `all()`).
 * - IPAMBlock `<cidr with . and / as ->`: `affinity: host:<node>`, one `allocations` slot per address
 *   (an index into `attributes`, or null), `unallocated` ordinals, `attributes` with the handle and the
 *   owner (node; namespace and pod for workloads), `strictAffinity: false`, `deleted: false`.
 * - BlockAffinity `<node>-<cidr dashed>`: `state: confirmed`, `deleted: "false"` (a string there).
 * - IPAMHandle per handle, counting its addresses per block.
 * - ClusterInformation `default`, as calico-node writes it at start-up.
 *
 * Deviation: only the CRDs whose objects the labs read carry full schemas; the others (policies,
 * BGP, Felix configuration, ...) declare `spec` as an open object.
 */
import { createHash } from "node:crypto";
import type { ClusterPlan, PlanBlock } from "../../plan.js";
import type { KObject } from "../objects.js";
import { bool, crdObject, int, list, obj, open, str } from "./crd-object.js";

const GROUP = "crd.projectcalico.org";
const VERSION = `${GROUP}/v1`;

interface CalicoKind {
  kind: string;
  plural: string;
  scope: "Namespaced" | "Cluster";
  spec?: Record<string, unknown>;
}

const handleAttrs = obj({ handle_id: str(), secondary: { additionalProperties: { type: "string" }, type: "object" } });

const KINDS: CalicoKind[] = [
  { kind: "BGPConfiguration", plural: "bgpconfigurations", scope: "Cluster" },
  { kind: "BGPPeer", plural: "bgppeers", scope: "Cluster" },
  {
    kind: "BlockAffinity",
    plural: "blockaffinities",
    scope: "Cluster",
    spec: obj({ cidr: str(), deleted: str("Deleted indicates that this block affinity is being deleted. This field is a string for compatibility with older releases that mistakenly treat this field as a string."), node: str(), state: str() }, "BlockAffinitySpec contains the specification for a BlockAffinity resource.", { required: ["cidr", "deleted", "node", "state"] }),
  },
  { kind: "CalicoNodeStatus", plural: "caliconodestatuses", scope: "Cluster" },
  {
    kind: "ClusterInformation",
    plural: "clusterinformations",
    scope: "Cluster",
    spec: obj({ calicoVersion: str("CalicoVersion is the version of Calico that the cluster is running"), clusterGUID: str("ClusterGUID is the GUID of the cluster"), clusterType: str("ClusterType describes the type of the cluster"), datastoreReady: bool("DatastoreReady is used during significant datastore migrations to signal to components such as Felix that it should wait before accessing the datastore."), variant: str("Variant declares which variant of Calico should be active.") }, "ClusterInformationSpec contains the values of describing the cluster."),
  },
  { kind: "FelixConfiguration", plural: "felixconfigurations", scope: "Cluster" },
  { kind: "GlobalNetworkPolicy", plural: "globalnetworkpolicies", scope: "Cluster" },
  { kind: "GlobalNetworkSet", plural: "globalnetworksets", scope: "Cluster" },
  { kind: "HostEndpoint", plural: "hostendpoints", scope: "Cluster" },
  {
    kind: "IPAMBlock",
    plural: "ipamblocks",
    scope: "Cluster",
    spec: obj(
      {
        affinity: str(),
        allocations: list({ type: "integer", nullable: true }),
        attributes: list(handleAttrs),
        cidr: str(),
        deleted: bool(),
        sequenceNumber: int(undefined, { default: 0, format: "int64" }),
        sequenceNumberForAllocation: { additionalProperties: { format: "int64", type: "integer" }, type: "object" },
        strictAffinity: bool(),
        unallocated: list({ type: "integer" }),
      },
      "IPAMBlockSpec contains the specification for an IPAMBlock resource.",
      { required: ["allocations", "attributes", "cidr", "strictAffinity", "unallocated"] },
    ),
  },
  { kind: "IPAMConfig", plural: "ipamconfigs", scope: "Cluster", spec: obj({ autoAllocateBlocks: bool(), maxBlocksPerHost: int("MaxBlocksPerHost, if non-zero, is the max number of blocks that can be affine to each host.", { maximum: 2147483647, minimum: 0 }), strictAffinity: bool() }, "IPAMConfigSpec contains the specification for an IPAMConfig resource.", { required: ["autoAllocateBlocks", "strictAffinity"] }) },
  { kind: "IPAMHandle", plural: "ipamhandles", scope: "Cluster", spec: obj({ block: { additionalProperties: { type: "integer" }, type: "object" }, deleted: bool(), handleID: str() }, "IPAMHandleSpec contains the specification for an IPAMHandle resource.", { required: ["block", "handleID"] }) },
  {
    kind: "IPPool",
    plural: "ippools",
    scope: "Cluster",
    spec: obj(
      {
        allowedUses: list(str(), "AllowedUse controls what the IP pool will be used for.  If not specified or empty, defaults to [\"Tunnel\", \"Workload\"] for back-compatibility"),
        blockSize: int("The block size to use for IP address assignments from this pool. Defaults to 26 for IPv4 and 122 for IPv6."),
        cidr: str("The pool CIDR."),
        disableBGPExport: bool("Disable exporting routes from this IP Pool's CIDR over BGP. [Default: false]"),
        disabled: bool("When disabled is true, Calico IPAM will not assign addresses from this pool."),
        ipip: obj({ enabled: bool(), mode: str() }, "Deprecated: this field is only used for APIv1 backwards compatibility. Setting this field is not allowed, this field is for internal use only."),
        ipipMode: str("Contains configuration for IPIP tunneling for this pool. If not specified, then this is defaulted to \"Never\" (i.e. IPIP tunneling is disabled)."),
        "nat-outgoing": bool("Deprecated: this field is only used for APIv1 backwards compatibility. Setting this field is not allowed, this field is for internal use only."),
        natOutgoing: bool("When nat-outgoing is true, packets sent from Calico networked containers in this pool to destinations outside of this pool will be masqueraded."),
        nodeSelector: str("Allows IPPool to allocate for a specific node by label selector."),
        vxlanMode: str("Contains configuration for VXLAN tunneling for this pool. If not specified, then this is defaulted to \"Never\" (i.e. VXLAN tunneling is disabled)."),
      },
      "IPPoolSpec contains the specification for an IPPool resource.",
      { required: ["cidr"] },
    ),
  },
  { kind: "IPReservation", plural: "ipreservations", scope: "Cluster" },
  { kind: "KubeControllersConfiguration", plural: "kubecontrollersconfigurations", scope: "Cluster" },
  { kind: "NetworkPolicy", plural: "networkpolicies", scope: "Namespaced" },
  { kind: "NetworkSet", plural: "networksets", scope: "Namespaced" },
];

/** Calico's CRDs, alphabetical by name as `kubectl get crd` lists them. */
export function calicoCrds(): KObject[] {
  return KINDS.map((k) =>
    crdObject({
      group: GROUP,
      kind: k.kind,
      plural: k.plural,
      scope: k.scope,
      versions: [{ name: "v1", storage: true, description: `${k.kind} is the Calico resource of that name.`, spec: k.spec ?? open(`${k.kind}Spec`) }],
    }),
  );
}

/** `10.233.64.0/25` -> `10-233-64-0-25`: how Calico names an IPAMBlock after its CIDR. */
export function blockName(cidr: string): string {
  return cidr.replace(/[./:]/g, "-");
}

function ipToInt(ip: string): number {
  return ip.split(".").reduce((a, o) => a * 256 + Number(o), 0);
}

const TUNNEL = /^(ipip|vxlan)-tunnel-addr-(.+)$/;

/** Who an allocation belongs to: Calico's `secondary` attributes of the handle. */
function owner(plan: ClusterPlan, handle: string, address: string, ts: string): Record<string, string> {
  const t = TUNNEL.exec(handle);
  if (t) return { node: t[2]!, type: t[1] === "ipip" ? "ipipTunnelAddress" : "vxlanTunnelAddress" };
  const pod = plan.pods.find((p) => p.address === address);
  return pod ? { namespace: pod.namespace, node: pod.node, pod: pod.name, timestamp: ts } : {};
}

/** The encapsulation the plan's tunnel handles show (calico-node names the handle after its device). */
function encapsulation(plan: ClusterPlan): "ipip" | "vxlan" {
  return plan.blocks.some((b) => b.allocations.some((a) => a.handle.startsWith("ipip-tunnel-addr-"))) ? "ipip" : "vxlan";
}

const METADATA_ANNOTATION = { "projectcalico.org/metadata": '{"creationTimestamp":null}' };

function ipamBlock(plan: ClusterPlan, b: PlanBlock, ts: string, seq: number): KObject {
  const [base, prefix] = b.cidr.split("/") as [string, string];
  const size = 2 ** (32 - Number(prefix));
  const start = ipToInt(base);
  const allocations: Array<number | null> = new Array<number | null>(size).fill(null);
  const attributes: Array<Record<string, unknown>> = [];
  const seqFor: Record<string, number> = {};
  for (const a of b.allocations) {
    const ordinal = ipToInt(a.address) - start;
    if (ordinal < 0 || ordinal >= size) continue;
    allocations[ordinal] = attributes.length;
    attributes.push({ handle_id: a.handle, secondary: owner(plan, a.handle, a.address, ts) });
    seqFor[String(ordinal)] = seq;
  }
  // a fresh block hands out ordinals in ascending order, so what is left is ascending too
  const unallocated = allocations.flatMap((v, i) => (v === null ? [i] : []));
  const spec: Record<string, unknown> = {
    ...(b.affinity ? { affinity: `host:${b.affinity}` } : {}),
    allocations,
    attributes,
    cidr: b.cidr,
    deleted: false,
    sequenceNumber: seq,
    sequenceNumberForAllocation: seqFor,
    strictAffinity: false,
    unallocated,
  };
  return { apiVersion: VERSION, kind: "IPAMBlock", metadata: { name: blockName(b.cidr), annotations: { ...METADATA_ANNOTATION }, creationTimestamp: ts }, spec };
}

/**
 * The Calico objects of a provisioned cluster, from the plan: the pool, ClusterInformation, every IPAM
 * block with its affinity, and every handle.
 */
export function calicoObjects(plan: ClusterPlan, createdAt: Date): Array<{ type: string; object: KObject }> {
  const ts = createdAt.toISOString().replace(/\.\d{3}Z$/, "Z");
  // Calico's sequence numbers are nanosecond clock readings
  const seq = createdAt.getTime() * 1_000_000;
  const encap = encapsulation(plan);
  const out: Array<{ type: string; object: KObject }> = [];
  const guid = createHash("sha256").update(`${plan.sandbox}/cluster`).digest("hex").slice(0, 32);
  out.push({
    type: `ippools.${GROUP}`,
    object: {
      apiVersion: VERSION,
      kind: "IPPool",
      metadata: { name: "default-pool", annotations: { "projectcalico.org/metadata": JSON.stringify({ creationTimestamp: ts }) }, creationTimestamp: ts },
      spec: { allowedUses: ["Workload", "Tunnel"], blockSize: plan.blockSize, cidr: plan.podsSubnet, ipipMode: encap === "ipip" ? "Always" : "Never", natOutgoing: true, nodeSelector: "all()", vxlanMode: encap === "vxlan" ? "Always" : "Never" },
    },
  });
  out.push({
    type: `clusterinformations.${GROUP}`,
    object: {
      apiVersion: VERSION,
      kind: "ClusterInformation",
      metadata: { name: "default", annotations: { ...METADATA_ANNOTATION }, creationTimestamp: ts },
      spec: { calicoVersion: plan.calicoVersion, clusterGUID: guid, clusterType: encap === "ipip" ? "kubespray,bgp,kubeadm,kdd" : "kubespray,kubeadm,kdd", datastoreReady: true },
    },
  });
  const handles = new Map<string, Record<string, number>>();
  for (const b of plan.blocks) {
    out.push({ type: `ipamblocks.${GROUP}`, object: ipamBlock(plan, b, ts, seq) });
    if (b.affinity) {
      out.push({
        type: `blockaffinities.${GROUP}`,
        object: { apiVersion: VERSION, kind: "BlockAffinity", metadata: { name: `${b.affinity}-${blockName(b.cidr)}`, annotations: { ...METADATA_ANNOTATION }, creationTimestamp: ts }, spec: { cidr: b.cidr, deleted: "false", node: b.affinity, state: "confirmed" } },
      });
    }
    for (const a of b.allocations) {
      const per = handles.get(a.handle) ?? {};
      per[b.cidr] = (per[b.cidr] ?? 0) + 1;
      handles.set(a.handle, per);
    }
  }
  for (const [handle, block] of [...handles.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    out.push({
      type: `ipamhandles.${GROUP}`,
      object: { apiVersion: VERSION, kind: "IPAMHandle", metadata: { name: handle.toLowerCase(), annotations: { ...METADATA_ANNOTATION }, creationTimestamp: ts }, spec: { block, deleted: false, handleID: handle } },
    });
  }
  return out;
}
