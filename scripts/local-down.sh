#!/usr/bin/env bash
# `make local-down`: stops exactly what `make local-up` started, by its recorded pids.
set -euo pipefail
source "$(dirname "$0")/common.sh"
PIDS="$ROOT/.run/local/pids"
[ -d "$PIDS" ] || { echo "The local topology is not up."; exit 0; }
for file in "$PIDS"/*.pid; do
  [ -e "$file" ] || continue
  name=$(basename "$file" .pid)
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    step "stopping $name (pid $pid)"
    kill -TERM "$pid"
  fi
done
# Replicas drain for SHUTDOWN_DRAIN_SECS before exiting; wait for all of them.
for file in "$PIDS"/*.pid; do
  [ -e "$file" ] || continue
  pid=$(cat "$file")
  for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; fi
  rm -f "$file"
done
echo "Stopped."
