#!/bin/bash
# Reference solution of blackholed-route. `faultline lab test` runs it as root on cp-1, in
# ~/workspace, with kubectl configured; it may run more than once, so every step is idempotent.
# The bad route is on worker-1: from cp-1 we reach worker-1's network namespace the way an operator
# without ssh would, with a privileged node debugging pod (on worker-1 itself, run the ip commands
# directly).
set -euo pipefail

kube() {
  local i
  for i in $(seq 1 30); do
    if kubectl "$@"; then return 0; fi
    sleep 2
  done
  return 1
}

# Runs a shell snippet in worker-1's network namespace and removes the debugging pod afterwards.
on_worker_1() {
  local out
  out=$(kube debug node/worker-1 --image=nicolaka/netshoot:v0.11 --profile=sysadmin -i --quiet -- sh -c "$1")
  kubectl get pods -o name | grep '^pod/node-debugger-worker-1-' | xargs -r kubectl delete --wait=false >/dev/null 2>&1 || true
  printf '%s\n' "$out"
}

# What Calico would route: worker-2's block (its BlockAffinity), via worker-2's node address.
block=$(kube get blockaffinities.crd.projectcalico.org -o jsonpath='{range .items[?(@.spec.node=="worker-2")]}{.spec.cidr}{"\n"}{end}' | head -1)
via=$(kube get node worker-2 -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address}')
[ -n "$block" ] && [ -n "$via" ]
echo "worker-2 owns $block and is at $via"

# On worker-1: the blackhole for worker-2's block goes; the route Felix programs comes back, with
# worker-1's tunnel address as the source, copied from its route to another node's block.
# `ip route replace` does both at once and is idempotent.
on_worker_1 "
  set -e
  ip route show type blackhole
  src=\$(ip route show proto 80 | awk '/ via / { for (i = 1; i < NF; i++) if (\$i == \"src\") { print \$(i+1); exit } }')
  ip route replace $block via $via dev eth0 proto 80 src \$src
  ip route show $block
  ip route show type blackhole
"

# Every request from netshoot (on worker-1) answers again.
for i in $(seq 1 30); do
  if kubectl exec netshoot -- sh -c 'for i in $(seq 1 12); do curl -sS -m 2 -o /dev/null http://hello-world || exit 1; done'; then
    echo "12 of 12 requests answered"
    exit 0
  fi
  sleep 1
done
echo "hello-world still does not answer every request" >&2
exit 1
