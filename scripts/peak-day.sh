#!/usr/bin/env bash
# `make peak-day SPEED=18 SCALE=1`: Chile's record day (21 April 2021, 1,291,970 permit
# requests) replayed open-loop against a fresh local topology, SPEED times faster than real
# time, SCALE of its volume (cargo xtask peak-day: the curve, the mix and the measures are
# described there and in BENCHMARKS.md). The Rust build of SecantusDB keeps the data on
# disk; it is installed first if missing (~8 min), unless SECANTUS=py (the short replay in
# `make test`: the Python build, unless the Rust one is there). Writes
# .run/peak-day/result.json and its chart; exits non-zero unless the run held: no error,
# p99 under 250 ms (ERRORS_ONLY=1: no error; speed is not judged in `make test`).
set -euo pipefail
source "$(dirname "$0")/tools.sh"
cd "$ROOT"

SPEED="${SPEED:-18}"
SCALE="${SCALE:-1}"
if [ "${SECANTUS:-rs}" = rs ]; then
  scripts/install-secantus-rs.sh
fi
scripts/tools.sh secantus nginx charts
cargo xtask down >/dev/null
PERMIT_CURFEW=off cargo xtask up ${SKIP_BUILD:+--no-build} >/dev/null
trap 'cargo xtask down >/dev/null' EXIT

status=0
cargo xtask peak-day --speed "$SPEED" --scale "$SCALE" ${ERRORS_ONLY:+--errors-only} || status=$?
"$VENV/bin/python" scripts/peak-day-chart.py .run/peak-day/result.json .run/peak-day/peak-day.png
echo "result: .run/peak-day/result.json  chart: .run/peak-day/peak-day.png"
exit $status
