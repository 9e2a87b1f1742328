#!/usr/bin/env bash
# The kind flow, for a laptop with docker, kind and kubectl (none runs on our CI machines;
# the manifests are verified offline there, and .github/workflows/kind-e2e.yml runs this
# flow on GitHub's runners — README, "Deploy on kind").
#   kind.sh up | down | images | deploy | status | forward | ip
#   GATEWAY=1: the Gateway API path. PERMIT_RULES=off: no curfew and no start delay, for a
#   demo or a test at any hour (the weekly limit stays). MONITORING=1: kube-prometheus with
#   our PodMonitors, rules and dashboard (monitoring/, k8s/components/monitoring).
# Every step is idempotent and says what it does; every wait stops early with the reason
# when what it waits for cannot happen (scripts/kind_blockers.py).
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

# wait_until NAMESPACE SECONDS WHAT COMMAND...: until COMMAND succeeds; stops at once, with
# the reason, when something in NAMESPACE cannot progress, and after SECONDS at the latest.
wait_until() {
  local namespace=$1 seconds=$2 what=$3; shift 3
  local until=$((SECONDS + seconds))
  printf '    waiting for %s' "$what"
  until "$@" >/dev/null 2>&1; do
    if ! kubectl -n "$namespace" get pods,jobs,deployments,statefulsets -o json \
        | python3 scripts/kind_blockers.py >"$ROOT/.run/kind-blockers.txt"; then
      printf '\n%s cannot become ready:\n' "$what" >&2
      cat "$ROOT/.run/kind-blockers.txt" >&2
      return 1
    fi
    if [ $SECONDS -ge $until ]; then
      printf '\n%s not ready after %s s; make status shows where it stands\n' "$what" "$seconds" >&2
      return 1
    fi
    printf '.'
    sleep 5
  done
  printf ' ok\n'
}

rolled_out() {
  kubectl -n "$1" rollout status "$2" --watch=false | grep -Eq "successfully rolled out|update complete|roll out complete"
}
job_complete() {
  [ "$(kubectl -n "$NAMESPACE" get job "$1" -o jsonpath='{.status.conditions[?(@.type=="Complete")].status}')" = True ]
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
  wait_until metallb-system 300 "MetalLB's controller" rolled_out metallb-system deployment/controller
  wait_until metallb-system 300 "MetalLB's speakers" rolled_out metallb-system daemonset/speaker
  local range
  range="$(docker network inspect kind | python3 scripts/metallb-pool.py)"
  step "giving MetalLB the addresses $range of the kind network"
  retry 120 sh -c "kubectl kustomize metallb | sed 's|POOL_RANGE|$range|' | kubectl apply -f -"
}

metrics_server() {
  step "installing metrics-server (for the HPAs)"
  kubectl apply -k metrics-server
  wait_until kube-system 300 "metrics-server" rolled_out kube-system deployment/metrics-server
}

monitoring_stack() {
  step "installing kube-prometheus with our dashboard (monitoring/)"
  # Its CustomResourceDefinitions must be established before its custom resources apply:
  # the first passes fail on those, a later one applies them.
  retry 300 kubectl apply --server-side --force-conflicts -k monitoring
  wait_until monitoring 600 "Prometheus" rolled_out monitoring statefulset/prometheus-k8s
  wait_until monitoring 600 "Grafana" rolled_out monitoring deployment/grafana
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
    wait_until envoy-gateway-system 300 "Envoy Gateway" rolled_out envoy-gateway-system deployment/envoy-gateway
    retry 120 kubectl apply -f ingress/gateway-class.yaml
  else
    step "installing ingress-nginx with our settings (ingress/ingress-nginx)"
    kubectl apply -k ingress/ingress-nginx
    wait_until ingress-nginx 300 "ingress-nginx" rolled_out ingress-nginx deployment/ingress-nginx-controller
    wait_until ingress-nginx 120 "its admission webhook" ingress_webhook_answers
  fi
}

