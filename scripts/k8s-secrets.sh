#!/usr/bin/env bash
# Writes k8s/overlays/<overlay>/secrets.env with fresh random values unless it exists, so
# `kubectl apply -k` has its Secret and nothing secret is ever committed (.gitignore).
# usage: k8s-secrets.sh OVERLAY...
set -euo pipefail
source "$(dirname "$0")/tools.sh"
for overlay in "$@"; do
  file="$ROOT/k8s/overlays/$overlay/secrets.env"
  [ -s "$file" ] && continue
  step "generating $file"
  (umask 077 && python3 - >"$file" <<'PY'
import secrets
print(f"ADMIN_TOKEN={secrets.token_urlsafe(32)}")
print("MONGO_ROOT_USERNAME=root")
print(f"MONGO_ROOT_PASSWORD={secrets.token_hex(24)}")
print("MONGO_APP_USERNAME=permisos")
print(f"MONGO_APP_PASSWORD={secrets.token_hex(24)}")
# The replica set members' shared key: base64 text, 6 to 1024 characters.
print(f"MONGO_KEYFILE={secrets.token_urlsafe(512)[:700].replace('-', '+').replace('_', '/')}")
PY
  )
done
