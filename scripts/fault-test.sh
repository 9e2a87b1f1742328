#!/usr/bin/env bash
# `make fault-test`: the fault suite. Each scenario brings up a fresh local topology (4 + 4
# replicas behind nginx, SecantusDB), runs artillery/faults.yml (the `medium` load, clients
# retrying creates with their Idempotency-Key), injects its fault while the load runs, then
# audits what clients were told against the database (xtask audit). Processes are
# started, killed and started again through the supervisor (xtask up/start/stop).
#
#   kill      kill -9 one random replica every 10 s; it is restarted 2 s later, as kubelet would
#   rolling   SIGTERM each replica in turn and start it again once it exited (a rolling restart)
#   database  the database stopped for 10 s, then started again on the same data
#
# SCENARIOS="kill rolling" picks some; LOAD=stress runs them under the case study's stress
# phases instead (4 minutes of 30 to 60 arrivals/s). Results: .run/faults/<scenario>-*.json
# and the events logged with their times; exits non-zero when any audit fails.
set -euo pipefail
source "$(dirname "$0")/tools.sh"
cd "$ROOT"

SCENARIOS="${SCENARIOS:-kill rolling database}"
LOAD="${LOAD:-medium}"
REPLICAS=4
RESULTS="$ROOT/.run/faults"
DB_PORT=27117
mkdir -p "$RESULTS"
scripts/tools.sh node secantus nginx
cargo build --release --locked --bin issuer --bin validator && cargo build --release --locked -p xtask
# The supervisor's binary itself: cargo's own start-up would add to every kill and restart.
xtask() { "$ROOT/target/release/xtask" "$@"; }
trap 'xtask down >/dev/null' EXIT

event() { printf '%s %s\n' "$(date -u +%H:%M:%S.%3N)" "$*" | tee -a "$EVENTS"; }
replicas() { for i in $(seq 1 $REPLICAS); do echo "issuer $i"; echo "validator $i"; done; }
# Replica N of the issuer listens on 18080 + N, of the validator on 18180 + N (xtask/src/topology.rs).
replica_port() { if [ "$1" = issuer ]; then echo $((18080 + $2)); else echo $((18180 + $2)); fi; }
pid_of() { cat ".run/local/pids/$1.pid"; }

fault_kill() {
  while kill -0 "$LOAD_PID" 2>/dev/null; do
    sleep 10
    kill -0 "$LOAD_PID" 2>/dev/null || break
    read -r service i < <(replicas | shuf -n 1)
    pid=$(pid_of "$service-$i")
    xtask stop "$service-$i" --kill >/dev/null
    event "kill -9 $service-$i (pid $pid)"
    sleep 2
    # Started again without waiting for readiness, as kubelet restarts a container.
    xtask start "$service-$i" >/dev/null &
    event "restarting $service-$i"
  done
}

fault_rolling() {
  sleep 20
  while kill -0 "$LOAD_PID" 2>/dev/null; do
    while read -r service i; do
      kill -0 "$LOAD_PID" 2>/dev/null || return 0
      pid=$(pid_of "$service-$i")
      event "SIGTERM $service-$i (pid $pid)"
      xtask stop "$service-$i" >/dev/null || { event "$service-$i did not exit"; return 1; }
      event "$service-$i exited"
      xtask start "$service-$i" >/dev/null
      event "$service-$i ready again (pid $(pid_of "$service-$i"))"
      sleep 2
    done < <(replicas)
  done
}

# probe_readiness FILE: every 0.5 s, every replica's /readyz at once, as "time replica code".
probe_readiness() {
  while true; do
    while read -r service i; do
      {
        code=$(curl -s -m 1 -o /dev/null -w '%{http_code}' \
          "http://127.0.0.1:$(($(replica_port "$service" "$i") + 1000))/readyz" || true)
        echo "$(date +%s.%N) $service-$i $code" >>"$1"
      } &
    done < <(replicas)
    sleep 0.5
  done
}

