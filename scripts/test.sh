#!/usr/bin/env bash
# The test command (`make test`): formatting, lints, every test against a real MongoDB-wire
# server (MONGODB_URI when set, otherwise a throw-away SecantusDB), the offline checks of
# the Kubernetes manifests, the smoke load test through the local topology (fails on any
# failed virtual user), and the browser tests.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"

step "checking formatting"
cargo fmt --all -- --check

step "linting"
cargo clippy --workspace --all-targets --locked -- -D warnings

db_pid=""
cleanup() { if [ -n "$db_pid" ]; then kill "$db_pid" 2>/dev/null || true; wait "$db_pid" 2>/dev/null || true; fi; }
trap cleanup EXIT

mkdir -p .run
if [ -z "${MONGODB_URI:-}" ]; then
  ensure_secantus
  port=$(free_port)
  step "starting SecantusDB (in memory) on 127.0.0.1:$port"
  start_secantus "$port" :memory: .run/test-db.log
  db_pid=$!
  wait_for_port "$port" 30 SecantusDB || { cat .run/test-db.log >&2; exit 1; }
  export MONGODB_URI="mongodb://127.0.0.1:$port"
fi

step "running the tests against $MONGODB_URI"
cargo test --workspace --locked 2>&1 | tee .run/test-output.txt

step "fuzzing both JSON APIs from their OpenAPI documents (schemathesis)"
PROFILE=debug SKIP_BUILD=1 scripts/api-fuzz.sh

step "verifying the Kubernetes manifests offline"
scripts/verify-manifests.sh

step "smoke load test: the case study's scenario through nginx and 4 + 4 replicas"
PROFILE=debug SKIP_BUILD=1 ENV=smoke scripts/load-test.sh

step "browser tests"
PROFILE=debug SKIP_BUILD=1 scripts/e2e.sh 2>&1 | tee .run/e2e-output.txt

# One closing line for the whole run, counting cargo's tests and the browser tests.
awk '/^test result:/ { passed += $4; failed += $6 }
     /^# pass / { passed += $3 } /^# fail / { failed += $3 }
     END { printf "tests: %d passed, %d failed\n", passed, failed }' .run/test-output.txt .run/e2e-output.txt
