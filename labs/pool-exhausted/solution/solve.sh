#!/bin/bash
# Reference solution of pool-exhausted. `faultline lab test` runs it as root on cp-1, in
# ~/workspace, with kubectl configured. faultline-reprovision disconnects the shell that runs it, so
# the script is written to be run again until it exits 0: every step checks whether it is done.
set -euo pipefail
cd "$HOME/workspace"

vars=inventory/mycluster/group_vars/k8s_cluster/k8s-cluster.yml

kube() {
  local i
  for i in $(seq 1 60); do
    if kubectl "$@"; then return 0; fi
    sleep 2
  done
  return 1
}

# 1. A /27 pool holds 32 addresses: 4 tunnel addresses + 3 kube-system pods + 25 checkout pods.
#    Size the pod network for growth instead: a /22 (1024 addresses) cut into /26 blocks (64
#    addresses each, 16 blocks), so each of the 4 nodes claims blocks of its own, with room for more
#    nodes. On kubespray v2.19 the node prefix is also Calico's block size.
sed -i -e 's|^kube_pods_subnet:.*|kube_pods_subnet: 10.233.64.0/22|' \
       -e 's|^kube_network_node_prefix:.*|kube_network_node_prefix: 26|' "$vars"
grep -q '^kube_pods_subnet: 10.233.64.0/22$' "$vars"
grep -q '^kube_network_node_prefix: 26$' "$vars"

# 2. Rebuild from the inventory unless that is done already (re-running kubespray cannot resize an
#    existing Calico pool; the rebuild stands for a reset and redeploy).
if [ "$(kube get ippools.crd.projectcalico.org default-pool -o jsonpath='{.spec.cidr}')" != 10.233.64.0/22 ]; then
  faultline-reprovision   # usually ends this shell: the next run continues below
fi

# 3. The rebuilt cluster gets the checkout Deployment again; every replica now gets an address.
kube rollout status -n perf deployment/checkout --timeout=180s
calicoctl ipam show --show-blocks
