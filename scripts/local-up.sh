#!/usr/bin/env bash
# `make local-up`: the PEP2 topology on one machine, without containers. SecantusDB, R issuer
# and R validator replicas on loopback ports, and nginx on 127.0.0.1:8080 routing by Host
# header as the Ingress does. Everything it starts is recorded by pid in .run/local, and
# `make local-down` stops exactly that. Re-running it while up changes nothing.
set -euo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/local-lib.sh"
cd "$ROOT"

REPLICAS="${REPLICAS:-4}"
LISTEN="${LISTEN:-127.0.0.1:8080}"
DB_PORT="${LOCAL_DB_PORT:-27117}"
RUN="$LOCAL_RUN"
# CPUSET=0 pins the database, the replicas and nginx to one core, like the case study's
# 1 vCPU droplet; unset, they use every core.
CPUSET="${CPUSET:-}"
PIN=()
if [ -n "$CPUSET" ]; then PIN=(taskset -c "$CPUSET"); fi
PIDS="$RUN/pids"

if [ -d "$PIDS" ] && [ -n "$(ls -A "$PIDS" 2>/dev/null)" ]; then
  echo "The local topology is already up (pids in $PIDS); make local-down stops it."
  exit 0
fi

ensure_secantus
apt_install nginx-light nginx
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
# Load runs want release; `make test` passes PROFILE=debug SKIP_BUILD=1 to run the
# binaries its `cargo test` just built (building them alone would rebuild every dependency
# with other features).
PROFILE="${PROFILE:-release}"
if [ -z "${SKIP_BUILD:-}" ]; then
  step "building the services ($PROFILE)"
  cargo build --profile "$([ "$PROFILE" = debug ] && echo dev || echo "$PROFILE")" --locked --bin issuer --bin validator
fi

rm -rf "$RUN"
mkdir -p "$PIDS" "$RUN/db" "$RUN/nginx-tmp"

host_port="${LISTEN##*:}"
export DB_PORT PROFILE CPUSET
export MONGODB_URI="mongodb://127.0.0.1:$DB_PORT"
export ISSUER_PUBLIC_URL="${ISSUER_PUBLIC_URL:-http://formulario.localhost:$host_port}"
export VALIDATOR_PUBLIC_URL="${VALIDATOR_PUBLIC_URL:-http://validar.localhost:$host_port}"
export SHUTDOWN_DRAIN_SECS="${SHUTDOWN_DRAIN_SECS:-1}"
# nginx is the trusted proxy. The load tests send every citizen from 127.0.0.1, so the
# per-client limit on creates is off here unless asked for.
export TRUSTED_PROXIES="${TRUSTED_PROXIES:-127.0.0.1}"
export CREATE_RATE_LIMIT="${CREATE_RATE_LIMIT:-off}"
# Every setting in force, so a replica restarted later runs exactly as the first did.
export -p >"$RUN/env"

step "starting SecantusDB ($(database_build)) on 127.0.0.1:$DB_PORT"
start_database
wait_for_port "$DB_PORT" 30 SecantusDB

issuers="" validators=""
for i in $(seq 1 "$REPLICAS"); do
  for service in issuer validator; do
    port=$(replica_port $service "$i")
    step "starting $service-$i on 127.0.0.1:$port (admin $((port + 1000)))"
    start_replica $service "$i"
    line="        server 127.0.0.1:$port max_fails=1 fail_timeout=5s;"
    if [ $service = issuer ]; then issuers+="$line"$'\n'; else validators+="$line"$'\n'; fi
  done
done
for i in $(seq 1 "$REPLICAS"); do
  wait_for_port "$(replica_port issuer "$i")" 30 "issuer-$i"
  wait_for_port "$(replica_port validator "$i")" 30 "validator-$i"
done

step "starting nginx on $LISTEN"
python3 - "$ROOT/local/nginx.conf.template" "$RUN/nginx.conf" "$RUN" "$LISTEN" "$issuers" "$validators" <<'PY'
import sys
template, out, run, listen, issuers, validators = sys.argv[1:]
text = open(template).read()
for key, value in {"@RUN@": run, "@LISTEN@": listen, "@ISSUERS@": issuers.rstrip("\n"),
                   "@VALIDATORS@": validators.rstrip("\n")}.items():
    text = text.replace(key, value)
open(out, "w").write(text)
PY
"$NGINX" -p "$RUN" -c "$RUN/nginx.conf" -t 2>"$RUN/nginx-test.log" || { cat "$RUN/nginx-test.log" >&2; exit 1; }
"${PIN[@]}" "$NGINX" -p "$RUN" -c "$RUN/nginx.conf"
for _ in $(seq 50); do [ -s "$RUN/nginx.pid" ] && break; sleep 0.1; done
cp "$RUN/nginx.pid" "$PIDS/nginx.pid"

cat <<MSG

Local topology up: $REPLICAS issuers, $REPLICAS validators, nginx on $LISTEN${CPUSET:+, all on CPU $CPUSET}.
  $ISSUER_PUBLIC_URL/
  $VALIDATOR_PUBLIC_URL/
Logs and pids: .run/local    Status: make local-status    Stop: make local-down
MSG
