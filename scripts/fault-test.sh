#!/usr/bin/env bash
# `make fault-test`: the fault suite. Each scenario brings up a fresh local topology (4 + 4
# replicas behind nginx, SecantusDB), runs artillery/faults.yml (the `medium` load, clients
# retrying creates with their Idempotency-Key), injects its fault while the load runs, then
# audits what clients were told against the database (scripts/fault-audit.py).
#
#   kill      kill -9 one random replica every 10 s; it is restarted 2 s later, as kubelet would
#   rolling   SIGTERM each replica in turn and start it again once it exited (a rolling restart)
#   database  the database stopped for 10 s, then started again on the same data
#
# SCENARIOS="kill rolling" picks some. Results: .run/faults/<scenario>-*.json and the events
# logged with their times; exits non-zero when any audit fails.
set -euo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/local-lib.sh"
cd "$ROOT"

SCENARIOS="${SCENARIOS:-kill rolling database}"
REPLICAS=4
RESULTS="$ROOT/.run/faults"
DB_PORT=27117
mkdir -p "$RESULTS"
ensure_node_modules
ensure_secantus
trap 'scripts/local-down.sh >/dev/null' EXIT

event() { printf '%s %s\n' "$(date -u +%H:%M:%S.%3N)" "$*" | tee -a "$EVENTS"; }
replicas() { for i in $(seq 1 $REPLICAS); do echo "issuer $i"; echo "validator $i"; done; }
ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(($(replica_port "$1" "$2") + 1000))/readyz")" = 200 ]; }
wait_exit() { for _ in $(seq 200); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.05; done; return 1; }

fault_kill() {
  while kill -0 "$LOAD" 2>/dev/null; do
    sleep 10
    kill -0 "$LOAD" 2>/dev/null || break
    read -r service i < <(replicas | shuf -n 1)
    pid=$(cat "$LOCAL_RUN/pids/$service-$i.pid")
    kill -KILL "$pid"
    event "kill -9 $service-$i (pid $pid)"
    sleep 2
    start_replica "$service" "$i"
    event "restarted $service-$i (pid $(cat "$LOCAL_RUN/pids/$service-$i.pid"))"
  done
}

fault_rolling() {
  sleep 20
  while kill -0 "$LOAD" 2>/dev/null; do
    while read -r service i; do
      kill -0 "$LOAD" 2>/dev/null || return 0
      pid=$(cat "$LOCAL_RUN/pids/$service-$i.pid")
      kill -TERM "$pid"
      event "SIGTERM $service-$i (pid $pid)"
      wait_exit "$pid" || { event "$service-$i did not exit"; return 1; }
      event "$service-$i exited"
      start_replica "$service" "$i"
      until ready "$service" "$i"; do sleep 0.1; done
      event "$service-$i ready again (pid $(cat "$LOCAL_RUN/pids/$service-$i.pid"))"
      sleep 2
    done < <(replicas)
  done
}

fault_database() {
  sleep 40
  pid=$(cat "$LOCAL_RUN/pids/db.pid")
  kill -TERM "$pid"
  wait_exit "$pid" || kill -KILL "$pid"
  event "database stopped (pid $pid)"
  local unready=0 checked=0
  for _ in $(seq 10); do
    sleep 1
    while read -r service i; do
      checked=$((checked + 1))
      ready "$service" "$i" || unready=$((unready + 1))
    done < <(replicas)
  done
  event "readiness while stopped: $unready of $checked probes said not ready"
  start_database
  wait_for_port "$DB_PORT" 30 SecantusDB
  local back
  back=$(date +%s.%N)
  event "database started again (pid $(cat "$LOCAL_RUN/pids/db.pid"))"
  while true; do
    local all=yes
    while read -r service i; do ready "$service" "$i" || all=no; done < <(replicas)
    [ $all = yes ] && break
    sleep 0.1
  done
  event "all replicas ready $(python3 -c "import time; print(f'{time.time() - $back:.1f}')") s after the database returned"
}

run_scenario() {
  local name=$1 audit_flags=$2
  EVENTS="$RESULTS/$name-events.log"
  : >"$EVENTS"
  step "scenario $name: fresh topology"
  scripts/local-down.sh >/dev/null
  PERMIT_CURFEW=off REPLICAS=$REPLICAS LOCAL_DB_PORT=$DB_PORT scripts/local-up.sh >"$RESULTS/$name-up.log"
  python3 artillery/gen-citizens.py --seed "$(( $(date +%s) / 60 ))" --count 5000 >"$RESULTS/citizens.csv"
  local record="$RESULTS/$name-answers.jsonl" report="$RESULTS/$name-artillery.json"
  : >"$record"
  step "scenario $name: artillery (medium, 120 s of arrivals) with the fault"
  FAULT_RECORD="$record" TARGET=http://127.0.0.1:8080 CITIZENS=../.run/faults/citizens.csv \
    ISSUER_HOST=formulario.localhost VALIDATOR_HOST=validar.localhost \
    ARTILLERY_DISABLE_TELEMETRY=true NODE_OPTIONS="--require $ROOT/artillery/no-telemetry.js" \
    node_modules/.bin/artillery run --output "$report" artillery/faults.yml >"$RESULTS/$name-artillery.log" 2>&1 &
  LOAD=$!
  event "load started"
  "fault_$name"
  wait "$LOAD" || true
  event "load finished"
  step "scenario $name: audit"
  # shellcheck disable=SC2086
  if "$VENV/bin/python" scripts/fault-audit.py "$record" "$report" "mongodb://127.0.0.1:$DB_PORT" permisos \
    $audit_flags | tee "$RESULTS/$name-audit.json"; then
    echo "scenario $name: PASSED"
  else
    echo "scenario $name: FAILED"
    failures+=("$name")
  fi
}

failures=()
for scenario in $SCENARIOS; do
  case "$scenario" in
    kill) run_scenario kill "" ;;
    rolling) run_scenario rolling "--no-errors" ;;
    database) run_scenario database "--max-ms 2000" ;;
    *) echo "unknown scenario $scenario (kill, rolling, database)" >&2; exit 2 ;;
  esac
done
[ ${#failures[@]} -eq 0 ] || { echo "failed: ${failures[*]}" >&2; exit 1; }
echo "all scenarios passed: $SCENARIOS"
