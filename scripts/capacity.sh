#!/usr/bin/env bash
# `make capacity`: closed-loop maximum throughput of create and of validate through nginx,
# each beside nginx answering a static response and nginx proxying to a trivial upstream
# (the ceiling for anything behind the proxy) in the same run (docs/benchmarks.md). The signed
# validation path is driven over TOKENS distinct signed links, with the database up and
# with it frozen (SIGSTOP). Runs in a fresh local topology (curfew off), brought down after.
# wrk shares the machine with it.
set -euo pipefail
source "$(dirname "$0")/tools.sh"
cd "$ROOT"

SECONDS_EACH="${SECONDS_EACH:-15}"
CONNECTIONS="${CONNECTIONS:-64}"
if [ -z "${LOCAL_TOPOLOGY:-}" ]; then
  scripts/tools.sh wrk secantus nginx
  # This script runs again inside a fresh topology, brought down after.
  PERMIT_CURFEW=off exec cargo xtask with-topology -- "$0" "$@"
fi
db_pid=$(cat .run/local/pids/db.pid)
# The database is thawed whatever happens to the frozen run.
trap 'kill -CONT "$db_pid" 2>/dev/null' EXIT

step "signing ${TOKENS:-10000} distinct permits' links (cargo xtask signed-links)"
export SIGNED_LINKS="$ROOT/.run/signed-links.txt"
cargo xtask signed-links --count "${TOKENS:-10000}" >"$SIGNED_LINKS" 2>.run/ed25519.txt

target="http://127.0.0.1:8080"
id=$(cargo xtask seed | sed -E 's/.*"expired":"([^"]+)".*/\1/')

run() { # run NAME WRK-ARGS...: prints "NAME req/s p50 p99 non-2xx"
  local name=$1; shift
  local out
  out=$(wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_EACH}s" --latency "$@")
  local rps p50 p99 bad
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  bad=$(awk '/Non-2xx or 3xx responses/ {print $NF}' <<<"$out")
  echo "$name $rps $p50 $p99 ${bad:-0}"
}

step "measuring, $SECONDS_EACH s each, $CONNECTIONS connections"
results=$(
  run static -H 'Host: static.localhost' "$target/"
  run proxied -H 'Host: proxied.localhost' "$target/"
  run validate -H 'Host: validar.localhost' "$target/validar/$id"
  run signed -s load/wrk/signed.lua "$target/"
  # The database frozen, not gone: every read of it would hang. The signed path must not care.
  kill -STOP "$db_pid"
  run signed_frozen -s load/wrk/signed.lua "$target/"
  kill -CONT "$db_pid"
  run create -s load/wrk/create.lua "$target/api/create"
)
static=$(awk '$1 == "static" {print $2}' <<<"$results")
echo "| Request | Requests/s | Ratio to nginx static | p50 | p99 | non-2xx |"
echo "| -- | -- | -- | -- | -- | -- |"
while read -r name rps p50 p99 bad; do
  ratio=$(awk -v a="$rps" -v b="$static" 'BEGIN { printf "%.3f", a / b }')
  case $name in
    static) label="nginx static response" ;;
    proxied) label="nginx proxying to a trivial upstream" ;;
    validate) label="GET /validar/{id} (database read)" ;;
    signed) label="GET /v/{token} (signature, no database read)" ;;
    signed_frozen) label="GET /v/{token}, database frozen (SIGSTOP)" ;;
    create) label="POST /api/create" ;;
  esac
  echo "| $label | $rps | $ratio | $p50 | $p99 | $bad |"
done <<<"$results"
echo
cat .run/ed25519.txt
