/**
 * MetalLB's CustomResourceDefinitions (metallb.io), as its v0.13 manifests install them
 * [metallb `config/crd/bases`, `config/manifests/metallb-native.yaml`]: IPAddressPool, L2Advertisement,
 * BGPAdvertisement, BGPPeer (v1beta1 and v1beta2, v1beta2 stored), BFDProfile and Community, with their
 * additionalPrinterColumns and schemas (descriptions shortened). The columns are those of the
 * v0.13.10 manifests; earlier v0.13 releases print NAME and AGE only.
 *
 * Deviation: BGPPeer's real conversion strategy is a webhook served by the MetalLB controller; here
 * versions convert by rewriting apiVersion (strategy None), so reading v1beta1 never calls out.
 */
import type { KObject } from "../objects.js";
import { bool, crdObject, int, labelSelector, list, obj, str } from "./crd-object.js";

const GROUP = "metallb.io";
const ANNOTATIONS = { "controller-gen.kubebuilder.io/version": "v0.11.1" };

function selectors(what: string): Record<string, unknown> {
  return list(labelSelector("A label selector is a label query over a set of resources. The result of matchLabels and matchExpressions are ANDed. An empty label selector matches all objects. A null label selector matches no objects."), what);
}

const ipAddressPool = crdObject({
  group: GROUP,
  kind: "IPAddressPool",
  plural: "ipaddresspools",
  scope: "Namespaced",
  annotations: ANNOTATIONS,
  versions: [
    {
      name: "v1beta1",
      storage: true,
      statusSubresource: true,
      description: "IPAddressPool represents a pool of IP addresses that can be allocated to LoadBalancer services.",
      columns: [
        { jsonPath: ".spec.autoAssign", name: "Auto Assign", type: "boolean" },
        { jsonPath: ".spec.avoidBuggyIPs", name: "Avoid Buggy IPs", type: "boolean" },
        { jsonPath: ".spec.addresses", name: "Addresses", type: "string" },
      ],
      required: ["spec"],
      spec: obj(
        {
          addresses: list(str(), "A list of IP address ranges over which MetalLB has authority. You can list multiple ranges in a single pool, they will all share the same settings. Each range can be either a CIDR prefix, or an explicit start-end range of IPs."),
          autoAssign: bool("AutoAssign flag used to prevent MetallB from automatic allocation for a pool.", { default: true }),
          avoidBuggyIPs: bool("AvoidBuggyIPs prevents addresses ending with .0 and .255 to be used by a pool.", { default: false }),
          serviceAllocation: obj(
            {
              namespaceSelectors: selectors("NamespaceSelectors list of label selectors to select namespace(s) for ip pool, an alternative to using namespace list."),
              namespaces: list(str(), "Namespaces list of namespace(s) on which ip pool can be attached."),
              priority: int("Priority priority given for ip pool while ip allocation on a service."),
              serviceSelectors: selectors("ServiceSelectors list of label selector to select service(s) for which ip pool can be used for ip allocation."),
            },
            "AllocateTo makes ip pool allocation to specific namespace and/or service.",
          ),
        },
        "IPAddressPoolSpec defines the desired state of IPAddressPool.",
        { required: ["addresses"] },
      ),
      status: obj({}, "IPAddressPoolStatus defines the observed state of IPAddressPool."),
    },
  ],
});

const advertisementColumns = (third: { jsonPath: string; name: string }) => [
  { jsonPath: ".spec.ipAddressPools", name: "IPAddressPools", type: "string" as const },
  { jsonPath: ".spec.ipAddressPoolSelectors", name: "IPAddressPool Selectors", type: "string" as const },
  { ...third, type: "string" as const },
  { jsonPath: ".spec.nodeSelectors", name: "Node Selectors", priority: 10, type: "string" as const },
];

