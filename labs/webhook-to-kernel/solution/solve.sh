#!/bin/bash
# The reference solution of webhook-to-kernel. `faultline lab test` runs it as root on cp-1, in
# ~/workspace, with kubectl configured. faultline-reprovision disconnects the shell that runs it, so
# the script is written to be run again until it exits 0: every step checks whether it is done.
set -euo pipefail
cd "$HOME/workspace"

vars=inventory/mycluster/group_vars/k8s_cluster/k8s-cluster.yml

# kubectl, retried while the API server (or the webhook behind it) is coming back.
kube() {
  local i
  for i in $(seq 1 60); do
    if kubectl "$@"; then return 0; fi
    sleep 2
  done
  return 1
}

# 1. The Terraform template wrote the node prefix under a name kubespray does not read, so its
#    default (/24) won: a /22 pool holds 4 blocks for 7 nodes. Give the variable its real name.
sed -i 's/^kube_network_nodes_prefix:/kube_network_node_prefix:/' "$vars"
grep -q '^kube_network_node_prefix: 25$' "$vars"

# 2. Rebuild the cluster from the fixed inventory, unless that is done already (Calico's pool then
#    has /25 blocks: one for each node, nobody borrows, no blackhole swallows the API server's replies).
if [ "$(kube get ippools.crd.projectcalico.org default-pool -o jsonpath='{.spec.blockSize}')" != 25 ]; then
  faultline-reprovision   # usually ends this shell: the next run continues below
fi

# 3. MetalLB's webhook now answers the API server: the pool is admitted.
kube apply -f metallb/pool.yaml
