#!/usr/bin/env bash
# `make load-test ENV=low TARGET=http://<ip>`: the case study's artillery experiment against
# any target, summarised in the case study's own table. Without TARGET it runs against a
# fresh local topology (cargo xtask up, curfew off so it works at any hour) and stops it
# after (MONITORING=1: with Prometheus, and the dashboard's queries checked against the
# run's metrics). Writes a chart of the run beside its report. Exits non-zero when
# artillery's ensure checks fail.
set -euo pipefail
source "$(dirname "$0")/tools.sh"
cd "$ROOT"

ENV="${ENV:-smoke}"
case "$ENV" in
  smoke|low|medium|high|stress) ;;
  *) echo "ENV must be smoke, low, medium, high or stress (got $ENV)" >&2; exit 2 ;;
esac
scripts/tools.sh node charts

started_topology=""
if [ -z "${TARGET:-}" ]; then
  scripts/tools.sh secantus nginx ${MONITORING:+prometheus}
  cargo xtask down >/dev/null
  PERMIT_CURFEW=off cargo xtask up ${SKIP_BUILD:+--no-build}
  started_topology=yes
  TARGET="http://127.0.0.1:8080"
fi
stop_topology() { if [ -n "$started_topology" ] && [ -z "${KEEP_UP:-}" ]; then cargo xtask down; fi; }
trap stop_topology EXIT

RESULTS="$ROOT/.run/load"
mkdir -p "$RESULTS"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
# A seed per minute: every run gets RUTs no earlier run of the week used.
seed=$(( $(date +%s) / 60 ))
step "generating 10000 synthetic citizens (seed $seed)"
python3 artillery/gen-citizens.py --seed "$seed" --count 10000 >"$RESULTS/citizens.csv"

report="$RESULTS/$ENV-$stamp.json"
step "running artillery, environment $ENV, against $TARGET"
set +e
TARGET="$TARGET" CITIZENS=../.run/load/citizens.csv \
  ISSUER_HOST="${ISSUER_HOST:-formulario.localhost}" VALIDATOR_HOST="${VALIDATOR_HOST:-validar.localhost}" \
  ARTILLERY_DISABLE_TELEMETRY=true NODE_OPTIONS="--require $ROOT/artillery/no-telemetry.js" \
  node_modules/.bin/artillery run --environment "$ENV" --output "$report" artillery/permisos.yml \
  >"$RESULTS/$ENV-$stamp.log" 2>&1
status=$?
set -e
grep -E '^(ok|fail):' "$RESULTS/$ENV-$stamp.log" || tail -20 "$RESULTS/$ENV-$stamp.log"

step "summary (report: ${report#"$ROOT"/})"
python3 artillery/summarize.py "$report" "$ENV"
.venv/bin/python scripts/charts.py "$report" "${report%.json}.png" --title "make load-test ENV=$ENV against $TARGET ($stamp)"
if [ -n "$started_topology" ]; then
  echo
  cargo xtask usage
  # MONITORING=1: every dashboard panel's query, answered by the run's own metrics.
  if [ -n "${MONITORING:-}" ]; then
    cargo xtask dashboard-check || status=1
  fi
fi
exit $status
