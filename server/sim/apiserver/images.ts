/**
 * Which container a seeded pod runs, chosen from its name the way a trainee would recognise it
 * (`controller-7d9cf7f8b-x2kqv` in metallb-system is MetalLB's controller). Versions are the ones the
 * kubespray releases the labs model install (v2.20: MetalLB v0.13.7, CoreDNS v1.8.6; Calico from the
 * plan). The first matching entry wins; the last one matches everything.
 */
import type { ClusterPlan, PlanPod } from "../plan.js";

export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol: "TCP" | "UDP";
}

export interface ContainerChoice {
  container: string;
  image: string;
  ports: ContainerPort[];
}

interface Entry {
  match: (pod: PlanPod) => boolean;
  choose: (plan: ClusterPlan) => ContainerChoice;
}

const named = (re: RegExp) => (pod: PlanPod) => re.test(pod.name);

const ENTRIES: Entry[] = [
  {
    match: (p) => p.namespace === "metallb-system" && /^(metallb-)?controller(-|$)/.test(p.name),
    choose: () => ({
      container: "controller",
      image: "quay.io/metallb/controller:v0.13.7",
      ports: [
        { name: "monitoring", containerPort: 7472, protocol: "TCP" },
        { name: "webhook-server", containerPort: 9443, protocol: "TCP" },
      ],
    }),
  },
  {
    match: (p) => p.namespace === "metallb-system" && /^(metallb-)?speaker/.test(p.name),
    choose: () => ({
      container: "speaker",
      image: "quay.io/metallb/speaker:v0.13.7",
      ports: [
        { name: "monitoring", containerPort: 7472, protocol: "TCP" },
        { name: "memberlist-tcp", containerPort: 7946, protocol: "TCP" },
        { name: "memberlist-udp", containerPort: 7946, protocol: "UDP" },
      ],
    }),
  },
  {
    match: named(/^coredns/),
    choose: () => ({
      container: "coredns",
      image: "registry.k8s.io/coredns/coredns:v1.8.6",
      ports: [
        { name: "dns", containerPort: 53, protocol: "UDP" },
        { name: "dns-tcp", containerPort: 53, protocol: "TCP" },
        { name: "metrics", containerPort: 9153, protocol: "TCP" },
      ],
    }),
  },
  { match: named(/^calico-kube-controllers/), choose: (plan) => ({ container: "calico-kube-controllers", image: `quay.io/calico/kube-controllers:${plan.calicoVersion}`, ports: [] }) },
  { match: named(/^calico-node/), choose: (plan) => ({ container: "calico-node", image: `quay.io/calico/node:${plan.calicoVersion}`, ports: [] }) },
  { match: named(/^dns-autoscaler/), choose: () => ({ container: "autoscaler", image: "registry.k8s.io/cpa/cluster-proportional-autoscaler-amd64:1.8.5", ports: [] }) },
  { match: named(/^source-controller/), choose: () => ({ container: "manager", image: "ghcr.io/fluxcd/source-controller:v0.31.0", ports: [{ name: "http", containerPort: 9090, protocol: "TCP" }] }) },
  { match: named(/^kustomize-controller/), choose: () => ({ container: "manager", image: "ghcr.io/fluxcd/kustomize-controller:v0.30.0", ports: [] }) },
  { match: named(/^helm-controller/), choose: () => ({ container: "manager", image: "ghcr.io/fluxcd/helm-controller:v0.26.0", ports: [] }) },
  { match: named(/^notification-controller/), choose: () => ({ container: "manager", image: "ghcr.io/fluxcd/notification-controller:v0.28.0", ports: [{ name: "http", containerPort: 9090, protocol: "TCP" }] }) },
  { match: named(/netshoot/), choose: () => ({ container: "netshoot", image: "nicolaka/netshoot:v0.8", ports: [] }) },
  { match: named(/^hello/), choose: () => ({ container: "hello-app", image: "gcr.io/google-samples/hello-app:1.0", ports: [{ containerPort: 8080, protocol: "TCP" }] }) },
  { match: named(/echo/), choose: () => ({ container: "echo", image: "hashicorp/http-echo:0.2.3", ports: [{ containerPort: 5678, protocol: "TCP" }] }) },
  { match: () => true, choose: () => ({ container: "nginx", image: "nginx:1.23.1", ports: [{ containerPort: 80, protocol: "TCP" }] }) },
];

/**
 * @example chooseContainer(plan, { namespace: "metallb-system", name: "controller-7d9cf7f8b-x2kqv", ... }).image
 * // "quay.io/metallb/controller:v0.13.7"
 */
export function chooseContainer(plan: ClusterPlan, pod: PlanPod): ContainerChoice {
  return ENTRIES.find((e) => e.match(pod))!.choose(plan);
}
