#!/usr/bin/env bash
# Writes k8s/overlays/<overlay>/secrets.env with fresh random values, and public-keys.json
# (the JWK Set of the permit signing key in secrets.env), unless they exist, so
# `kubectl apply -k` has its Secret and ConfigMap and nothing secret is ever committed
# (.gitignore). The signing key comes from `permisosctl keys` (README, "Signed permits").
# usage: k8s-secrets.sh OVERLAY...
set -euo pipefail
source "$(dirname "$0")/tools.sh"

# PERMISOSCTL: a permisosctl binary already built (kind.sh's); else cargo builds one.
keys() {
  if [ -n "${PERMISOSCTL:-}" ]; then
    "$PERMISOSCTL" keys "$@"
  else
    cargo run --quiet --locked -p permisosctl -- keys "$@"
  fi
}

for overlay in "$@"; do
  dir="$ROOT/k8s/overlays/$overlay"
  file="$dir/secrets.env"
  if [ ! -s "$file" ]; then
    step "generating $file"
    (umask 077 && keys secrets-env >"$file")
  fi
  # Checkouts from before signed permits (or pseudonyms, or the validators' own database
  # user) have a secrets.env without the signing key (or the privacy key, or that user).
  if ! grep -q "^MONGO_READER_USERNAME=." "$file"; then
    (umask 077 && echo "MONGO_READER_USERNAME=permisos-lector" >>"$file")
  fi
  # The validators' password is 32 random bytes as hex, as a privacy key is.
  for entry in PERMIT_SIGNING_KEY:new PRIVACY_KEY:privacy MONGO_READER_PASSWORD:privacy; do
    name="${entry%%:*}"
    if ! grep -q "^$name=." "$file"; then
      step "adding $name to $file"
      value="$(keys "${entry#*:}")"
      (umask 077 && sed -i.bak "/^$name=/d" "$file" && rm -f "$file.bak" && echo "$name=$value" >>"$file")
    fi
  done
  if [ ! -s "$dir/public-keys.json" ]; then
    step "publishing its public key in $dir/public-keys.json"
    sed -n 's/^PERMIT_SIGNING_KEY=//p' "$file" | keys public >"$dir/public-keys.json"
  fi
done
