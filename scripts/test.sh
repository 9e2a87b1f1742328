#!/usr/bin/env bash
# The test command (`make test`, and CI): formatting, lints, every test against a real
# MongoDB-wire server (MONGODB_URI when set, otherwise a throw-away SecantusDB), `make run`
# and `make local-up` as a newcomer runs them, the two container images built and run as
# their pods run them (on a Docker engine of its own where none runs), the offline scanner's script against damaged
# tokens (node), the API fuzzer, the offline checks of the Kubernetes manifests, the
# smoke load test through the local topology (fails on any failed virtual user), a short
# replay of the record day (fails on any error), and the browser tests. Ends with one line counting every test.
set -euo pipefail
source "$(dirname "$0")/tools.sh"
cd "$ROOT"

# The database, and the test identity provider's npm package (oidc-provider).
scripts/tools.sh secantus identity
mkdir -p .run

step "checking formatting"
cargo fmt --all -- --check

step "linting"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "every test, those that need a database included (the images' after them)"
cargo xtask with-db cargo test --workspace --locked -- --include-ignored --skip pod_image_ 2>&1 | tee .run/test-output.txt

step "the images as the pods run them: built from the Dockerfile, run with the manifests' settings"
engine="$(scripts/images.sh engine)"  # stops the run, saying what is missing, without one
eval "$engine"
trap 'scripts/images.sh stop' EXIT
# Where no Rust image can be pulled: the release binaries the make-run test just built
# from a copy of this checkout's files.
PREBUILT_DIR="$ROOT/target/make-run/release" scripts/images.sh build
# --workspace: the features the run above compiled with, so nothing is compiled again.
cargo xtask with-db cargo test --workspace --test images --locked -- --ignored 2>&1 | tee .run/images-output.txt

step "the offline scanner's script against malformed and tampered tokens (node --test)"
SCANNER_FIXTURE="$(cargo xtask scanner-fixture)" node --test services/validator/tests/ 2>&1 | tee .run/scanner-output.txt

step "fuzzing both JSON APIs from their OpenAPI documents (schemathesis)"
PROFILE=debug SKIP_BUILD=1 scripts/api-fuzz.sh

step "verifying the Kubernetes manifests offline"
scripts/verify-manifests.sh 2>&1 | tee .run/verify-output.txt

step "smoke load test: the case study's scenario through nginx and 4 + 4 replicas"
scripts/tools.sh node charts nginx
PROFILE=debug cargo xtask load-test --env smoke --no-build

step "the record day, shortened: 1/2000 of its volume, 3,600 times faster (about 20 s)"
PROFILE=debug SKIP_BUILD=1 SECANTUS=py ERRORS_ONLY=1 SPEED=3600 SCALE=0.0005 scripts/record-day.sh peak-day

step "browser tests"
PROFILE=debug SKIP_BUILD=1 scripts/e2e.sh 2>&1 | tee .run/e2e-output.txt

# One closing line for the whole run, counting cargo's tests and node's (the set-up
# script's and the browser tests).
awk '/^test result:/ { passed += $4; failed += $6 }
     /^# pass / { passed += $3 } /^# fail / { failed += $3 }
     END { printf "tests: %d passed, %d failed\n", passed, failed }' \
  .run/test-output.txt .run/images-output.txt .run/scanner-output.txt .run/verify-output.txt .run/e2e-output.txt
