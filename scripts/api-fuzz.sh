#!/usr/bin/env bash
# `make api-fuzz` (and part of `make test`): schemathesis against both services' OpenAPI
# documents, generated from the code and served at /api/openapi.json. It sends valid and
# invalid requests (every phase, positive and negative data) and fails on any 5xx, any
# status, content type, header or body the document does not describe, any invalid
# request that is not refused with a 4xx, and an admin endpoint that ignores a missing token.
#
# Not checked: positive_data_acceptance. A string that fits the schema is not a valid RUT
# or name, and a valid request may meet the curfew or the weekly limit, so a schema-valid
# request is rightly refused with a documented 4xx.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"

PROFILE="${PROFILE:-debug}"
EXAMPLES="${EXAMPLES:-60}"
ensure_schemathesis
if [ -z "${SKIP_BUILD:-}" ]; then
  step "building the services ($PROFILE)"
  cargo build --profile "$([ "$PROFILE" = debug ] && echo dev || echo "$PROFILE")" --locked --bin issuer --bin validator
fi

RUN="$ROOT/.run/api-fuzz"
rm -rf "$RUN" && mkdir -p "$RUN"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

if [ -z "${MONGODB_URI:-}" ]; then
  db_port=$(free_port)
  start_secantus "$db_port" :memory: "$RUN/db.log"
  pids+=("$!")
  wait_for_port "$db_port" 30 SecantusDB
  export MONGODB_URI="mongodb://127.0.0.1:$db_port"
fi
token=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
issuer_port=$(free_port) validator_port=$(free_port)
export MONGODB_DB="api_fuzz_$(date +%s)"
export ISSUER_PUBLIC_URL="http://127.0.0.1:$issuer_port" VALIDATOR_PUBLIC_URL="http://127.0.0.1:$validator_port"
# The rules as in production, except two: the per-client limit (every request comes from
# here) and the curfew, which would make the run depend on the hour it starts at.
export CREATE_RATE_LIMIT=off PERMIT_CURFEW=off RUST_LOG=warn
for service in issuer validator; do
  port=$([ $service = issuer ] && echo "$issuer_port" || echo "$validator_port")
  ADMIN_TOKEN="$token" LISTEN_ADDR="127.0.0.1:$port" ADMIN_ADDR="127.0.0.1:$(free_port)" \
    "target/$PROFILE/$service" >"$RUN/$service.log" 2>&1 &
  pids+=("$!")
  wait_for_port "$port" 30 "$service"
done

fuzz() {
  local name=$1 port=$2
  shift 2
  step "schemathesis: $name (http://127.0.0.1:$port/api/openapi.json)"
  "$VENV/bin/schemathesis" "$@" run "http://127.0.0.1:$port/api/openapi.json" \
    --checks all --exclude-checks positive_data_acceptance \
    --max-examples "$EXAMPLES" --seed 20201 --workers 2 --no-color \
    --header "Authorization: Bearer $token" \
    --report junit --report-junit-path "$RUN/$name-junit.xml" \
    || status=$?
}

status=0
fuzz issuer "$issuer_port"
fuzz validator "$validator_port"
# Random codes only ever find nothing; one real permit lets the checks reach a found one.
id=$(curl -sf -X POST "http://127.0.0.1:$issuer_port/api/create" -H 'Content-Type: application/json' \
  -d '{"name": "Ana Rojas", "rut": "11.111.111-1", "motive": "paseo-mascotas", "address": "Calle 1", "comuna": "Maipú"}' |
  tee "$RUN/known-permit.json" | python3 -c 'import json, sys; print(json.load(sys.stdin).get("id", ""))' || true)
if [ -n "$id" ]; then
  printf '[parameters]\n"path.id" = "%s"\n' "$id" >"$RUN/known-permit.toml"
  fuzz validator-known-permit "$validator_port" --config-file "$RUN/known-permit.toml"
else
  echo "could not issue a permit to check" >&2
  status=1
fi
if grep -l '"level":"ERROR"' "$RUN"/*.log 2>/dev/null; then
  echo "a service logged an error while fuzzed (above)" >&2
  status=1
fi
exit $status
