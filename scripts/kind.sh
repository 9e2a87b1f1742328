#!/usr/bin/env bash
# The kind flow, for a laptop with docker, kind and kubectl (none runs on our CI machines;
# the manifests are verified offline there instead — README, "Deploy on kind").
#   kind.sh up | down | images | deploy | status      GATEWAY=1 selects the Gateway API path.
# Every step is idempotent and says what it does.
set -euo pipefail
source "$(dirname "$0")/tools.sh"
cd "$ROOT"

CLUSTER=permisos
# The image records the revision it was built from (build_info); local builds say "unknown".
GIT_REVISION="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
VERSION="$(awk -F'"' '/^version/ {print $2; exit}' Cargo.toml)"
METALLB_MANIFEST="https://raw.githubusercontent.com/metallb/metallb/v0.15.2/config/manifests/metallb-native.yaml"
INGRESS_NGINX_MANIFEST="https://raw.githubusercontent.com/kubernetes/ingress-nginx/controller-v1.15.1/deploy/static/provider/cloud/deploy.yaml"
ENVOY_GATEWAY_MANIFEST="https://github.com/envoyproxy/gateway/releases/download/v1.5.1/install.yaml"
if [ -n "${GATEWAY:-}" ]; then OVERLAY=kind-gateway; else OVERLAY=kind; fi

need() { for tool in "$@"; do command -v "$tool" >/dev/null || { echo "$tool is required" >&2; exit 1; }; done; }

# retry SECONDS COMMAND...: webhooks answer a little after their pods are Ready.
retry() {
  local until=$((SECONDS + $1)); shift
  until "$@"; do
    [ $SECONDS -lt $until ] || return 1
    sleep 3
  done
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
  step "installing MetalLB v0.15.2"
  kubectl apply -f "$METALLB_MANIFEST"
  kubectl -n metallb-system rollout status deployment/controller --timeout=300s
  kubectl -n metallb-system rollout status daemonset/speaker --timeout=300s
  local range
  range="$(docker network inspect kind | python3 scripts/metallb-pool.py)"
  step "giving MetalLB the addresses $range of the kind network"
  retry 120 sh -c "kubectl kustomize metallb | sed 's|POOL_RANGE|$range|' | kubectl apply -f -"
}

entrance() {
  if [ -n "${GATEWAY:-}" ]; then
    step "installing Envoy Gateway v1.5.1 (Gateway API)"
    kubectl apply --server-side -f "$ENVOY_GATEWAY_MANIFEST"
    kubectl -n envoy-gateway-system rollout status deployment/envoy-gateway --timeout=300s
    retry 120 kubectl apply -f ingress/gateway-class.yaml
  else
    step "installing ingress-nginx controller-v1.15.1"
    kubectl apply -f "$INGRESS_NGINX_MANIFEST"
    kubectl apply -f ingress/ingress-nginx-settings.yaml
    kubectl -n ingress-nginx rollout status deployment/ingress-nginx-controller --timeout=300s
  fi
}

images() {
  need docker
  for service in issuer validator; do
    step "building image permisos/$service:$VERSION"
    docker build --target "$service" --build-arg GIT_REVISION="$GIT_REVISION" -t "permisos/$service:$VERSION" .
  done
}

deploy() {
  for service in issuer validator; do
    step "loading permisos/$service:$VERSION into the kind nodes"
    kind load docker-image --name "$CLUSTER" "permisos/$service:$VERSION"
  done
  scripts/k8s-secrets.sh "$OVERLAY"
  step "applying k8s/overlays/$OVERLAY"
  kubectl apply -k "k8s/overlays/$OVERLAY"
  step "waiting for MongoDB, its set-up Job and both services"
  kubectl -n permisos rollout status statefulset/mongodb --timeout=600s
  kubectl -n permisos wait --for=condition=complete job/mongodb-init --timeout=600s
  kubectl -n permisos rollout status deployment/issuer --timeout=300s
  kubectl -n permisos rollout status deployment/validator --timeout=300s
}

external_ip() {
  local ip=""
  for _ in $(seq 100); do
    if [ -n "${GATEWAY:-}" ]; then
      ip=$(kubectl -n envoy-gateway-system get service \
        -l gateway.envoyproxy.io/owning-gateway-name=permisos \
        -o jsonpath='{.items[0].status.loadBalancer.ingress[0].ip}' 2>/dev/null || true)
    else
      ip=$(kubectl -n ingress-nginx get service ingress-nginx-controller \
        -o jsonpath='{.status.loadBalancer.ingress[0].ip}' 2>/dev/null || true)
    fi
    [ -n "$ip" ] && break
    sleep 3
  done
  [ -n "$ip" ] || { echo "no external IP from MetalLB" >&2; return 1; }
  echo "$ip"
}

status() {
  kubectl -n permisos get pods,services,ingress,hpa,pdb -o wide 2>/dev/null || true
  local domain ip
  domain=$(awk -F= '/DOMAIN=/ {print $2}' "k8s/overlays/$OVERLAY/kustomization.yaml")
  ip=$(external_ip)
  cat <<MSG

External IP (MetalLB): $ip
Add to /etc/hosts:
  $ip formulario.$domain validar.$domain
Then open http://formulario.$domain/ and http://validar.$domain/, or load it:
  make load-test ENV=low TARGET=http://$ip ISSUER_HOST=formulario.$domain VALIDATOR_HOST=validar.$domain
MSG
}

case "${1:-}" in
  up) need docker kind kubectl; cluster; metallb; entrance; images; deploy; status ;;
  down) need kind; step "deleting cluster $CLUSTER"; kind delete cluster --name "$CLUSTER" ;;
  images) images ;;
  deploy) need kind kubectl; deploy; status ;;
  status) need kubectl; status ;;
  *) echo "usage: kind.sh up|down|images|deploy|status" >&2; exit 2 ;;
esac