const l2Advertisement = crdObject({
  group: GROUP,
  kind: "L2Advertisement",
  plural: "l2advertisements",
  scope: "Namespaced",
  annotations: ANNOTATIONS,
  versions: [
    {
      name: "v1beta1",
      storage: true,
      statusSubresource: true,
      description: "L2Advertisement allows to advertise the LoadBalancer IPs provided by the selected pools via L2.",
      columns: advertisementColumns({ jsonPath: ".spec.interfaces", name: "Interfaces" }),
      spec: obj(
        {
          interfaces: list(str(), "A list of interfaces to announce from. The LB IP will be announced only from these interfaces. If the field is not set, we advertise from all the interfaces on the host."),
          ipAddressPoolSelectors: selectors("A selector for the IPAddressPools which would get advertised via this advertisement. If no IPAddressPool is selected by this or by the list, the advertisement is applied to all the IPAddressPools."),
          ipAddressPools: list(str(), "The list of IPAddressPools to advertise via this advertisement, selected by name."),
          nodeSelectors: selectors("NodeSelectors allows to limit the nodes to announce as next hops for the LoadBalancer IP. When empty, all the nodes having  are announced as next hops."),
        },
        "L2AdvertisementSpec defines the desired state of L2Advertisement.",
      ),
      status: obj({}, "L2AdvertisementStatus defines the observed state of L2Advertisement."),
    },
  ],
});

const bgpAdvertisement = crdObject({
  group: GROUP,
  kind: "BGPAdvertisement",
  plural: "bgpadvertisements",
  scope: "Namespaced",
  annotations: ANNOTATIONS,
  versions: [
    {
      name: "v1beta1",
      storage: true,
      statusSubresource: true,
      description: "BGPAdvertisement allows to advertise the IPs coming from the selected IPAddressPools via BGP, setting the parameters of the BGP Advertisement.",
      columns: advertisementColumns({ jsonPath: ".spec.peers", name: "Peers" }),
      spec: obj(
        {
          aggregationLength: int("The aggregation-length advertisement option lets you “roll up” the /32s into a larger prefix. Defaults to 32. Works for IPv4 addresses.", { default: 32, format: "int32", minimum: 1 }),
          aggregationLengthV6: int("The aggregation-length advertisement option lets you “roll up” the /128s into a larger prefix. Defaults to 128. Works for IPv6 addresses.", { default: 128, format: "int32" }),
          communities: list(str(), "The BGP communities to be associated with the announcement."),
          ipAddressPoolSelectors: selectors("A selector for the IPAddressPools which would get advertised via this advertisement."),
          ipAddressPools: list(str(), "The list of IPAddressPools to advertise via this advertisement, selected by name."),
          localPref: int("The BGP LOCAL_PREF attribute which is used by BGP best path algorithm, Path with higher localpref is preferred over one with lower localpref.", { format: "int32" }),
          nodeSelectors: selectors("NodeSelectors allows to limit the nodes to announce as next hops for the LoadBalancer IP."),
          peers: list(str(), "Peers limits the bgppeer to advertise the ips of the selected pools to. When empty, the loadbalancer IP is announced to all the BGPPeers configured."),
        },
        "BGPAdvertisementSpec defines the desired state of BGPAdvertisement.",
      ),
      status: obj({}, "BGPAdvertisementStatus defines the observed state of BGPAdvertisement."),
    },
  ],
});

function bgpPeerSpec(v2: boolean): Record<string, unknown> {
  const asn = (d: string) => int(d, { format: "int32", maximum: 4294967295, minimum: 0 });
  return obj(
    {
      bfdProfile: str("The name of the BFD Profile to be used for the BFD session associated to the BGP session. If not set, the BFD session won't be set up."),
      ebgpMultiHop: bool("To set if the BGPPeer is multi-hops away. Needed for FRR mode only."),
      holdTime: str("Requested BGP hold time, per RFC4271."),
      keepaliveTime: str("Requested BGP keepalive time, per RFC4271."),
      myASN: asn("AS number to use for the local end of the session."),
      nodeSelectors: selectors("Only connect to this peer on nodes that match one of these selectors."),
      password: str("Authentication password for routers enforcing TCP MD5 authenticated sessions"),
      ...(v2 ? { passwordSecret: obj({ name: str("name is unique within a namespace to reference a secret resource."), namespace: str("namespace defines the space within which the secret name must be unique.") }, "passwordSecret is name of the authentication secret for BGP Peer.", { "x-kubernetes-map-type": "atomic" }) } : {}),
      peerASN: asn("AS number to expect from the remote end of the session."),
      peerAddress: str("Address to dial when establishing the session."),
      peerPort: int("Port to dial when establishing the session.", { ...(v2 ? { default: 179 } : {}), maximum: 16384, minimum: 0 }),
      routerID: str("BGP router ID to advertise to the peer"),
      sourceAddress: str("Source address to use when establishing the session."),
      ...(v2 ? { vrf: str("To set if we want to peer with the BGPPeer using an interface belonging to a host vrf") } : {}),
    },
    "BGPPeerSpec defines the desired state of Peer.",
    { required: ["myASN", "peerASN", "peerAddress"] },
  );
}