fault_database() {
  local probes="$RESULTS/$tag-readiness.log" prober stopped back
  : >"$probes"
  sleep 40
  probe_readiness "$probes" &
  prober=$!
  pid=$(pid_of db)
  xtask stop db >/dev/null || xtask stop db --kill >/dev/null
  stopped=$(date +%s.%N)
  event "database stopped (pid $pid)"
  sleep 10
  xtask start db >/dev/null
  back=$(date +%s.%N)
  event "database started again (pid $(pid_of db))"
  # Recovered when a permit can be issued through nginx again.
  until [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST http://127.0.0.1:8080/api/create \
      -H 'Host: formulario.localhost' -H 'Content-Type: application/json' \
      -H "Idempotency-Key: recovery-probe-$back" \
      -d '{"name": "Sonda Recuperación", "rut": "11.111.111-1", "motive": "paseo-mascotas",
           "address": "Calle 1", "comuna": "Maipú"}')" = 201 ]; do
    sleep 0.1
  done
  event "a permit issued through nginx $(python3 -c "import time; print(f'{time.time() - $back:.1f}')") s after the database returned"
  sleep 6
  kill "$prober"
  wait "$prober" 2>/dev/null || true
  sleep 1
  python3 - "$probes" "$stopped" "$back" <<'PY' | while read -r line; do event "$line"; done
import sys
from collections import defaultdict
path, stopped, back = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
rows = [line.split() for line in open(path) if len(line.split()) == 3]
down = [code for t, _, code in rows if stopped + 1 <= float(t) < back]
print(f"readiness while stopped (from 1 s in): {sum(c != '200' for c in down)} of {len(down)} probes not ready")
ready_at = defaultdict(lambda: None)
for t, replica, code in sorted(rows, key=lambda r: float(r[0])):
    t = float(t)
    if t < back:
        continue
    if code == "200" and ready_at[replica] is None:
        ready_at[replica] = t
    elif code != "200":
        ready_at[replica] = None
replicas = {r for _, r, _ in rows}
if all(ready_at[r] is not None for r in replicas):
    print(f"all {len(replicas)} replicas ready {max(ready_at[r] for r in replicas) - back:.1f} s after the database returned")
else:
    print("not every replica was ready again")
PY
}

run_scenario() {
  local name=$1 audit_flags=$2
  # Files are named by scenario, and by load when it is not medium: kill-stress-events.log.
  local tag=$name
  [ "$LOAD" = medium ] || tag="$name-$LOAD"
  EVENTS="$RESULTS/$tag-events.log"
  : >"$EVENTS"
  step "scenario $name: fresh topology"
  xtask down >/dev/null
  PERMIT_CURFEW=off REPLICAS=$REPLICAS LOCAL_DB_PORT=$DB_PORT xtask up --no-build >"$RESULTS/$tag-up.log"
  python3 artillery/gen-citizens.py --seed "$(( $(date +%s) / 60 ))" --count 12000 >"$RESULTS/citizens.csv"
  local record="$RESULTS/$tag-answers.jsonl" report="$RESULTS/$tag-artillery.json"
  : >"$record"
  step "scenario $name: artillery ($LOAD phases) with the fault"
  FAULT_RECORD="$record" TARGET=http://127.0.0.1:8080 CITIZENS=../.run/faults/citizens.csv \
    ISSUER_HOST=formulario.localhost VALIDATOR_HOST=validar.localhost \
    ARTILLERY_DISABLE_TELEMETRY=true NODE_OPTIONS="--require $ROOT/artillery/no-telemetry.js" \
    node_modules/.bin/artillery run --environment "$LOAD" --output "$report" artillery/faults.yml >"$RESULTS/$tag-artillery.log" 2>&1 &
  LOAD_PID=$!
  event "load started"
  "fault_$name"
  wait "$LOAD_PID" || true
  event "load finished"
  wait  # a restart still under way
  cp .run/local/nginx-error.log "$RESULTS/$tag-nginx-error.log"
  local failed_over="\[error\].*\(connect() failed\|prematurely closed\)"
  event "nginx passed $(grep -c "$failed_over" "$RESULTS/$tag-nginx-error.log" || true) failed attempts on a \
replica to another one, $(grep "$failed_over" "$RESULTS/$tag-nginx-error.log" | grep -c 'request: "POST' || true) of them POSTs"
  step "scenario $name: audit"
  # shellcheck disable=SC2086
  if xtask audit "$record" "$report" --uri "mongodb://127.0.0.1:$DB_PORT" --db permisos \
    $audit_flags | tee "$RESULTS/$tag-audit.json"; then
    echo "scenario $name: PASSED"
  else
    echo "scenario $name: FAILED"
    failures+=("$tag")
  fi
}

failures=()
for scenario in $SCENARIOS; do
  case "$scenario" in
    kill) run_scenario kill "" ;;
    rolling) run_scenario rolling "--no-errors" ;;
    database) run_scenario database "--outage --max-ms 2000" ;;
    *) echo "unknown scenario $scenario (kill, rolling, database)" >&2; exit 2 ;;
  esac
done
[ ${#failures[@]} -eq 0 ] || { echo "failed: ${failures[*]}" >&2; exit 1; }
echo "all scenarios passed: $SCENARIOS"
