#!/bin/bash
# Reference solution of connection-refused. `faultline lab test` runs it as root on cp-1, in
# ~/workspace, with kubectl configured; it may run more than once, so every step is idempotent.
set -euo pipefail
cd "$HOME/workspace"

# kubectl, retried while the API server is busy or restarting.
kube() {
  local i
  for i in $(seq 1 30); do
    if kubectl "$@"; then return 0; fi
    sleep 2
  done
  return 1
}

# The Service still sends port 80 to 8080, where the old Go server listened; nginx listens on 80.
# Point it at the container port by name: the Deployment calls port 80 "http", so the Service keeps
# working if the image ever moves to another port.
sed -i 's/^\([[:space:]]*targetPort:\) 8080[[:space:]]*$/\1 http/' storefront/service.yaml
grep -Eq '^[[:space:]]*targetPort: http$' storefront/service.yaml

# The repository is the source of truth: apply it, rather than patching the live object only.
kube apply -f storefront/service.yaml

# The endpoints now read <pod IP>:80 and the Service answers (kube-proxy needs a moment).
for i in $(seq 1 30); do
  if kubectl exec netshoot -- curl -sSf -m 3 -o /dev/null http://web; then
    kubectl get endpoints web
    exit 0
  fi
  sleep 1
done
echo "web does not answer yet" >&2
exit 1
