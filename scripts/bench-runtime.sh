#!/usr/bin/env bash
# `make bench-runtime`: start-up time and memory of the release binaries (BENCHMARKS.md).
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"

apt_install wrk wrk
ensure_secantus
step "building the services (release)"
cargo build --release --locked --bin issuer --bin validator

port=$(free_port)
mkdir -p .run
step "starting SecantusDB (in memory) on 127.0.0.1:$port"
start_secantus "$port" :memory: .run/bench-db.log
db_pid=$!
trap 'kill $db_pid 2>/dev/null || true' EXIT
wait_for_port "$port" 30 SecantusDB

step "measuring (machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $(date -u +%Y-%m-%d))"
python3 scripts/bench-runtime.py "mongodb://127.0.0.1:$port" "${RUNS:-10}"
