#!/usr/bin/env bash
# `make data-growth`: how the cost of a create and of a check by code, and the database's
# size, grow as the record day's permits pile up (cargo xtask data-growth): a fresh local
# topology on the Rust build of SecantusDB (data on disk; installed first if missing,
# ~8 min), permits stored through the API up to each of STOPS, probed at each, every
# query's plan read with `explain`. Writes .run/data-growth/result.json and its chart;
# exits non-zero if a probe request failed or a service's query scans or sorts the collection.
set -euo pipefail
source "$(dirname "$0")/tools.sh"
cd "$ROOT"

STOPS="${STOPS:-10000,100000,1000000,1291970}"
scripts/install-secantus-rs.sh
scripts/tools.sh secantus nginx charts
cargo xtask down >/dev/null
PERMIT_CURFEW=off cargo xtask up >/dev/null
trap 'cargo xtask down >/dev/null' EXIT

status=0
cargo xtask data-growth --stops "$STOPS" --probe-seconds "${PROBE_SECONDS:-15}" || status=$?
"$VENV/bin/python" scripts/peak-day-chart.py .run/data-growth/result.json .run/data-growth/data-growth.png
echo "result: .run/data-growth/result.json  chart: .run/data-growth/data-growth.png"
exit $status
