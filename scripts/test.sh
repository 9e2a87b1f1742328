#!/usr/bin/env bash
# The test command (`make test`, and CI): formatting, lints, every test against a real
# MongoDB-wire server (MONGODB_URI when set, otherwise a throw-away SecantusDB), `make run`
# as a newcomer runs it, the API fuzzer, the offline checks of the Kubernetes manifests, the
# smoke load test through the local topology (fails on any failed virtual user), and the
# browser tests. Ends with one line counting every test.
set -euo pipefail
source "$(dirname "$0")/tools.sh"
cd "$ROOT"

scripts/tools.sh secantus
mkdir -p .run

step "checking formatting"
cargo fmt --all -- --check

step "linting"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "every test, those that need a database included"
cargo xtask with-db cargo test --workspace --locked -- --include-ignored 2>&1 | tee .run/test-output.txt

step "fuzzing both JSON APIs from their OpenAPI documents (schemathesis)"
PROFILE=debug SKIP_BUILD=1 scripts/api-fuzz.sh

step "verifying the Kubernetes manifests offline"
scripts/verify-manifests.sh 2>&1 | tee .run/verify-output.txt

step "smoke load test: the case study's scenario through nginx and 4 + 4 replicas"
PROFILE=debug SKIP_BUILD=1 ENV=smoke scripts/load-test.sh

step "browser tests"
PROFILE=debug SKIP_BUILD=1 scripts/e2e.sh 2>&1 | tee .run/e2e-output.txt

# One closing line for the whole run, counting cargo's tests and node's (the set-up
# script's and the browser tests).
awk '/^test result:/ { passed += $4; failed += $6 }
     /^# pass / { passed += $3 } /^# fail / { failed += $3 }
     END { printf "tests: %d passed, %d failed\n", passed, failed }' \
  .run/test-output.txt .run/verify-output.txt .run/e2e-output.txt
