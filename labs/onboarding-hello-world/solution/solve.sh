#!/bin/bash
# Reference solution of onboarding-hello-world. `faultline lab test` runs it as root on cp-1, in
# ~/workspace, with kubectl configured; it may run more than once (files rewritten, kubectl apply).
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

mkdir -p hello
cat > hello/deployment.yaml <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: hello-world
  namespace: default
  labels: {app: hello-world}
spec:
  replicas: 2
  selector:
    matchLabels: {app: hello-world}
  template:
    metadata:
      labels: {app: hello-world}
    spec:
      containers:
        - name: hello-app
          image: gcr.io/google-samples/hello-app:1.0
          ports:
            - {name: http, containerPort: 8080}
YAML
cat > hello/service.yaml <<'YAML'
apiVersion: v1
kind: Service
metadata:
  name: hello-world
  namespace: default
  labels: {app: hello-world}
spec:
  selector: {app: hello-world}
  ports:
    - {name: http, port: 80, targetPort: http}
YAML

kube apply -f hello/
kube rollout status deployment/hello-world --timeout=120s
kube get endpoints hello-world

for i in $(seq 1 30); do
  if kubectl exec netshoot -- curl -sSf -m 3 http://hello-world; then exit 0; fi
  sleep 1
done
echo "hello-world does not answer by name" >&2
exit 1
