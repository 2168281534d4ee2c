/**
 * The cluster state a freshly provisioned kubespray cluster would show, built from the sandbox plan:
 * namespaces, Ready nodes with their Calico annotations, pods Running at their IPAM addresses,
 * Deployments and ReplicaSets for pods named like Deployment pods (`<deploy>-<hash>-<5>`), services and
 * their endpoints and EndpointSlices, node leases, each namespace's `default` ServiceAccount and
 * `kube-root-ca.crt`, the CRDs of Calico and MetalLB, and Calico's IPAM objects (seed/calico.ts);
 * kube-system's control-plane and DaemonSet pods (seed/system-pods.ts) and the start-up Events
 * (seed/events.ts). Everything goes through the store (keepStatus), so uids, resourceVersions and events
 * are real, and it is what the controllers (controllers/) would have made: starting them changes nothing.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import os from "node:os";
import type { ClusterPlan, PlanPod, PlanService } from "../plan.js";
import { SERVICE_NAME, syncEndpointSlices } from "./controllers/endpointslice.js";
import { chooseContainer } from "./images.js";
import { timestamp, type KObject } from "./objects.js";
import { calicoCrds, calicoObjects } from "./seed/calico.js";
import { seedEvents } from "./seed/events.js";
import { metallbCrds } from "./seed/metallb.js";
import { seedSystemPods } from "./seed/system-pods.js";
import type { Store } from "./store.js";

export interface SeedOptions {
  /** kubelet/kube-proxy version on the nodes, e.g. "v1.24.6". */
  kubeVersion: string;
  /** The cluster CA, published in every namespace as kube-root-ca.crt. */
  caCert: string;
  /** creationTimestamp of everything seeded. */
  createdAt: Date;
}

/** The system namespaces every kubeadm cluster has, in addition to the plan's. */
const SYSTEM_NAMESPACES = ["default", "kube-node-lease", "kube-public", "kube-system"];
const CONTAINER_RUNTIME = "containerd://1.6.8";

/** The host's os-release name: node shells run on the host's userland, so `cat /etc/os-release` agrees. */
function osImage(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync("/etc/os-release", "utf8"));
    if (m?.[1]) return m[1];
  } catch {
    // fall through
  }
  return "Ubuntu 22.04.1 LTS";
}

function hex(n: number): string {
  return randomBytes(n).toString("hex");
}

/** A stable fake digest for an image reference: the same image always shows the same imageID. */
function imageId(image: string): string {
  const repo = image.replace(/:[^/:]+$/, "");
  return `${repo}@sha256:${createHash("sha256").update(image).digest("hex")}`;
}

/** `controller-7d9cf7f8b-x2kqv` -> deployment "controller", pod-template-hash "7d9cf7f8b". */
export function deploymentOf(podName: string): { deployment: string; hash: string } | undefined {
  const m = /^(.+)-([a-z0-9]{6,10})-([a-z0-9]{5})$/.exec(podName);
  return m ? { deployment: m[1]!, hash: m[2]! } : undefined;
}

function commonLabels(sets: Array<Record<string, string>>): Record<string, string> {
  if (sets.length === 0) return {};
  const out: Record<string, string> = { ...sets[0]! };
  for (const s of sets.slice(1)) for (const k of Object.keys(out)) if (s[k] !== out[k]) delete out[k];
  return out;
}

/** The selector of a plan service: the plan's own if it carries one, else the labels its endpoint pods share. */
export function serviceSelector(plan: ClusterPlan, svc: PlanService): Record<string, string> | undefined {
  const declared = svc.selector;
  if (declared) return declared;
  const pods = plan.pods.filter((p) => p.namespace === svc.namespace && svc.endpoints.includes(p.address));
  if (pods.length === 0) return undefined;
  const common = commonLabels(pods.map((p) => p.labels));
  return Object.keys(common).length ? common : undefined;
}

