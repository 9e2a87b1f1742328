#!/usr/bin/env bash
# `make e2e` (part of `make test`): the citizen's and the police officer's flows in headless
# Chromium through the local topology, with screenshots in artifacts/e2e and an axe-core
# scan of every page. Installs Debian's chromium and the npm packages if missing.
# Permits start at once (PERMIT_START_DELAY_MINUTES=0) so a fresh one reads VIGENTE, and
# the curfew is off so the suite passes at any hour.
set -euo pipefail
source "$(dirname "$0")/tools.sh"
cd "$ROOT"

scripts/tools.sh chromium node secantus nginx
cargo xtask down >/dev/null
REPLICAS="${REPLICAS:-2}" PERMIT_CURFEW=off PERMIT_START_DELAY_MINUTES=0 \
  cargo xtask up ${SKIP_BUILD:+--no-build}
trap 'cargo xtask down >/dev/null' EXIT

step "seeding an expired and a not-yet-valid permit"
seeded=$(cargo xtask seed)

rm -rf artifacts/e2e
step "running the browser tests (screenshots in artifacts/e2e)"
ISSUER_URL="http://formulario.localhost:8080" VALIDATOR_URL="http://validar.localhost:8080" \
  SEEDED_PERMITS="$seeded" ARTIFACTS="$ROOT/artifacts/e2e" node --test e2e/
