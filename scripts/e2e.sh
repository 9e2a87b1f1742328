#!/usr/bin/env bash
# `make e2e` (part of `make test`): the citizen's and the police officer's flows in headless
# Chromium through the local topology, with screenshots in artifacts/e2e and an axe-core
# scan of every page. Installs Debian's chromium and the npm packages if missing.
# Permits start at once (PERMIT_START_DELAY_MINUTES=0) so a fresh one reads VIGENTE, and
# the curfew is off so the suite passes at any hour.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"

apt_install chromium chromium
ensure_node_modules
ensure_secantus

scripts/local-down.sh >/dev/null
REPLICAS="${REPLICAS:-2}" PERMIT_CURFEW=off PERMIT_START_DELAY_MINUTES=0 scripts/local-up.sh
trap 'scripts/local-down.sh >/dev/null' EXIT

step "seeding an expired and a not-yet-valid permit"
seeded=$("$VENV/bin/python" e2e/seed.py "mongodb://127.0.0.1:${LOCAL_DB_PORT:-27117}" permisos)

rm -rf artifacts/e2e
step "running the browser tests (screenshots in artifacts/e2e)"
ISSUER_URL="http://formulario.localhost:8080" VALIDATOR_URL="http://validar.localhost:8080" \
  SEEDED_PERMITS="$seeded" ARTIFACTS="$ROOT/artifacts/e2e" node --test e2e/