function nodeObject(plan: ClusterPlan, n: ClusterPlan["nodes"][number], opts: SeedOptions, ts: string): KObject {
  const cp = n.role === "control-plane";
  const labels: Record<string, string> = {
    "beta.kubernetes.io/arch": "amd64",
    "beta.kubernetes.io/os": "linux",
    "kubernetes.io/arch": "amd64",
    "kubernetes.io/hostname": n.name,
    "kubernetes.io/os": "linux",
  };
  if (cp) {
    labels["node-role.kubernetes.io/control-plane"] = "";
    labels["node.kubernetes.io/exclude-from-external-load-balancers"] = "";
  }
  const prefix = plan.nodeNetwork.cidr.split("/")[1] ?? "24";
  const annotations: Record<string, string> = {
    "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///var/run/containerd/containerd.sock",
    "node.alpha.kubernetes.io/ttl": "0",
    "projectcalico.org/IPv4Address": `${n.address}/${prefix}`,
    "volumes.kubernetes.io/controller-managed-attach-detach": "true",
  };
  if (n.tunnelAddress) annotations["projectcalico.org/IPv4IPIPTunnelAddr"] = n.tunnelAddress;
  const spec: Record<string, unknown> = {};
  if (n.blocks[0]) {
    spec.podCIDR = n.blocks[0];
    spec.podCIDRs = [n.blocks[0]];
  }
  if (cp) {
    // kubeadm v1.24 taints control planes with both the old and the new key
    spec.taints = [
      { key: "node-role.kubernetes.io/master", effect: "NoSchedule" },
      { key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" },
    ];
  }
  const capacity = { cpu: "2", "ephemeral-storage": "41186748Ki", "hugepages-1Gi": "0", "hugepages-2Mi": "0", memory: "4025788Ki", pods: "110" };
  const cond = (type: string, status: string, reason: string, message: string) => ({ type, status, lastHeartbeatTime: ts, lastTransitionTime: ts, reason, message });
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name: n.name, labels, annotations, creationTimestamp: ts },
    spec,
    status: {
      addresses: [
        { type: "InternalIP", address: n.address },
        { type: "Hostname", address: n.name },
      ],
      allocatable: { ...capacity, memory: "3923388Ki" },
      capacity,
      conditions: [
        { type: "NetworkUnavailable", status: "False", lastHeartbeatTime: ts, lastTransitionTime: ts, reason: "CalicoIsUp", message: "Calico is running on this node" },
        cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        cond("Ready", "True", "KubeletReady", "kubelet is posting ready status. AppArmor enabled"),
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        architecture: "amd64",
        bootID: randomUUID(),
        containerRuntimeVersion: CONTAINER_RUNTIME,
        kernelVersion: os.release(),
        kubeProxyVersion: opts.kubeVersion,
        kubeletVersion: opts.kubeVersion,
        machineID: hex(16),
        operatingSystem: "linux",
        osImage: osImage(),
        systemUUID: randomUUID(),
      },
    },
  };
}

function podSpec(plan: ClusterPlan, pod: PlanPod): Record<string, unknown> {
  const c = chooseContainer(plan, pod);
  const container: Record<string, unknown> = {
    name: c.container,
    image: c.image,
    imagePullPolicy: c.image.endsWith(":latest") ? "Always" : "IfNotPresent",
    resources: {},
    terminationMessagePath: "/dev/termination-log",
    terminationMessagePolicy: "File",
  };
  if (c.ports.length) container.ports = c.ports;
  return {
    containers: [container],
    dnsPolicy: "ClusterFirst",
    enableServiceLinks: true,
    preemptionPolicy: "PreemptLowerPriority",
    priority: 0,
    restartPolicy: "Always",
    schedulerName: "default-scheduler",
    securityContext: {},
    serviceAccount: "default",
    serviceAccountName: "default",
    terminationGracePeriodSeconds: 30,
    tolerations: [
      { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 },
      { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 },
    ],
  };
}