const peerColumns = [
  { jsonPath: ".spec.peerAddress", name: "Address", type: "string" as const },
  { jsonPath: ".spec.peerASN", name: "ASN", type: "string" as const },
  { jsonPath: ".spec.bfdProfile", name: "BFD Profile", type: "string" as const },
  { jsonPath: ".spec.ebgpMultiHop", name: "Multi Hops", type: "string" as const },
];

const bgpPeer = crdObject({
  group: GROUP,
  kind: "BGPPeer",
  plural: "bgppeers",
  scope: "Namespaced",
  annotations: ANNOTATIONS,
  versions: [
    { name: "v1beta1", storage: false, statusSubresource: true, description: "BGPPeer is the Schema for the peers API.", columns: peerColumns, spec: bgpPeerSpec(false), status: obj({}, "BGPPeerStatus defines the observed state of Peer.") },
    { name: "v1beta2", storage: true, statusSubresource: true, description: "BGPPeer is the Schema for the peers API.", columns: peerColumns, spec: bgpPeerSpec(true), status: obj({}, "BGPPeerStatus defines the observed state of Peer.") },
  ],
});

const bfdProfile = crdObject({
  group: GROUP,
  kind: "BFDProfile",
  plural: "bfdprofiles",
  scope: "Namespaced",
  annotations: ANNOTATIONS,
  versions: [
    {
      name: "v1beta1",
      storage: true,
      statusSubresource: true,
      description: "BFDProfile represents the settings of the bfd session that can be optionally associated with a BGP session.",
      columns: [
        { jsonPath: ".spec.passiveMode", name: "Passive Mode", type: "boolean" },
        { jsonPath: ".spec.transmitInterval", name: "Transmit Interval", type: "integer" },
        { jsonPath: ".spec.receiveInterval", name: "Receive Interval", type: "integer" },
        { jsonPath: ".spec.detectMultiplier", name: "Multiplier", type: "integer" },
      ],
      spec: obj(
        {
          detectMultiplier: int("Configures the detection multiplier to determine packet loss.", { format: "int32", maximum: 255, minimum: 2 }),
          echoInterval: int("Configures the minimal echo receive transmission interval that this system is capable of handling in milliseconds. Defaults to 50ms", { format: "int32", maximum: 60000, minimum: 10 }),
          echoMode: bool("Enables or disables the echo transmission mode."),
          minimumTtl: int("For multi hop sessions only: configure the minimum expected TTL for an incoming BFD control packet.", { format: "int32", maximum: 254, minimum: 1 }),
          passiveMode: bool("Mark session as passive: a passive session will not attempt to start the connection and will wait for control packets from peer before it begins replying."),
          receiveInterval: int("The minimum interval that this system is capable of receiving control packets in milliseconds. Defaults to 300ms.", { format: "int32", maximum: 60000, minimum: 10 }),
          transmitInterval: int("The minimum transmission interval (less jitter) that this system wants to use to send BFD control packets in milliseconds. Defaults to 300ms", { format: "int32", maximum: 60000, minimum: 10 }),
        },
        "BFDProfileSpec defines the desired state of BFDProfile.",
      ),
      status: obj({}, "BFDProfileStatus defines the observed state of BFDProfile."),
    },
  ],
});

const community = crdObject({
  group: GROUP,
  kind: "Community",
  plural: "communities",
  scope: "Namespaced",
  annotations: ANNOTATIONS,
  versions: [
    {
      name: "v1beta1",
      storage: true,
      statusSubresource: true,
      description: "Community is a collection of aliases for communities. Users can define named aliases to be used in the BGPPeer CRD.",
      spec: obj({ communities: list(obj({ name: str("The name of the alias for the community."), value: str("The BGP community value corresponding to the given name.") })) }, "CommunitySpec defines the desired state of Community."),
      status: obj({}, "CommunityStatus defines the observed state of Community."),
    },
  ],
});

/** MetalLB's CRDs, in the order its manifest lists them. */
export function metallbCrds(): KObject[] {
  return [bfdProfile, bgpAdvertisement, bgpPeer, community, ipAddressPool, l2Advertisement].map((c) => structuredClone(c));
}