# Each image is tagged by its content (the image ID), so a rebuild that changed anything
# gets a new tag and rolls out, and an unchanged one keeps its tag and rolls nothing.
images() {
  need docker
  local revision
  revision="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  mkdir -p "$ROOT/.run"
  : >"$TAGS.new"
  for service in issuer validator; do
    step "building image permisos/$service"
    docker build --target "$service" --build-arg GIT_REVISION="$revision" \
      --iidfile "$ROOT/.run/$service.iid" -t "permisos/$service:build" .
    local id tag
    id="$(cut -d: -f2 <"$ROOT/.run/$service.iid")"
    tag="c-${id:0:16}"
    docker tag "permisos/$service:build" "permisos/$service:$tag"
    echo "$service=$tag" >>"$TAGS.new"
    echo "    permisos/$service:$tag"
  done
  mv "$TAGS.new" "$TAGS"
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
  scripts/k8s-secrets.sh "$OVERLAY"
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
  wait_until "$NAMESPACE" 900 "MongoDB's three members" rolled_out "$NAMESPACE" statefulset/mongodb
  step "applying k8s/overlays/$OVERLAY: the replica set's set-up Job and both services"
  kubectl apply -k "$DEPLOY_DIR"
  wait_until "$NAMESPACE" 600 "the replica set's set-up (job/mongodb-init)" job_complete mongodb-init
  wait_until "$NAMESPACE" 300 "the issuers" rolled_out "$NAMESPACE" deployment/issuer
  wait_until "$NAMESPACE" 300 "the validators" rolled_out "$NAMESPACE" deployment/validator
}

# The entrance's LoadBalancer Service: namespace and name.
entrance_service() {
  if [ -n "${GATEWAY:-}" ]; then
    echo "envoy-gateway-system $(kubectl -n envoy-gateway-system get service \
      -l gateway.envoyproxy.io/owning-gateway-name=permisos -o jsonpath='{.items[0].metadata.name}')"
  else
    echo "ingress-nginx ingress-nginx-controller"
  fi
}

external_ip() {
  local namespace name
  read -r namespace name <<<"$(entrance_service)"
  local ip
  ip="$(kubectl -n "$namespace" get service "$name" -o jsonpath='{.status.loadBalancer.ingress[0].ip}')"
  [ -n "$ip" ] && echo "$ip"
}

status() {
  kubectl -n "$NAMESPACE" get pods,services,ingress,pdb -o wide 2>/dev/null || true
  # TARGETS shows the HPA's current CPU against its target; <unknown> means no metrics.
  kubectl -n "$NAMESPACE" get hpa 2>/dev/null || true
  local domain ip code
  domain="$(sed -n 's/^ *- DOMAIN=//p' k8s/components/kind/kustomization.yaml)"
  wait_until "$NAMESPACE" 300 "the LoadBalancer IP from MetalLB" external_ip || return 1
  ip="$(external_ip)"
  code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 -H "Host: formulario.$domain" "http://$ip/" || true)"
  if [ "$code" = 200 ]; then
    cat <<MSG

The system answers on the MetalLB IP $ip. Add to /etc/hosts:
  $ip formulario.$domain validar.$domain
Then open http://formulario.$domain/ and http://validar.$domain/, or load it:
  make load-test ENV=low TARGET=http://$ip ISSUER_HOST=formulario.$domain VALIDATOR_HOST=validar.$domain
MSG
  else
    cat <<MSG

This host cannot reach the MetalLB IP $ip (Docker Desktop on macOS and Windows does not
route the kind network to the host). Use a port-forward instead: in another terminal run
  make kind-forward
(it runs \`kubectl port-forward\` to the entrance on 127.0.0.1:80; on macOS through sudo,
which binding port 80 on 127.0.0.1 needs there), and add to /etc/hosts:
  127.0.0.1 formulario.$domain validar.$domain
Then open http://formulario.$domain/ and http://validar.$domain/. Load tests go through the
port-forward, which carries far less than the IP would; keep them small:
  make load-test ENV=smoke TARGET=http://127.0.0.1 ISSUER_HOST=formulario.$domain VALIDATOR_HOST=validar.$domain
MSG
  fi
  if kubectl get namespace monitoring >/dev/null 2>&1; then
    cat <<MSG

Monitoring (kube-prometheus): in another terminal
  kubectl -n monitoring port-forward service/grafana 3000          # http://127.0.0.1:3000 (admin/admin), dashboard "Permisos"
  kubectl -n monitoring port-forward service/prometheus-k8s 9090   # http://127.0.0.1:9090/alerts
MSG
  fi
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
    need docker kind kubectl python3 curl git
    cluster; metallb; metrics_server
    if [ -n "${MONITORING:-}" ]; then monitoring_stack; fi
    entrance; images; deploy; status ;;
  down) need kind; step "deleting cluster $CLUSTER"; kind delete cluster --name "$CLUSTER" ;;
  images) need docker git; images ;;
  deploy) need kind kubectl python3 curl; deploy; status ;;
  status) need kubectl python3 curl; status ;;
  forward) need kubectl; forward ;;
  ip) need kubectl; external_ip ;;
  *) echo "usage: kind.sh up|down|images|deploy|status|forward|ip" >&2; exit 2 ;;
esac