function podObject(plan: ClusterPlan, pod: PlanPod, ts: string, owner: { name: string; uid: string; hash: string } | undefined): KObject {
  const spec: Record<string, unknown> = { ...podSpec(plan, pod), nodeName: pod.node };
  const node = plan.nodes.find((n) => n.name === pod.node);
  const containers = spec.containers as Array<{ name: string; image: string }>;
  const cond = (type: string) => ({ type, status: "True", lastProbeTime: null, lastTransitionTime: ts });
  const metadata: KObject["metadata"] = { name: pod.name, namespace: pod.namespace, labels: { ...pod.labels }, creationTimestamp: ts };
  if (owner) {
    metadata.generateName = `${owner.name}-`;
    metadata.labels = { ...pod.labels, "pod-template-hash": owner.hash };
    metadata.ownerReferences = [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: owner.name, uid: owner.uid, controller: true, blockOwnerDeletion: true }];
  }
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata,
    spec,
    status: {
      phase: "Running",
      conditions: [cond("Initialized"), cond("Ready"), cond("ContainersReady"), cond("PodScheduled")],
      hostIP: node?.address ?? "",
      podIP: pod.address,
      podIPs: [{ ip: pod.address }],
      startTime: ts,
      containerStatuses: containers.map((c) => ({
        name: c.name,
        state: { running: { startedAt: ts } },
        lastState: {},
        ready: true,
        restartCount: 0,
        image: c.image,
        imageID: imageId(c.image),
        containerID: `containerd://${hex(32)}`,
        started: true,
      })),
      qosClass: "BestEffort",
    },
  };
}

/** Deployments and ReplicaSets for pods named `<deploy>-<hash>-<suffix>`, grouped per namespace. */
function seedWorkloads(store: Store, plan: ClusterPlan, ts: string): Map<string, { name: string; uid: string; hash: string }> {
  const owners = new Map<string, { name: string; uid: string; hash: string }>();
  const groups = new Map<string, PlanPod[]>();
  for (const p of plan.pods) {
    const d = deploymentOf(p.name);
    if (!d) continue;
    const key = `${p.namespace}/${d.deployment}/${d.hash}`;
    groups.set(key, [...(groups.get(key) ?? []), p]);
  }
  for (const [key, pods] of groups) {
    const [namespace, name, hash] = key.split("/") as [string, string, string];
    const selector = commonLabels(pods.map((p) => p.labels));
    const template = { metadata: { labels: { ...selector }, creationTimestamp: null }, spec: podSpec(plan, pods[0]!) };
    const n = pods.length;
    const deploy = store.create(
      "deployments.apps",
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name, namespace, labels: { ...selector }, annotations: { "deployment.kubernetes.io/revision": "1" }, creationTimestamp: ts },
        spec: {
          replicas: n,
          selector: { matchLabels: selector },
          template,
          strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: "25%", maxSurge: "25%" } },
          revisionHistoryLimit: 10,
          progressDeadlineSeconds: 600,
        },
        status: {
          observedGeneration: 1,
          replicas: n,
          updatedReplicas: n,
          readyReplicas: n,
          availableReplicas: n,
          conditions: [
            { type: "Available", status: "True", lastUpdateTime: ts, lastTransitionTime: ts, reason: "MinimumReplicasAvailable", message: "Deployment has minimum availability." },
            { type: "Progressing", status: "True", lastUpdateTime: ts, lastTransitionTime: ts, reason: "NewReplicaSetAvailable", message: `ReplicaSet "${name}-${hash}" has successfully progressed.` },
          ],
        },
      },
      { keepStatus: true },
    );
    const rsName = `${name}-${hash}`;
    const rsLabels = { ...selector, "pod-template-hash": hash };
    const rs = store.create(
      "replicasets.apps",
      {
        apiVersion: "apps/v1",
        kind: "ReplicaSet",
        metadata: {
          name: rsName,
          namespace,
          labels: rsLabels,
          annotations: { "deployment.kubernetes.io/desired-replicas": String(n), "deployment.kubernetes.io/max-replicas": String(n + Math.ceil(n / 4)), "deployment.kubernetes.io/revision": "1" },
          ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name, uid: deploy.metadata.uid!, controller: true, blockOwnerDeletion: true }],
          creationTimestamp: ts,
        },
        spec: { replicas: n, selector: { matchLabels: rsLabels }, template: { ...template, metadata: { labels: rsLabels, creationTimestamp: null } } },
        status: { replicas: n, fullyLabeledReplicas: n, readyReplicas: n, availableReplicas: n, observedGeneration: 1 },
      },
      { keepStatus: true },
    );
    for (const p of pods) owners.set(`${p.namespace}/${p.name}`, { name: rsName, uid: rs.metadata.uid!, hash });
  }
  return owners;
}

