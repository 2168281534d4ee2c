#!/bin/bash
# Reference solution of onboarding-inventory. `faultline lab test` runs it as root on cp-1, in
# ~/workspace, with kubectl configured; it rewrites answers.yaml from the inventory and the cluster,
# so it can run any number of times.
set -euo pipefail
cd "$HOME/workspace"

inv=inventory/mycluster
vars=$inv/group_vars/k8s_cluster/k8s-cluster.yml

kube() {
  local i
  for i in $(seq 1 30); do
    if kubectl "$@"; then return 0; fi
    sleep 2
  done
  return 1
}

# The value of `key: value` in the inventory's k8s-cluster.yml.
setting() { sed -n "s/^$1:[[:space:]]*//p" "$vars" | head -1; }

# 1. Hosts: every `name: {ansible_host: ...}` line of hosts.yaml; nodes: what the API server knows.
hosts=$(sed -n 's/^[[:space:]]*\([a-z0-9-]*\):[[:space:]]*{ansible_host:.*/\1/p' "$inv/hosts.yaml" | sort)
nodes=$(kube get nodes -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}' | sort)
control_plane=$(kube get nodes -l node-role.kubernetes.io/control-plane -o jsonpath='{.items[0].metadata.name}')
not_joined=$(comm -23 <(echo "$hosts") <(echo "$nodes") | head -1)

# 2. Settings, as written.
pods_subnet=$(setting kube_pods_subnet)
service_range=$(setting kube_service_addresses)
node_prefix=$(setting kube_network_node_prefix)
kube_version=$(setting kube_version)
# ... and the cluster runs that version.
kube get nodes -o jsonpath='{.items[*].status.nodeInfo.kubeletVersion}' | tr ' ' '\n' | sort -u

# 3. Blocks: 2^(32 - prefix) addresses per block, 2^(prefix - subnet prefix) blocks in the pool.
per_block=$(( 1 << (32 - node_prefix) ))
blocks=$(( 1 << (node_prefix - ${pods_subnet#*/}) ))
calicoctl ipam show --show-blocks

cat > answers.yaml <<YAML
# Onboarding answers: inventory first, checked against the cluster.

# 1. Hosts and nodes
inventory_hosts: $(echo "$hosts" | wc -l)
control_plane: $control_plane
cluster_nodes: $(echo "$nodes" | wc -l)
not_joined: $not_joined
add_node_playbook: scale.yml

# 2. Settings
kube_version: $kube_version
pods_subnet: $pods_subnet
service_range: $service_range
node_prefix: $node_prefix

# 3. What follows from them
addresses_per_block: $per_block
blocks_in_pool: $blocks
kubernetes_service_ip: $(kube get svc -n default kubernetes -o jsonpath='{.spec.clusterIP}')
dns_service_ip: $(kube get svc -n kube-system coredns -o jsonpath='{.spec.clusterIP}')
YAML
cat answers.yaml
