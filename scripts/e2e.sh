#!/usr/bin/env bash
# `make e2e` (part of `make test`): the citizen's and the police officer's flows in headless
# Chromium through a fresh local topology, with screenshots in artifacts/e2e and an axe-core
# scan of every page. Installs Debian's chromium and the npm packages if missing.
# Permits start at once (PERMIT_START_DELAY_MINUTES=0) so a fresh one reads VIGENTE, and
# the curfew is off so the suite passes at any hour. The sign-in and console tests run
# last, on a topology of its own whose issuers sign citizens and operators in
# (CITIZEN_AUTH=oidc, with the console's OPERATOR_AUTH=oidc) at the test identity provider.
set -euo pipefail
source "$(dirname "$0")/tools.sh"
cd "$ROOT"

scripts/tools.sh chromium node identity secantus nginx
rm -rf artifacts/e2e
step "running the browser tests (screenshots in artifacts/e2e)"
REPLICAS="${REPLICAS:-2}" PERMIT_CURFEW=off PERMIT_START_DELAY_MINUTES=0 \
  ISSUER_URL="http://formulario.localhost:8080" VALIDATOR_URL="http://validar.localhost:8080" \
  OPERATORS_URL="http://operadores.localhost:8080" \
  ARTIFACTS="$ROOT/artifacts/e2e" \
  cargo xtask with-topology --seed ${SKIP_BUILD:+--no-build} -- node --test e2e/permisos.test.mjs
step "the sign-in browser test, on a topology whose citizens sign in"
REPLICAS=2 CITIZEN_AUTH=oidc PERMIT_CURFEW=off PERMIT_START_DELAY_MINUTES=0 \
  ISSUER_URL="http://formulario.localhost:8080" OPERATORS_URL="http://operadores.localhost:8080" \
  ARTIFACTS="$ROOT/artifacts/e2e" \
  cargo xtask with-topology --no-build -- node --test --test-concurrency=1 e2e/sign-in.test.mjs e2e/console.test.mjs
