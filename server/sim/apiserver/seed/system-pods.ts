/**
 * The kube-system pods a kubespray cluster with Calico runs right after `cluster.yml`, all on the host
 * network (podIP = hostIP = the node's address):
 * - the control plane's static pods as the kubelet mirrors them (`kube-apiserver-<cp>`,
 *   `kube-controller-manager-<cp>`, `kube-scheduler-<cp>`), owned by their Node. No etcd pod: kubespray's
 *   `etcd_deployment_type` defaults to `host` (etcd as a systemd service; docs/etcd.md);
 * - the DaemonSets `calico-node`, `kube-proxy` and `nodelocaldns` (`enable_nodelocaldns: true` is the
 *   default), one pod per node, with `<ds>-<5 chars>` names derived from a hash of sandbox, DaemonSet
 *   and node (see {@link daemonPodName}), so they are the same every time a sandbox is seeded, and the
 *   controller-revision-hash the DaemonSet controller computes for the template.
 * Images: Calico from the plan (quay.io/calico), kube-proxy and the control plane at the seed's
 * kubeVersion, node-local-dns 1.21.1 (kubespray v2.19's `nodelocaldns_version`).
 * A lab pod of the same name, or a lab pod of the same DaemonSet on a node, wins over the seeded one.
 */
import { createHash } from "node:crypto";
import type { ClusterPlan, PlanNode } from "../../plan.js";
import { podTemplateHash } from "../controllers/util.js";
import type { KObject } from "../objects.js";
import type { Store } from "../store.js";

/** The alphabet of k8s.io/apimachinery/pkg/util/rand.String (no vowels, no confusable digits). */
const ALPHABET = "bcdfghjklmnpqrstvwxz2456789";
const NODELOCALDNS_IMAGE = "registry.k8s.io/dns/k8s-dns-node-cache:1.21.1";
const NODELOCALDNS_IP = "169.254.25.10";

export interface SystemPodOptions {
  kubeVersion: string;
  /** creationTimestamp of everything seeded (RFC 3339, seconds). */
  ts: string;
}

function digest(...parts: string[]): Buffer {
  return createHash("sha256").update(parts.join("/")).digest();
}

function fromAlphabet(bytes: Buffer, n: number): string {
  let out = "";
  for (let i = 0; i < n; i++) out += ALPHABET[bytes[i]! % ALPHABET.length];
  return out;
}

/**
 * The name of DaemonSet `ds`'s pod on `node` in sandbox `sandbox`: `<ds>-<5 chars>`, stable per sandbox.
 * @example daemonPodName("lab1", "kube-proxy", "worker-1") // "kube-proxy-x7q2m" (always the same)
 */
export function daemonPodName(sandbox: string, ds: string, node: string): string {
  return `${ds}-${fromAlphabet(digest(sandbox, ds, node), 5)}`;
}

interface ContainerDef {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  ports?: Array<{ name?: string; containerPort: number; hostPort?: number; protocol: "TCP" | "UDP" }>;
  requests?: Record<string, string>;
  limits?: Record<string, string>;
  privileged?: boolean;
}

interface DaemonSetDef {
  name: string;
  labels: Record<string, string>;
  selector: Record<string, string>;
  podLabels: Record<string, string>;
  podAnnotations?: Record<string, string>;
  serviceAccount: string;
  priorityClassName: string;
  dnsPolicy: string;
  initContainers: ContainerDef[];
  containers: ContainerDef[];
  tolerations: Array<Record<string, unknown>>;
}

function container(c: ContainerDef): Record<string, unknown> {
  const out: Record<string, unknown> = { name: c.name, image: c.image };
  if (c.command) out.command = c.command;
  if (c.args) out.args = c.args;
  out.imagePullPolicy = "IfNotPresent";
  if (c.ports) out.ports = c.ports.map((p) => ({ ...p, hostPort: p.hostPort ?? p.containerPort }));
  const resources: Record<string, unknown> = {};
  if (c.requests) resources.requests = c.requests;
  if (c.limits) resources.limits = c.limits;
  out.resources = resources;
  if (c.privileged) out.securityContext = { privileged: true };
  out.terminationMessagePath = "/dev/termination-log";
  out.terminationMessagePolicy = "File";
  return out;
}

