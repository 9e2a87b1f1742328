#!/usr/bin/env bash
# `make api-fuzz` (and part of `make test`): schemathesis against both services' OpenAPI
# documents (the issuer has two: its citizens' port and its operators'), generated from the
# code and served at /api/openapi.json. It sends valid and invalid requests (every phase,
# positive and negative data) and fails on any 5xx, any status, content type, header or
# body the document does not describe, any invalid request that is not refused with a
# 4xx, and an admin endpoint that ignores a missing token.
# The services run as one replica each of a fresh local topology (cargo xtask
# with-topology, which runs this script again inside it), reached directly on their ports.
#
# Not checked: positive_data_acceptance. A string that fits the schema is not a valid RUT
# or name, and a valid request may meet the curfew or the weekly limit, so a schema-valid
# request is rightly refused with a documented 4xx.
set -euo pipefail
source "$(dirname "$0")/tools.sh"
cd "$ROOT"

EXAMPLES="${EXAMPLES:-60}"
RUN="$ROOT/.run/api-fuzz"
# Issuer replica 1 (its citizens' and its operators' port) and validator replica 1 of the
# local topology.
issuer_port=18081 operator_port=20081 validator_port=18181
if [ -z "${LOCAL_TOPOLOGY:-}" ]; then
  scripts/tools.sh secantus nginx schemathesis
  rm -rf "$RUN" && mkdir -p "$RUN"
  # The rules as in production, except three: the per-client and per-operator limits (every
  # request comes from here, with one token) and the curfew, which would make the run
  # depend on the hour it starts at. This script runs again inside the topology.
  # Schemathesis sends one Authorization header to every operation, so the counter's role
  # shares the operators' token here: assisted issuance is fuzzed past its guard too.
  ADMIN_TOKEN="$(cargo xtask token)"
  export ADMIN_TOKEN ASSISTANCE_TOKEN="$ADMIN_TOKEN"
  REPLICAS=1 CREATE_RATE_LIMIT=off OPERATOR_RATE_LIMIT=off PERMIT_CURFEW=off RUST_LOG=warn \
    ISSUER_PUBLIC_URL="http://127.0.0.1:$issuer_port" VALIDATOR_PUBLIC_URL="http://127.0.0.1:$validator_port" \
    exec cargo xtask with-topology --seed ${SKIP_BUILD:+--no-build} -- "$0" "$@"
fi

# fuzz NAME PORT TOKEN [RUN OPTIONS...]; CONFIG: a schemathesis configuration file.
# One worker: with two, hypothesis's lambda descriptions (ast.parse from two threads) hit
# CPython 3.11's "AST constructor recursion depth mismatch" now and then.
fuzz() {
  local name=$1 port=$2 token=$3
  shift 3
  step "schemathesis: $name (http://127.0.0.1:$port/api/openapi.json $*)"
  "$VENV/bin/schemathesis" ${CONFIG:+--config-file "$CONFIG"} run "http://127.0.0.1:$port/api/openapi.json" \
    --checks all --exclude-checks positive_data_acceptance \
    --max-examples "$EXAMPLES" --seed 20201 --workers 1 --no-color \
    --header "Authorization: Bearer $token" \
    --report junit --report-junit-path "$RUN/$name-junit.xml" "$@" \
    || status=$?
}

# A named operator of role $1, made with the bootstrap token: its token.
named() {
  "$VENV/bin/python" - "$1" "http://127.0.0.1:$operator_port/api/operators" <<'PY'
import json, os, sys, urllib.request
role, url = sys.argv[1], sys.argv[2]
body = json.dumps({"name": f"api-fuzz {role}", "role": role}).encode()
request = urllib.request.Request(url, body, {"Content-Type": "application/json",
    "Authorization": "Bearer " + os.environ["ADMIN_TOKEN"]})
print(json.load(urllib.request.urlopen(request, timeout=10))["token"])
PY
}

status=0
fuzz issuer "$issuer_port" "$ADMIN_TOKEN"
# The operators' routes, each with a credential its guard admits: the bootstrap token for
# the tokens (and, as ASSISTANCE_TOKEN here, the counter), a named operator for the rest.
fuzz issuer-operators-admin "$operator_port" "$ADMIN_TOKEN" --include-path-regex '^/api/(operators|assisted)'
fuzz issuer-operators-consulta "$operator_port" "$(named consulta)" --include-method GET --exclude-path-regex '^/api/(operators|all)'
fuzz issuer-operators-administracion "$operator_port" "$(named administración)" --include-path-regex '^/api/(all|phases)'
fuzz issuer-operators-revocacion "$operator_port" "$(named revocacion)" --include-path-regex '^/api/permits/'
fuzz validator "$validator_port" "$ADMIN_TOKEN"
# Random codes and tokens only ever find nothing; a stored permit's code and a genuinely
# signed link's token let the checks reach a found one.
id=$(sed -E 's/.*"expired":"([^"]+)".*/\1/' <<<"$SEEDED_PERMITS")
token=$(cargo xtask signed-links --count 1 2>/dev/null | sed 's#.*/v/##')
if [ -n "$id" ] && [ -n "$token" ]; then
  printf '[parameters]\n"path.id" = "%s"\n"path.token" = "%s"\n' "$id" "$token" >"$RUN/known-permit.toml"
  CONFIG="$RUN/known-permit.toml" fuzz validator-known-permit "$validator_port" "$ADMIN_TOKEN"
else
  echo "no known permit to check (SEEDED_PERMITS=$SEEDED_PERMITS)" >&2
  status=1
fi
if grep -l '"level":"ERROR"' .run/local/issuer-*.log .run/local/validator-*.log 2>/dev/null; then
  echo "a service logged an error while fuzzed (above)" >&2
  status=1
fi
exit $status
