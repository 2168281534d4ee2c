import type { KubesprayRelease } from "./versions.js";

/**
 * The role defaults of the variables the sim evaluates, as kubespray writes them: a value, or a
 * whole-value reference ("{{ other }}") that resolves like any inventory value. Writing the
 * `x | default(y)` fallbacks of kubespray's tasks as `x: "{{ y }}"` is equivalent for the sim, because
 * a role default is exactly "used unless the inventory sets x".
 *
 * Sources: roles/kubespray-defaults/defaults/main.yaml (main/main.yml from v2.23) for the networks,
 * plugin, proxy mode and DNS names; roles/network_plugin/calico/tasks/install.yml for the pool's
 * `calico_pool_cidr | default(kube_pods_subnet)` and (up to v2.19) `calico_pool_blocksize |
 * default(kube_network_node_prefix)`; roles/kubernetes/node/defaults/main.yml for kubelet_max_pods.
 */
export function roleDefaults(rel: KubesprayRelease): Record<string, unknown> {
  return {
    kube_service_addresses: "10.233.0.0/18",
    kube_pods_subnet: "10.233.64.0/18",
    kube_network_node_prefix: 24,
    kube_network_plugin: "calico",
    kube_proxy_mode: "ipvs",
    // vxlan since kubespray PR #8434 (Jan 2022, shipped in v2.19): Felix programs the routes, not BIRD.
    calico_network_backend: "vxlan",
    calico_pool_cidr: "{{ kube_pods_subnet }}",
    calico_pool_blocksize: rel.blockSizeDefault === "kube_network_node_prefix" ? "{{ kube_network_node_prefix }}" : rel.blockSizeDefault,
    calico_version: rel.calicoVersion,
    kube_version: rel.kubeVersion,
    kubelet_max_pods: 110,
    cluster_name: "cluster.local",
    dns_domain: "{{ cluster_name }}",
  };
}

/**
 * The order `faultline sandbox vars` lists evaluated variables in: the ones that shape the pod
 * network first, because that is what the labs are about.
 */
export const EVALUATED_ORDER: readonly string[] = [
  "kube_pods_subnet",
  "kube_network_node_prefix",
  "calico_pool_cidr",
  "calico_pool_blocksize",
  "kube_service_addresses",
  "kube_network_plugin",
  "kube_proxy_mode",
  "calico_network_backend",
  "kubelet_max_pods",
  "calico_version",
  "kube_version",
  "cluster_name",
  "dns_domain",
];
