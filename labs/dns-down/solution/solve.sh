#!/bin/bash
# Reference solution of dns-down. `faultline lab test` runs it as root on cp-1, in ~/workspace,
# with kubectl configured; it may run more than once, so every step is idempotent.
set -euo pipefail
cd "$HOME/workspace"

kube() {
  local i
  for i in $(seq 1 30); do
    if kubectl "$@"; then return 0; fi
    sleep 2
  done
  return 1
}

# The rendered file asked for 0 replicas (the template's default), CI applied it, the Deployment
# controller scaled CoreDNS to zero, the coredns Service lost its endpoints, and kube-proxy rejects
# every DNS query to 10.233.0.3. Fix the file (kubespray deploys two replicas) and apply it the way
# CI does, so the cluster and the repository agree.
sed -i 's/^\([[:space:]]*replicas:\) 0[[:space:]]*$/\1 2/' platform/coredns-replicas.yaml
grep -Eq '^[[:space:]]*replicas: 2$' platform/coredns-replicas.yaml
kube apply -f platform/coredns-replicas.yaml
kube rollout status -n kube-system deployment/coredns --timeout=120s
kube get endpoints -n kube-system coredns

# Names resolve again (kube-proxy follows the new endpoints within a moment).
for i in $(seq 1 30); do
  if kubectl exec netshoot -- curl -sSf -m 3 -o /dev/null http://hello-world; then
    echo "hello-world resolves and answers"
    exit 0
  fi
  sleep 1
done
echo "hello-world still does not resolve" >&2
exit 1
