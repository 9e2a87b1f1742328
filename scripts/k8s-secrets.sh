#!/usr/bin/env bash
# Writes an overlay's secrets with fresh random values, one file per Secret so each
# reaches only its consumers: database.env (MongoDB's users and key file), issuer.env (the
# permit signing key, the privacy key; OIDC_CLIENT_SECRET is added by hand), operators.env
# (the bootstrap ADMIN_TOKEN); and public-keys.json, the JWK Set of issuer.env's signing
# key. Each is written only when missing, so `kubectl apply -k` has its Secrets and
# ConfigMap and nothing secret is ever committed (.gitignore). A checkout from before the
# split has one secrets.env: its values are moved into the three files, unchanged.
# The signing key comes from `permisosctl keys` (README, "Signed permits").
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

# The file of the overlay's directory a variable belongs in.
file_of() {
  case "$1" in
    MONGO_*) echo database.env ;;
    ADMIN_TOKEN | ASSISTANCE_TOKEN) echo operators.env ;;
    *) echo issuer.env ;;
  esac
}

# Appends NAME=value lines from stdin each to its file in $1, owner-only.
sort_into() {
  local dir=$1 line
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    (umask 077 && printf '%s\n' "$line" >>"$dir/$(file_of "${line%%=*}")")
  done
}

for overlay in "$@"; do
  dir="$ROOT/k8s/overlays/$overlay"
  if [ ! -s "$dir/database.env" ] && [ ! -s "$dir/issuer.env" ] && [ ! -s "$dir/operators.env" ]; then
    if [ -s "$dir/secrets.env" ]; then
      step "moving $dir/secrets.env into database.env, issuer.env and operators.env"
      sort_into "$dir" <"$dir/secrets.env"
      rm -f "$dir/secrets.env"
    else
      step "generating the secrets of $dir (database.env, issuer.env, operators.env)"
      keys secrets-env | sort_into "$dir"
    fi
  fi
  # Checkouts from before signed permits (or pseudonyms, or the validators' own database
  # user) lack the signing key (or the privacy key, or that user).
  if ! grep -qs "^MONGO_READER_USERNAME=." "$dir/database.env"; then
    echo "MONGO_READER_USERNAME=permisos-lector" | sort_into "$dir"
  fi
  # The validators' password is 32 random bytes as hex, as a privacy key is.
  for entry in PERMIT_SIGNING_KEY:new PRIVACY_KEY:privacy MONGO_READER_PASSWORD:privacy; do
    name="${entry%%:*}"
    file="$dir/$(file_of "$name")"
    if ! grep -qs "^$name=." "$file"; then
      step "adding $name to $file"
      if [ -f "$file" ]; then sed -i.bak "/^$name=/d" "$file" && rm -f "$file.bak"; fi
      echo "$name=$(keys "${entry#*:}")" | sort_into "$dir"
    fi
  done
  if [ ! -s "$dir/public-keys.json" ]; then
    step "publishing its public key in $dir/public-keys.json"
    sed -n 's/^PERMIT_SIGNING_KEY=//p' "$dir/issuer.env" | keys public >"$dir/public-keys.json"
  fi
done
