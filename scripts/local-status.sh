#!/usr/bin/env bash
# `make local-status`: what `make local-up` started, and whether each part answers.
set -euo pipefail
source "$(dirname "$0")/common.sh"
PIDS="$ROOT/.run/local/pids"
[ -d "$PIDS" ] && [ -n "$(ls -A "$PIDS")" ] || { echo "The local topology is not up."; exit 0; }
printf '%-14s %-8s %-8s %s\n' PART PID ALIVE READY
for file in "$PIDS"/*.pid; do
  name=$(basename "$file" .pid)
  pid=$(cat "$file")
  alive=no; kill -0 "$pid" 2>/dev/null && alive=yes
  ready=-
  case "$name" in
    issuer-*) ready=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$((19080 + ${name#issuer-}))/readyz" || true) ;;
    validator-*) ready=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$((19180 + ${name#validator-}))/readyz" || true) ;;
  esac
  printf '%-14s %-8s %-8s %s\n' "$name" "$pid" "$alive" "$ready"
done
