#!/usr/bin/env bash
# The two container images (`make images`, and the image test in `make test`), from the
# Dockerfile the kind path builds, on whatever Docker engine this machine has:
#
#   images.sh build    both images, tagged by content in .run/kind-images.env; sizes printed
#   images.sh engine   make sure an engine answers: the one DOCKER_HOST names or the
#                      system's; else, as root on Debian, this project's own dockerd
#                      (.run/docker: no firewall rules, no bridge, containers on the host's
#                      network), which `images.sh stop` stops. Prints the DOCKER_HOST to
#                      use (`eval "$(scripts/images.sh engine)"`)
#   images.sh base     the distroless/cc base made from Debian's packages (mmdebstrap),
#                      tagged with the name the Dockerfile expects
#
# On a machine that reaches the registries the real bases are pulled, as on a laptop or a
# hosted runner. Where they cannot be pulled, the base is made locally (the package list is
# BASE_PACKAGES below, the suite pinned) and the binaries come from a release build on this
# host (a Debian 12 host, as the base is); the final stages are the same either way.
set -euo pipefail
source "$(dirname "$0")/tools.sh"
cd "$ROOT"

BASE_IMAGE="gcr.io/distroless/cc-debian12:nonroot"
RUST_IMAGE="rust:1.95-bookworm"
# What distroless/cc holds: glibc, libgcc, CA certificates, time-zone data, /etc/services.
BASE_SUITE="bookworm"
BASE_PACKAGES="libc6,libgcc-s1,ca-certificates,tzdata,netbase"
ENGINE_DIR="$ROOT/.run/docker"
TAGS="$ROOT/.run/kind-images.env"
# Debian's own client: a newer one earlier in PATH may lack the BuildKit it needs.
DOCKER="${DOCKER:-$( [ -x /usr/bin/docker ] && echo /usr/bin/docker || command -v docker || echo docker)}"
export DOCKER_BUILDKIT=1

answers() { "$DOCKER" info >/dev/null 2>&1; }

engine() {
  if answers; then return; fi
  local socket="unix://$ENGINE_DIR/docker.sock"
  if DOCKER_HOST="$socket" answers; then
    echo "export DOCKER_HOST=$socket"
    return
  fi
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "no Docker engine answers ($DOCKER info): start Docker (or set DOCKER_HOST) and run this again" >&2
    exit 1
  fi
  scripts/tools.sh docker >&2
  mkdir -p "$ENGINE_DIR"
  # No firewall and no private addresses: containers use the host's network (loopback).
  cat >"$ENGINE_DIR/daemon.json" <<'JSON'
{"iptables": false, "ip-forward": false, "ip-masq": false, "bridge": "none", "storage-driver": "overlay2"}
JSON
  step "starting dockerd (its files in .run/docker)" >&2
  setsid dockerd --config-file "$ENGINE_DIR/daemon.json" --data-root "$ENGINE_DIR/data" \
    --exec-root "$ENGINE_DIR/exec" --pidfile "$ENGINE_DIR/dockerd.pid" --host "$socket" \
    >"$ENGINE_DIR/dockerd.log" 2>&1 </dev/null &
  for _ in $(seq 1 60); do
    if DOCKER_HOST="$socket" answers; then
      echo "export DOCKER_HOST=$socket"
      return
    fi
    sleep 0.5
  done
  echo "dockerd did not answer within 30 s; the end of .run/docker/dockerd.log:" >&2
  tail -20 "$ENGINE_DIR/dockerd.log" >&2
  exit 1
}

stop() {
  local pid
  pid="$(cat "$ENGINE_DIR/dockerd.pid" 2>/dev/null || true)"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    step "stopping dockerd (pid $pid)"
    kill "$pid"
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  # dockerd leaves its network namespace's bind mount behind; the folder cannot go without.
  if grep -q " $ENGINE_DIR/exec/netns/default " /proc/mounts 2>/dev/null; then
    umount "$ENGINE_DIR/exec/netns/default" || true
  fi
}

# present IMAGE: true when the engine has it, or can pull it within 30 s.
present() {
  "$DOCKER" image inspect "$1" >/dev/null 2>&1 || timeout 30 "$DOCKER" pull -q "$1" >/dev/null 2>&1
}

