#!/usr/bin/env bash
# `make bench-runtime`: start-up time and memory of the release binaries (BENCHMARKS.md),
# against a throw-away SecantusDB that the supervisor starts and stops.
set -euo pipefail
source "$(dirname "$0")/tools.sh"
cd "$ROOT"

scripts/tools.sh wrk secantus
step "building the services (release)"
cargo build --release --locked --bin issuer --bin validator
step "measuring (machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $(date -u +%Y-%m-%d))"
cargo xtask with-db python3 scripts/bench-runtime.py "${RUNS:-10}"