function daemonSets(plan: ClusterPlan, kubeVersion: string): DaemonSetDef[] {
  const calico = plan.calicoVersion;
  const all = [{ operator: "Exists" }];
  return [
    {
      name: "calico-node",
      labels: { "k8s-app": "calico-node" },
      selector: { "k8s-app": "calico-node" },
      podLabels: { "k8s-app": "calico-node" },
      serviceAccount: "calico-node",
      priorityClassName: "system-node-critical",
      dnsPolicy: "ClusterFirst",
      initContainers: [
        { name: "upgrade-ipam", image: `quay.io/calico/cni:${calico}`, command: ["/opt/cni/bin/calico-ipam", "-upgrade"], privileged: true },
        { name: "install-cni", image: `quay.io/calico/cni:${calico}`, command: ["/opt/cni/bin/install"], privileged: true },
        { name: "flexvol-driver", image: `quay.io/calico/pod2daemon-flexvol:${calico}`, privileged: true },
      ],
      containers: [{ name: "calico-node", image: `quay.io/calico/node:${calico}`, requests: { cpu: "150m", memory: "64M" }, limits: { cpu: "300m", memory: "500M" }, privileged: true }],
      tolerations: [...all, { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute" }],
    },
    {
      name: "kube-proxy",
      labels: { "k8s-app": "kube-proxy" },
      selector: { "k8s-app": "kube-proxy" },
      podLabels: { "k8s-app": "kube-proxy" },
      serviceAccount: "kube-proxy",
      priorityClassName: "system-node-critical",
      dnsPolicy: "ClusterFirst",
      initContainers: [],
      containers: [{ name: "kube-proxy", image: `registry.k8s.io/kube-proxy:${kubeVersion}`, command: ["/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf", "--hostname-override=$(NODE_NAME)"], privileged: true }],
      tolerations: all,
    },
    {
      name: "nodelocaldns",
      labels: { "k8s-app": "kube-dns", "addonmanager.kubernetes.io/mode": "Reconcile" },
      selector: { "k8s-app": "nodelocaldns" },
      podLabels: { "k8s-app": "nodelocaldns" },
      podAnnotations: { "prometheus.io/port": "9253", "prometheus.io/scrape": "true" },
      serviceAccount: "nodelocaldns",
      priorityClassName: "system-cluster-critical",
      dnsPolicy: "Default",
      initContainers: [],
      containers: [
        {
          name: "node-cache",
          image: NODELOCALDNS_IMAGE,
          args: ["-localip", NODELOCALDNS_IP, "-conf", "/etc/coredns/Corefile", "-upstreamsvc", "coredns"],
          ports: [
            { name: "dns", containerPort: 53, protocol: "UDP" },
            { name: "dns-tcp", containerPort: 53, protocol: "TCP" },
            { name: "metrics", containerPort: 9253, protocol: "TCP" },
          ],
          requests: { cpu: "100m", memory: "70Mi" },
          limits: { memory: "200Mi" },
          privileged: true,
        },
      ],
      tolerations: [{ effect: "NoSchedule", operator: "Exists" }, { effect: "NoExecute", operator: "Exists" }],
    },
  ];
}

const PRIORITY: Record<string, number> = { "system-node-critical": 2000001000, "system-cluster-critical": 2000000000 };

function podSpecOf(d: { containers: ContainerDef[]; initContainers: ContainerDef[]; serviceAccount?: string; priorityClassName: string; dnsPolicy: string; tolerations: Array<Record<string, unknown>>; nodeSelector?: Record<string, string> }): Record<string, unknown> {
  const spec: Record<string, unknown> = {};
  if (d.initContainers.length) spec.initContainers = d.initContainers.map(container);
  spec.containers = d.containers.map(container);
  Object.assign(spec, {
    dnsPolicy: d.dnsPolicy,
    enableServiceLinks: true,
    hostNetwork: true,
    ...(d.nodeSelector ? { nodeSelector: d.nodeSelector } : {}),
    preemptionPolicy: "PreemptLowerPriority",
    priority: PRIORITY[d.priorityClassName] ?? 0,
    priorityClassName: d.priorityClassName,
    restartPolicy: "Always",
    schedulerName: "default-scheduler",
    securityContext: {},
    ...(d.serviceAccount ? { serviceAccount: d.serviceAccount, serviceAccountName: d.serviceAccount } : {}),
    terminationGracePeriodSeconds: 30,
    tolerations: d.tolerations,
  });
  return spec;
}

function imageId(image: string): string {
  return `${image.replace(/:[^/:]+$/, "")}@sha256:${createHash("sha256").update(image).digest("hex")}`;
}

function containerId(...parts: string[]): string {
  return `containerd://${createHash("sha256").update(parts.join("/")).digest("hex")}`;
}

function runningStatus(podName: string, node: PlanNode, spec: Record<string, unknown>, ts: string, qosClass: string): Record<string, unknown> {
  const cond = (type: string) => ({ type, status: "True", lastProbeTime: null, lastTransitionTime: ts });
  const status = (c: { name: string; image: string }, init: boolean) => ({
    name: c.name,
    state: init ? { terminated: { exitCode: 0, reason: "Completed", startedAt: ts, finishedAt: ts, containerID: containerId(podName, c.name) } } : { running: { startedAt: ts } },
    lastState: {},
    ready: true,
    restartCount: 0,
    image: c.image,
    imageID: imageId(c.image),
    containerID: containerId(podName, c.name),
    ...(init ? {} : { started: true }),
  });
  const inits = (spec.initContainers as Array<{ name: string; image: string }> | undefined) ?? [];
  const out: Record<string, unknown> = {
    phase: "Running",
    conditions: [cond("Initialized"), cond("Ready"), cond("ContainersReady"), cond("PodScheduled")],
    hostIP: node.address,
    podIP: node.address,
    podIPs: [{ ip: node.address }],
    startTime: ts,
  };
  if (inits.length) out.initContainerStatuses = inits.map((c) => status(c, true));
  out.containerStatuses = (spec.containers as Array<{ name: string; image: string }>).map((c) => status(c, false));
  out.qosClass = qosClass;
  return out;
}

function qos(containers: ContainerDef[]): string {
  if (containers.every((c) => !c.requests && !c.limits)) return "BestEffort";
  return "Burstable";
}

/** The static pods kubeadm writes on a control-plane node (kubespray's kubeadm config, trimmed). */
function staticPods(node: PlanNode, kubeVersion: string, plan: ClusterPlan): Array<{ component: string; c: ContainerDef; annotations: Record<string, string> }> {
  const image = (c: string) => `registry.k8s.io/${c}:${kubeVersion}`;
  return [
    {
      component: "kube-apiserver",
      annotations: { "kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint": `${node.address}:6443` },
      c: {
        name: "kube-apiserver",
        image: image("kube-apiserver"),
        command: ["kube-apiserver", `--advertise-address=${node.address}`, "--allow-privileged=true", "--authorization-mode=Node,RBAC", "--bind-address=0.0.0.0", "--client-ca-file=/etc/kubernetes/ssl/ca.crt", "--enable-admission-plugins=NodeRestriction", `--etcd-servers=https://${node.address}:2379`, "--secure-port=6443", `--service-cluster-ip-range=${plan.serviceCidr}`],
        requests: { cpu: "250m" },
      },
    },
    {
      component: "kube-controller-manager",
      annotations: {},
      c: {
        name: "kube-controller-manager",
        image: image("kube-controller-manager"),
        command: ["kube-controller-manager", "--allocate-node-cidrs=true", "--bind-address=0.0.0.0", `--cluster-cidr=${plan.podsSubnet}`, "--kubeconfig=/etc/kubernetes/controller-manager.conf", "--leader-elect=true", `--service-cluster-ip-range=${plan.serviceCidr}`, "--use-service-account-credentials=true"],
        requests: { cpu: "200m" },
      },
    },
    {
      component: "kube-scheduler",
      annotations: {},
      c: { name: "kube-scheduler", image: image("kube-scheduler"), command: ["kube-scheduler", "--bind-address=0.0.0.0", "--kubeconfig=/etc/kubernetes/scheduler.conf", "--leader-elect=true"], requests: { cpu: "100m" } },
    },
  ];
}

/** What to create, in order: [type, object]. Node uids are needed for the mirror pods' owner references. */
export function systemObjects(plan: ClusterPlan, opts: SystemPodOptions, nodeUid: (name: string) => string): Array<[string, KObject]> {
  if (!plan.kubesprayVersion) return [];
  const { ts, kubeVersion } = opts;
  const taken = new Set(plan.pods.map((p) => `${p.namespace}/${p.name}`));
  const out: Array<[string, KObject]> = [];

  for (const node of plan.nodes.filter((n) => n.role === "control-plane")) {
    for (const s of staticPods(node, kubeVersion, plan)) {
      const name = `${s.component}-${node.name}`;
      if (taken.has(`kube-system/${name}`)) continue;
      const hash = createHash("md5").update(`${plan.sandbox}/${name}`).digest("hex");
      const spec: Record<string, unknown> = { ...podSpecOf({ containers: [s.c], initContainers: [], priorityClassName: "system-node-critical", dnsPolicy: "ClusterFirst", tolerations: [{ effect: "NoExecute", operator: "Exists" }] }), nodeName: node.name };
      spec.securityContext = { seccompProfile: { type: "RuntimeDefault" } };
      out.push([
        "pods",
        {
          apiVersion: "v1",
          kind: "Pod",
          metadata: {
            name,
            namespace: "kube-system",
            labels: { component: s.component, tier: "control-plane" },
            annotations: {
              ...s.annotations,
              "kubernetes.io/config.hash": hash,
              "kubernetes.io/config.mirror": hash,
              "kubernetes.io/config.seen": ts.replace("Z", ".000000000Z"),
              "kubernetes.io/config.source": "file",
            },
            ownerReferences: [{ apiVersion: "v1", kind: "Node", name: node.name, uid: nodeUid(node.name), controller: true }],
            creationTimestamp: ts,
          },
          spec,
          status: runningStatus(name, node, spec, ts, "Burstable"),
        },
      ]);
    }
  }

  for (const d of daemonSets(plan, kubeVersion)) {
    // nodes where the lab already runs this DaemonSet's pod keep the lab's
    const nodes = plan.nodes.filter((n) => !plan.pods.some((p) => p.namespace === "kube-system" && p.node === n.name && p.name.startsWith(`${d.name}-`) && /^[a-z0-9]{5}$/.test(p.name.slice(d.name.length + 1))));
    const n = plan.nodes.length;
    const nodeSelector = { "kubernetes.io/os": "linux" };
    const template = { metadata: { labels: { ...d.podLabels }, ...(d.podAnnotations ? { annotations: { ...d.podAnnotations } } : {}), creationTimestamp: null }, spec: podSpecOf({ ...d, nodeSelector }) };
    // the DaemonSet controller's hash of this template, so it finds its pods up to date
    const revision = podTemplateHash(template);
    out.push([
      "daemonsets.apps",
      {
        apiVersion: "apps/v1",
        kind: "DaemonSet",
        metadata: { name: d.name, namespace: "kube-system", labels: { ...d.labels }, annotations: { "deprecated.daemonset.template.generation": "1" }, creationTimestamp: ts },
        spec: {
          selector: { matchLabels: { ...d.selector } },
          template,
          updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } },
          revisionHistoryLimit: 10,
        },
        status: { currentNumberScheduled: n, desiredNumberScheduled: n, numberAvailable: n, numberMisscheduled: 0, numberReady: n, observedGeneration: 1, updatedNumberScheduled: n },
      },
    ]);
    for (const node of nodes) {
      const name = daemonPodName(plan.sandbox, d.name, node.name);
      if (taken.has(`kube-system/${name}`)) continue;
      const spec: Record<string, unknown> = {
        ...podSpecOf({ ...d, nodeSelector }),
        // the DaemonSet controller pins each pod to its node with required node affinity
        affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: [node.name] }] }] } } },
        nodeName: node.name,
      };
      spec.tolerations = [
        ...(spec.tolerations as Array<Record<string, unknown>>),
        ...["not-ready", "unreachable"].map((k) => ({ key: `node.kubernetes.io/${k}`, operator: "Exists", effect: "NoExecute" })),
        ...["disk-pressure", "memory-pressure", "pid-pressure", "unschedulable", "network-unavailable"].map((k) => ({ key: `node.kubernetes.io/${k}`, operator: "Exists", effect: "NoSchedule" })),
      ];
      out.push([
        "pods",
        {
          apiVersion: "v1",
          kind: "Pod",
          metadata: {
            name,
            generateName: `${d.name}-`,
            namespace: "kube-system",
            labels: { ...d.podLabels, "controller-revision-hash": revision, "pod-template-generation": "1" },
            ...(d.podAnnotations ? { annotations: { ...d.podAnnotations } } : {}),
            // the DaemonSet's uid is filled in by the caller once the DaemonSet exists
            ownerReferences: [{ apiVersion: "apps/v1", kind: "DaemonSet", name: d.name, uid: "", controller: true, blockOwnerDeletion: true }],
            creationTimestamp: ts,
          },
          spec,
          status: runningStatus(name, node, spec, ts, qos(d.containers)),
        },
      ]);
    }
  }
  return out;
}

/**
 * Creates the system pods and DaemonSets in the store, skipping any object that already exists there
 * (a lab's own pod of the same name wins).
 */
export function seedSystemPods(store: Store, plan: ClusterPlan, opts: SystemPodOptions): void {
  const nodeUid = (name: string) => store.tryGet("nodes", undefined, name)?.metadata.uid ?? "";
  const dsUids = new Map<string, string>();
  for (const [type, obj] of systemObjects(plan, opts, nodeUid)) {
    const existing = store.tryGet(type, obj.metadata.namespace, obj.metadata.name!);
    if (type === "daemonsets.apps") {
      dsUids.set(obj.metadata.name!, (existing ?? store.create(type, obj, { keepStatus: true })).metadata.uid!);
      continue;
    }
    if (existing) continue;
    const owner = obj.metadata.ownerReferences?.[0];
    if (owner?.kind === "DaemonSet") owner.uid = dsUids.get(owner.name) ?? "";
    store.create(type, obj, { keepStatus: true });
  }
}
