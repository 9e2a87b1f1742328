#!/usr/bin/env bash
# The record day (21 April 2021, 1,291,970 permit requests) against a fresh local topology
# on the Rust build of SecantusDB (data on disk; installed first if missing, ~8 min, unless
# SECANTUS=py), the curfew off; then the run's chart. One of:
#
#   peak-day     `make peak-day SPEED=18 SCALE=1`: the day replayed open-loop, SPEED times
#                faster, SCALE of its volume (cargo xtask peak-day; docs/benchmarks.md). Fails
#                unless it held: no error, p99 under 250 ms (ERRORS_ONLY=1: no error; the
#                short replay in `make test` judges no speed).
#   data-growth  `make data-growth STOPS=...`: permits stored through the API up to each
#                stop, creates and checks probed at each, every query's plan read (cargo
#                xtask data-growth). Fails if a probe failed or a service's query scans or
#                sorts the collection.
#
# Writes .run/<kind>/result.json and .run/<kind>/<kind>.png.
set -euo pipefail
source "$(dirname "$0")/tools.sh"
cd "$ROOT"

kind="${1:?usage: scripts/record-day.sh peak-day|data-growth}"
case "$kind" in
  peak-day) run=(cargo xtask peak-day --speed "${SPEED:-18}" --scale "${SCALE:-1}" ${ERRORS_ONLY:+--errors-only}) ;;
  data-growth)
    run=(cargo xtask data-growth --stops "${STOPS:-10000,100000,1000000,1291970}"
      --probe-seconds "${PROBE_SECONDS:-15}") ;;
  *) echo "unknown kind $kind: peak-day or data-growth" >&2; exit 2 ;;
esac

if [ "${SECANTUS:-rs}" = rs ]; then
  scripts/install-secantus-rs.sh
fi
scripts/tools.sh secantus nginx charts
status=0
PERMIT_CURFEW=off cargo xtask with-topology ${SKIP_BUILD:+--no-build} -- "${run[@]}" || status=$?
"$VENV/bin/python" load/peak-day-chart.py ".run/$kind/result.json" ".run/$kind/$kind.png"
echo "result: .run/$kind/result.json  chart: .run/$kind/$kind.png"
exit $status
