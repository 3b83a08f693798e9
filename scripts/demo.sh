#!/usr/bin/env bash
# The article's walkthrough on the local sandbox: podinfo behind Traefik, released to 4.0.6 and promoted,
# then a faulty revision rolled back. Leaves the sandbox running for a look around.
set -euo pipefail
cd "$(dirname "$0")/.."
export SANDBOX_DIR=${SANDBOX_DIR:-.sandbox}
PY=.venv/bin/python

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "Starting the sandbox (real Kubernetes control plane, real Traefik, Prometheus, kubectl, hey)"
$PY -m kubesandbox.cli up
# shellcheck disable=SC1091
source "$SANDBOX_DIR/env"

# Releases run as the ServiceAccount of rbac/, as a CI job or AWX would;
# kubectl runs as the sandbox's admin.
# Each step of the analysis prints its line (weight, checks, failed checks, decision) as it happens;
# each release that analysed writes its report (HTML with plots, JUnit XML) into build/reports.
release() {
  KUBECONFIG="${SANDBOX_COLLECTION_KUBECONFIG:-$KUBECONFIG}" ansible-playbook playbooks/canary.yml \
    -e canary_report_dir="$PWD/build/reports" "$@"
}

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

step "Installing the Canary and MetricTemplate CRDs"
ansible-playbook playbooks/install_crds.yml

step "kubectl create ns test; podinfo with its HPA, the load tester, the IngressRoute"
kubectl apply -f examples/podinfo/namespace.yaml
kubectl apply -f examples/podinfo/deployment.yaml -f examples/podinfo/hpa.yaml
kubectl apply -f examples/podinfo/loadtester-deployment.yaml -f examples/podinfo/loadtester-service.yaml
kubectl apply -f examples/podinfo/ingressroute.yaml
kubectl -n test rollout status deployment/podinfo --timeout=60s
kubectl -n test rollout status deployment/flagger-loadtester --timeout=60s

step "Steady load through Traefik: hey -host app.example.com $TRAEFIK_URL (10 rps, in the background)"
hey -z 30m -q 5 -c 2 -host app.example.com "$TRAEFIK_URL/" >/dev/null 2>&1 &
pids+=($!)

step "kubectl apply -f podinfo-canary.yaml (the article's Canary) and the first run: initialisation"
kubectl apply -f examples/podinfo/canary.yaml
release -e canary_name=podinfo -e canary_namespace=test

step "kubectl -n test set image deployment/podinfo podinfod=stefanprodan/podinfo:4.0.6, then the release"
kubectl -n test set image deployment/podinfo podinfod=stefanprodan/podinfo:4.0.6
release -e canary_name=podinfo -e canary_namespace=test
kubectl get canaries -A

step "A faulty revision: 4.0.7 answers half of its requests with HTTP 500"
kubectl -n test set image deployment/podinfo podinfod=stefanprodan/podinfo:4.0.7
kubectl -n test set env deployment/podinfo SANDBOX_FAIL_RATE=0.5
if release -e canary_name=podinfo -e canary_namespace=test; then
  echo "the faulty revision was promoted: this is a bug" >&2
  exit 1
fi
kubectl get canaries -A
served=$(curl -s -H 'Host: app.example.com' "$TRAEFIK_URL/version")
echo "Traefik now serves: $served"
case "$served" in *4.0.6*) ;; *) echo "expected 4.0.6 after the rollback" >&2; exit 1 ;; esac

step "Look around"
cat <<EOT
  source $SANDBOX_DIR/env
  kubectl get canaries -A
  kubectl -n test describe canary/podinfo
  kubectl get traefikservices -A
  curl -H 'Host: app.example.com' \$TRAEFIK_URL/version
Tear down with: make sandbox-down
EOT
