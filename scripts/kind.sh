#!/usr/bin/env bash
# The kind flow, for a laptop with docker, kind and kubectl (none runs on our CI machines;
# the manifests are verified offline there, and .github/workflows/kind-e2e.yml runs this
# flow on GitHub's runners — README, "Deploy on kind").
#   kind.sh up | down | images | deploy | status | smoke | forward | ip
#   GATEWAY=1: the Gateway API path. PERMIT_RULES=off: no curfew and no start delay, for a
#   demo or a test at any hour (the weekly limit stays). MONITORING=1: kube-prometheus with
#   our PodMonitors, rules and dashboard (monitoring/, k8s/components/monitoring).
# Every step is idempotent and says what it does; every wait is `permisosctl wait`
# (crates/permisosctl), which stops early with the reason when what it waits for cannot
# happen.
set -euo pipefail
source "$(dirname "$0")/tools.sh"
cd "$ROOT"
mkdir -p .run

CLUSTER=permisos
NAMESPACE=permisos
# Pinned releases (README, "Deploy on kind", says when each was last checked).
METALLB_VERSION=v0.15.2
ENVOY_GATEWAY_VERSION=v1.9.1
METALLB_MANIFEST="https://raw.githubusercontent.com/metallb/metallb/$METALLB_VERSION/config/manifests/metallb-native.yaml"
ENVOY_GATEWAY_MANIFEST="https://github.com/envoyproxy/gateway/releases/download/$ENVOY_GATEWAY_VERSION/install.yaml"
if [ -n "${GATEWAY:-}" ]; then OVERLAY=kind-gateway; else OVERLAY=kind; fi
# The overlay `make deploy` applies: ours, with the images' content tags (see images()).
DEPLOY_DIR="$ROOT/.run/kind-deploy"
TAGS="$ROOT/.run/kind-images.env"