function serviceObjects(plan: ClusterPlan, svc: PlanService, ts: string, podUids: Map<string, string>): [KObject, KObject] {
  const selector = serviceSelector(plan, svc);
  const isApiserver = svc.namespace === "default" && svc.name === "kubernetes";
  const labels = isApiserver ? { component: "apiserver", provider: "kubernetes" } : undefined;
  const spec: Record<string, unknown> = {
    clusterIP: svc.clusterIP,
    clusterIPs: [svc.clusterIP],
    internalTrafficPolicy: "Cluster",
    ipFamilies: ["IPv4"],
    ipFamilyPolicy: "SingleStack",
    ports: svc.ports.map((p) => ({ ...(p.name ? { name: p.name } : {}), port: p.port, protocol: p.protocol, targetPort: p.targetPort })),
    sessionAffinity: "None",
    type: "ClusterIP",
  };
  // an empty selector is no selector (etcd's protobuf keeps no empty map): the Service's endpoints are its own
  if (selector && Object.keys(selector).length) spec.selector = selector;
  const service: KObject = { apiVersion: "v1", kind: "Service", metadata: { name: svc.name, namespace: svc.namespace, ...(labels ? { labels } : {}), creationTimestamp: ts }, spec, status: { loadBalancer: {} } };

  const addresses = svc.endpoints.map((ip) => {
    const pod = plan.pods.find((p) => p.address === ip);
    if (pod) return { ip, nodeName: pod.node, targetRef: { kind: "Pod", namespace: pod.namespace, name: pod.name, uid: podUids.get(`${pod.namespace}/${pod.name}`) ?? "" } };
    const node = plan.nodes.find((n) => n.address === ip);
    return node && !isApiserver ? { ip, nodeName: node.name } : { ip };
  });
  const endpoints: KObject = {
    apiVersion: "v1",
    kind: "Endpoints",
    metadata: { name: svc.name, namespace: svc.namespace, ...(isApiserver ? { labels: { "endpointslice.kubernetes.io/skip-mirror": "true" } } : labels ? { labels } : {}), creationTimestamp: ts },
  };
  if (addresses.length) {
    endpoints.subsets = [{ addresses, ports: svc.ports.map((p) => ({ ...(p.name ? { name: p.name } : {}), port: p.targetPort, protocol: p.protocol })) }];
  }
  return [service, endpoints];
}

/**
 * The `kubernetes` EndpointSlice, as kube-apiserver's endpoint reconciler writes it from its Endpoints:
 * no managed-by label, no owner, endpoints with only the ready condition.
 */
function apiserverSlice(ep: KObject, ts: string): KObject {
  const subset = (Array.isArray(ep.subsets) ? ep.subsets[0] : undefined) as { addresses?: Array<{ ip: string }>; ports?: Array<{ name?: string; port: number; protocol: string }> } | undefined;
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name: ep.metadata.name, namespace: ep.metadata.namespace, labels: { [SERVICE_NAME]: ep.metadata.name! }, creationTimestamp: ts },
    addressType: "IPv4",
    endpoints: subset?.addresses?.length ? subset.addresses.map((a) => ({ addresses: [a.ip], conditions: { ready: true } })) : null,
    ports: subset?.ports?.length ? subset.ports.map((p) => ({ name: p.name ?? "", port: p.port, protocol: p.protocol })) : null,
  };
}

/** What every namespace gets from the controllers right after it is created. */
export function namespaceDefaults(namespace: string, caCert: string, ts?: string): Array<[string, KObject]> {
  const meta = (name: string) => ({ name, namespace, ...(ts ? { creationTimestamp: ts } : {}) });
  return [
    ["serviceaccounts", { apiVersion: "v1", kind: "ServiceAccount", metadata: meta("default") }],
    ["configmaps", { apiVersion: "v1", kind: "ConfigMap", metadata: { ...meta("kube-root-ca.crt"), annotations: { "kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters." } }, data: { "ca.crt": caCert } }],
  ];
}

