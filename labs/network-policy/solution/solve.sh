#!/bin/bash
# Reference solution of network-policy. `faultline lab test` runs it as root on cp-1, in
# ~/workspace, with kubectl configured; it may run more than once, so every step is idempotent.
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

# default-deny-ingress isolates every pod in shop; allow-orders-metrics only lets the monitoring
# namespace in. Nothing allows the frontend, so Felix drops its SYNs: a timeout, not a refusal.
# Allow exactly that path: pods labelled app=frontend in shop, to the orders pods' port 8080 (the
# Service maps 80 to the container port 8080, and policies see the packet after that translation).
cat > allow-frontend-to-orders.yaml <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-frontend-to-orders
  namespace: shop
spec:
  podSelector:
    matchLabels: {app: orders}
  policyTypes: [Ingress]
  ingress:
    - from:
        - podSelector:
            matchLabels: {app: frontend}
      ports:
        - {protocol: TCP, port: 8080}
YAML
kube apply -f allow-frontend-to-orders.yaml

# The frontend now gets its answer (Felix programs the rule within a moment).
for i in $(seq 1 30); do
  code=$(kubectl exec -n shop deploy/frontend -- curl -sS -m 3 -o /dev/null -w '%{http_code}' http://orders || true)
  if [ "$code" = 200 ]; then
    echo "frontend -> orders: HTTP $code"
    exit 0
  fi
  sleep 1
done
echo "the frontend still gets no answer from orders" >&2
exit 1
