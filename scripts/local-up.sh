#!/usr/bin/env bash
# `make local-up`: the PEP2 topology on one machine, without containers. SecantusDB, R issuer
# and R validator replicas on loopback ports, and nginx on 127.0.0.1:8080 routing by Host
# header as the Ingress does. Everything it starts is recorded by pid in .run/local, and
# `make local-down` stops exactly that. Re-running it while up changes nothing.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"

REPLICAS="${REPLICAS:-4}"
LISTEN="${LISTEN:-127.0.0.1:8080}"
DB_PORT="${LOCAL_DB_PORT:-27117}"
RUN="$ROOT/.run/local"
# CPUSET=0 pins the database, the replicas and nginx to one core, like the case study's
# 1 vCPU droplet; unset, they use every core.
PIN=()
if [ -n "${CPUSET:-}" ]; then PIN=(taskset -c "$CPUSET"); fi
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
record() { echo "$2" >"$PIDS/$1.pid"; }

# The Rust build of SecantusDB when installed (make secantus-rs): ~8x faster on writes,
# so a load run measures our services, not the stand-in. A fresh, empty database each time.
if [ -x "$ROOT/.tools/bin/secantusd-rs" ]; then
  step "starting SecantusDB (Rust build) on 127.0.0.1:$DB_PORT"
  "${PIN[@]}" "$ROOT/.tools/bin/secantusd-rs" --host 127.0.0.1 --port "$DB_PORT" --storage-path "$RUN/db" \
    --log-file-max 16MB >"$RUN/db.log" 2>&1 &
else
  step "starting SecantusDB (Python build) on 127.0.0.1:$DB_PORT"
  "${PIN[@]}" "$VENV/bin/secantusd-py" --host 127.0.0.1 --port "$DB_PORT" --storage-path "$RUN/db" \
    --log-level WARNING >"$RUN/db.log" 2>&1 &
fi
record db $!
wait_for_port "$DB_PORT" 30 SecantusDB

export MONGODB_URI="mongodb://127.0.0.1:$DB_PORT"
host_port="${LISTEN##*:}"
export ISSUER_PUBLIC_URL="${ISSUER_PUBLIC_URL:-http://formulario.localhost:$host_port}"
export VALIDATOR_PUBLIC_URL="${VALIDATOR_PUBLIC_URL:-http://validar.localhost:$host_port}"
export SHUTDOWN_DRAIN_SECS="${SHUTDOWN_DRAIN_SECS:-1}"
# nginx is the trusted proxy. The load tests send every citizen from 127.0.0.1, so the
# per-client limit on creates is off here unless asked for.
export TRUSTED_PROXIES="${TRUSTED_PROXIES:-127.0.0.1}"
export CREATE_RATE_LIMIT="${CREATE_RATE_LIMIT:-off}"

issuers="" validators=""
for i in $(seq 1 "$REPLICAS"); do
  for service in issuer validator; do
    if [ $service = issuer ]; then port=$((18080 + i)); else port=$((18180 + i)); fi
    admin=$((port + 1000))
    step "starting $service-$i on 127.0.0.1:$port (admin $admin)"
    LISTEN_ADDR="127.0.0.1:$port" ADMIN_ADDR="127.0.0.1:$admin" \
      "${PIN[@]}" "target/$PROFILE/$service" >"$RUN/$service-$i.log" 2>&1 &
    record "$service-$i" $!
    line="        server 127.0.0.1:$port max_fails=1 fail_timeout=5s;"
    if [ $service = issuer ]; then issuers+="$line"$'\n'; else validators+="$line"$'\n'; fi
  done
done
for i in $(seq 1 "$REPLICAS"); do
  wait_for_port $((18080 + i)) 30 "issuer-$i"
  wait_for_port $((18180 + i)) 30 "validator-$i"
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