need() {
  local missing=()
  for tool in "$@"; do command -v "$tool" >/dev/null || missing+=("$tool"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "missing: ${missing[*]} (README, \"Deploy on kind\", lists what to install)" >&2
    exit 1
  fi
}

# retry SECONDS COMMAND...: webhooks answer a little after their pods are Ready.
retry() {
  local until=$((SECONDS + $1)); shift
  until "$@" 2>/dev/null; do
    [ $SECONDS -lt $until ] || { "$@"; return; }
    sleep 3
  done
}

# permisosctl, built on first use (cargo rebuilds only what changed).
ctl() {
  if [ -z "${CTL_BUILT:-}" ]; then
    # On stderr: `kind.sh ip` prints the address alone on stdout.
    step "building permisosctl (crates/permisosctl; a few minutes the first time)" >&2
    cargo build --release --locked --quiet -p permisosctl
    CTL_BUILT=1
  fi
  "$ROOT/target/release/permisosctl" "$@"
}

cluster() {
  if kind get clusters | grep -qx "$CLUSTER"; then
    step "cluster $CLUSTER exists"
  else
    step "creating cluster $CLUSTER (1 control plane, 3 workers)"
    kind create cluster --config kind-config.yaml
  fi
  kubectl config use-context "kind-$CLUSTER" >/dev/null
}

metallb() {
  step "installing MetalLB $METALLB_VERSION"
  kubectl apply -f "$METALLB_MANIFEST"
  ctl -n metallb-system wait deployment/controller daemonset/speaker --timeout 5m
  local range
  range="$(docker network inspect kind | python3 scripts/metallb-pool.py)"
  step "giving MetalLB the addresses $range of the kind network"
  retry 120 sh -c "kubectl kustomize metallb | sed 's|POOL_RANGE|$range|' | kubectl apply -f -"
}

metrics_server() {
  step "installing metrics-server (for the HPAs)"
  kubectl apply -k metrics-server
  ctl -n kube-system wait deployment/metrics-server --timeout 5m
}

monitoring_stack() {
  step "installing kube-prometheus with our dashboard (monitoring/)"
  # Its CustomResourceDefinitions must be established before its custom resources apply:
  # the first passes fail on those, a later one applies them.
  retry 300 kubectl apply --server-side --force-conflicts -k monitoring
  ctl -n monitoring wait statefulset/prometheus-k8s deployment/grafana --timeout 10m
}

# A server-side dry run of an Ingress goes through the admission webhook.
ingress_webhook_answers() {
  kubectl -n ingress-nginx create ingress webhook-probe --class=nginx \
    --rule="probe.invalid/=probe:80" --dry-run=server -o name
}

entrance() {
  if [ -n "${GATEWAY:-}" ]; then
    step "installing Envoy Gateway $ENVOY_GATEWAY_VERSION (Gateway API)"
    kubectl apply --server-side -f "$ENVOY_GATEWAY_MANIFEST"
    ctl -n envoy-gateway-system wait deployment/envoy-gateway --timeout 5m
    retry 120 kubectl apply -f ingress/gateway-class.yaml
  else
    step "installing ingress-nginx with our settings (ingress/ingress-nginx)"
    kubectl apply -k ingress/ingress-nginx
    ctl -n ingress-nginx wait deployment/ingress-nginx-controller --timeout 5m
    step "waiting for its admission webhook"
    retry 120 ingress_webhook_answers >/dev/null
  fi
}

# Each image is tagged by its content (the image ID), so a rebuild that changed anything
# gets a new tag and rolls out, and an unchanged one keeps its tag and rolls nothing.
images() {
  # Tagged by content in $TAGS, which deploy() reads.
  scripts/images.sh build
}

tag_of() { sed -n "s/^$1=//p" "$TAGS"; }

# The overlay applied: ours, with the tags of the images just built.
write_deploy_overlay() {
  mkdir -p "$DEPLOY_DIR"
  cat >"$DEPLOY_DIR/kustomization.yaml" <<YAML
# Written by scripts/kind.sh deploy; not committed.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../k8s/overlays/$OVERLAY
images:
  - name: permisos/issuer
    newTag: $(tag_of issuer)
  - name: permisos/validator
    newTag: $(tag_of validator)
YAML
  if [ "${PERMIT_RULES:-}" = off ]; then
    cat >>"$DEPLOY_DIR/kustomization.yaml" <<YAML
configMapGenerator:
  - name: permisos-config
    behavior: merge
    literals:
      - PERMIT_CURFEW=off
      - PERMIT_START_DELAY_MINUTES=0
YAML
  fi
  if [ -n "${MONITORING:-}" ]; then
    printf 'components:\n  - ../../k8s/components/monitoring\n' >>"$DEPLOY_DIR/kustomization.yaml"
  fi
}

deploy() {
  [ -s "$TAGS" ] || { echo "no images built yet: run \`make images\` (or \`make kind-up\`)" >&2; exit 1; }
  for service in issuer validator; do
    step "loading permisos/$service:$(tag_of "$service") into the kind nodes"
    kind load docker-image --name "$CLUSTER" "permisos/$service:$(tag_of "$service")"
  done
  ctl keys --help >/dev/null
  PERMISOSCTL="$ROOT/target/release/permisosctl" scripts/k8s-secrets.sh "$OVERLAY"
  write_deploy_overlay
  # A Job's pod template cannot change. When ours did (its script or the secrets changed),
  # the old Job is deleted so the apply creates it again; it is safe to run again.
  if ! kubectl apply -k "$DEPLOY_DIR" -l app.kubernetes.io/name=mongodb-init --dry-run=server >/dev/null 2>&1; then
    kubectl -n "$NAMESPACE" delete job mongodb-init --ignore-not-found --wait=true
  fi
  # MongoDB first, so the services' progress deadlines start only when it is up: on a
  # first run its image may take minutes to pull.
  step "applying k8s/overlays/$OVERLAY: MongoDB, configuration and policies"
  kubectl apply -k "$DEPLOY_DIR" -l 'app.kubernetes.io/name notin (issuer,validator,mongodb-init)'
  step "waiting for MongoDB's three members"
  ctl -n "$NAMESPACE" wait statefulset/mongodb --timeout 15m
  step "applying k8s/overlays/$OVERLAY: the replica set's set-up Job and both services"
  kubectl apply -k "$DEPLOY_DIR"
  step "waiting for the replica set's set-up, both services and the entrance's address"
  ctl -n "$NAMESPACE" wait --timeout 10m
}

# The entrance's LoadBalancer Service (for the port-forward): namespace and name.
entrance_service() {
  if [ -n "${GATEWAY:-}" ]; then
    echo "envoy-gateway-system $(kubectl -n envoy-gateway-system get service \
      -l gateway.envoyproxy.io/owning-gateway-name=permisos -o jsonpath='{.items[0].metadata.name}')"
  else
    echo "ingress-nginx ingress-nginx-controller"
  fi
}

# How to reach the system from this machine (permisosctl hosts), and Grafana if installed.
how_to_reach() {
  ctl -n "$NAMESPACE" hosts
  if kubectl get namespace monitoring >/dev/null 2>&1; then
    cat <<MSG

Monitoring (kube-prometheus): in another terminal
  kubectl -n monitoring port-forward service/grafana 3000          # http://127.0.0.1:3000 (admin/admin), dashboard "Permisos"
  kubectl -n monitoring port-forward service/prometheus-k8s 9090   # http://127.0.0.1:9090/alerts
MSG
  fi
}

# Every workload, one line per problem (exit 1 if any), then how to reach it.
status() {
  local healthy=0
  ctl -n "$NAMESPACE" status || healthy=$?
  echo
  how_to_reach
  return "$healthy"
}

forward() {
  local namespace name
  read -r namespace name <<<"$(entrance_service)"
  local command=(kubectl --context "kind-$CLUSTER" -n "$namespace" port-forward --address 127.0.0.1 "service/$name" 80:80)
  step "forwarding 127.0.0.1:80 to $namespace/$name until Ctrl-C"
  if [ "$(uname -s)" = Darwin ] && [ "$(id -u)" != 0 ]; then
    sudo --preserve-env=PATH "${command[@]}" --kubeconfig "${KUBECONFIG:-$HOME/.kube/config}"
  else
    "${command[@]}"
  fi
}

case "${1:-}" in
  up)
    need docker kind kubectl python3 git cargo
    cluster; metallb; metrics_server
    if [ -n "${MONITORING:-}" ]; then monitoring_stack; fi
    entrance; images; deploy; echo; how_to_reach ;;
  down) need kind; step "deleting cluster $CLUSTER"; kind delete cluster --name "$CLUSTER" ;;
  images) need docker git; images ;;
  deploy) need kind kubectl python3 cargo; deploy; echo; how_to_reach ;;
  status) need cargo; status ;;
  smoke) need cargo; ctl -n "$NAMESPACE" smoke ${IP:+--ip "$IP"} ${DOMAIN:+--domain "$DOMAIN"} ;;
  forward) need kubectl; forward ;;
  ip) need cargo; ctl -n "$NAMESPACE" -o json hosts | grep -o '"address": *"[^"]*"' | cut -d'"' -f4 ;;
  *) echo "usage: kind.sh up|down|images|deploy|status|smoke|forward|ip" >&2; exit 2 ;;
esac