base() {
  scripts/tools.sh mmdebstrap
  local out="$ROOT/.run/images"
  mkdir -p "$out"
  step "making $BASE_IMAGE from Debian $BASE_SUITE ($BASE_PACKAGES)"
  # Unpacked only (no maintainer scripts run); then what distroless does not hold is
  # removed: every program (no shell, no package manager), dpkg's and apt's state, perl.
  # The CA bundle is what update-ca-certificates would write; the users are distroless's.
  local rootfs="$out/base"
  rm -rf "$rootfs"
  mmdebstrap --quiet --variant=extract --include="$BASE_PACKAGES" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/perl5/*' \
    --extract-hook='cat "$1"/usr/share/ca-certificates/mozilla/*.crt >"$1"/etc/ssl/certs/ca-certificates.crt' \
    --extract-hook='printf "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n" >"$1"/etc/passwd' \
    --extract-hook='printf "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n" >"$1"/etc/group' \
    --extract-hook='mkdir -p "$1"/home/nonroot "$1"/root && chown 65532:65532 "$1"/home/nonroot && chmod 1777 "$1"/tmp' \
    "$BASE_SUITE" "$rootfs"
  (cd "$rootfs" && rm -rf usr/bin usr/sbin usr/share/debconf usr/share/ca-certificates usr/lib/ssl \
    usr/lib/x86_64-linux-gnu/engines-3 usr/lib/x86_64-linux-gnu/ossl-modules \
    var/lib/dpkg var/lib/apt var/cache var/log etc/apt etc/dpkg etc/debconf.conf etc/ssl/openssl.cnf)
  tar --numeric-owner -C "$rootfs" -c . |
    "$DOCKER" import --change 'USER 65532:65532' --change 'WORKDIR /home/nonroot' - "$BASE_IMAGE" >/dev/null
  echo "    $BASE_IMAGE: $(size "$BASE_IMAGE")"
}

size() { "$DOCKER" image inspect -f '{{.Size}}' "$1" | awk '{ printf "%.1f MB", $1 / 1e6 }'; }

build() {
  local revision context=. binaries=build
  revision="${GIT_REVISION:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}"
  if ! present "$BASE_IMAGE"; then
    base
  fi
  if ! present "$RUST_IMAGE"; then
    step "no $RUST_IMAGE to build in: the binaries from a release build on this host"
    # PREBUILT_DIR: release binaries of this checkout already built (make test passes the
    # ones its make-run test just built from a copy of these files).
    local built="${PREBUILT_DIR:-}"
    if [ -z "$built" ]; then
      cargo build --release --locked --quiet --bin issuer --bin validator
      built="${CARGO_TARGET_DIR:-$ROOT/target}/release"
    fi
    context="$ROOT/.run/images/context"
    rm -rf "$context" && mkdir -p "$context/bin"
    cp "$built/issuer" "$built/validator" "$context/bin/"
    binaries=prebuilt
  fi
  : >"$TAGS.new"
  for service in issuer validator; do
    step "building image permisos/$service"
    "$DOCKER" build --quiet --target "$service" --build-arg BINARIES="$binaries" \
      --build-arg GIT_REVISION="$revision" --iidfile "$ROOT/.run/$service.iid" \
      -t "permisos/$service:build" -f "$ROOT/Dockerfile" "$context" >/dev/null
    local id tag
    id="$(cut -d: -f2 <"$ROOT/.run/$service.iid")"
    tag="c-${id:0:16}"
    "$DOCKER" tag "permisos/$service:build" "permisos/$service:$tag"
    echo "$service=$tag" >>"$TAGS.new"
    echo "    permisos/$service:$tag ($(size "permisos/$service:$tag"))"
  done
  mv "$TAGS.new" "$TAGS"
}

# The engine's DOCKER_HOST for this process; stops here, with engine's reason, without one.
use_engine() {
  local line
  line="$(engine)" || exit 1
  eval "$line"
}

case "${1:-}" in
  engine) engine ;;
  stop) stop ;;
  base) use_engine; base ;;
  build) use_engine; build ;;
  *) echo "usage: images.sh build|engine|base|stop" >&2; exit 2 ;;
esac