/**
 * Fills an empty store from the plan. Namespace defaults (ServiceAccount, kube-root-ca.crt) are left to
 * the namespace hook in index.ts, which runs for seeded and later namespaces alike.
 */
export function seedFromPlan(store: Store, plan: ClusterPlan, opts: SeedOptions): void {
  const ts = timestamp(opts.createdAt);
  const namespaces = new Set(SYSTEM_NAMESPACES);
  for (const p of plan.pods) namespaces.add(p.namespace);
  for (const s of plan.services) namespaces.add(s.namespace);
  for (const ns of [...namespaces].sort()) {
    // written whole (keepStatus) so the seed's creationTimestamp holds; same fields the create strategy sets
    store.create(
      "namespaces",
      { apiVersion: "v1", kind: "Namespace", metadata: { name: ns, labels: { "kubernetes.io/metadata.name": ns }, creationTimestamp: ts }, spec: { finalizers: ["kubernetes"] }, status: { phase: "Active" } },
      { keepStatus: true },
    );
  }
  for (const n of plan.nodes) store.create("nodes", nodeObject(plan, n, opts, ts), { keepStatus: true });
  for (const n of plan.nodes) {
    store.create(
      "leases.coordination.k8s.io",
      {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name: n.name, namespace: "kube-node-lease", ownerReferences: [{ apiVersion: "v1", kind: "Node", name: n.name, uid: store.get("nodes", undefined, n.name).metadata.uid! }], creationTimestamp: ts },
        spec: { holderIdentity: n.name, leaseDurationSeconds: 40, renewTime: new Date(opts.createdAt).toISOString().replace("Z", "000Z") },
      },
      { keepStatus: true },
    );
  }

  const owners = seedWorkloads(store, plan, ts);
  const podUids = new Map<string, string>();
  for (const p of plan.pods) {
    const created = store.create("pods", podObject(plan, p, ts, owners.get(`${p.namespace}/${p.name}`)), { keepStatus: true });
    podUids.set(`${p.namespace}/${p.name}`, created.metadata.uid!);
  }
  // after the lab's pods, so a lab pod of the same name wins
  seedSystemPods(store, plan, { kubeVersion: opts.kubeVersion, ts });

  const services = [...plan.services];
  if (!services.some((s) => s.namespace === "default" && s.name === "kubernetes")) {
    // every cluster has it; labs that do not list it still get it, at the service range's first address
    const cp = plan.nodes.find((n) => n.role === "control-plane");
    const base = plan.serviceCidr.split("/")[0]!.split(".").map(Number);
    base[3] = (base[3] ?? 0) + 1;
    services.unshift({ namespace: "default", name: "kubernetes", clusterIP: base.join("."), ports: [{ name: "https", port: 443, targetPort: 6443, protocol: "TCP" }], endpoints: cp ? [cp.address] : [] });
  }
  for (const s of services) {
    const [svc, ep] = serviceObjects(plan, s, ts, podUids);
    store.create("services", svc, { keepStatus: true });
    store.create("endpoints", ep, { keepStatus: true });
    if (s.namespace === "default" && s.name === "kubernetes") store.create("endpointslices.discovery.k8s.io", apiserverSlice(ep, ts), { keepStatus: true });
    // what the EndpointSlice controller makes of the pods, so starting it changes nothing
    else syncEndpointSlices(store, s.namespace, s.name, ts);
  }

  // Calico's and MetalLB's CRDs (the store's CRD controller serves their types at once), then what
  // Calico's IPAM wrote into the datastore while the cluster came up
  for (const crd of [...calicoCrds(), ...metallbCrds()]) {
    store.create("customresourcedefinitions.apiextensions.k8s.io", { ...crd, metadata: { ...crd.metadata, creationTimestamp: ts } }, { keepStatus: true });
  }
  for (const { type, object } of calicoObjects(plan, opts.createdAt)) store.create(type, object, { keepStatus: true });
  seedEvents(store, plan, opts.createdAt);
}
