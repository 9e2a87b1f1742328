#!/usr/bin/env bash
# The run command (`make run`): SecantusDB with its data in .run/db, one issuer and one
# validator built in release mode, all on 127.0.0.1, until Ctrl-C stops them all.
# Every setting can be overridden from the environment (see the README's table).
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"

ISSUER_PORT="${ISSUER_PORT:-8081}"
VALIDATOR_PORT="${VALIDATOR_PORT:-8082}"
DB_PORT="${DB_PORT:-27017}"
RUN_DIR="$ROOT/.run"
mkdir -p "$RUN_DIR/db"

for port_and_name in "$DB_PORT DB_PORT" "$ISSUER_PORT ISSUER_PORT" "$VALIDATOR_PORT VALIDATOR_PORT"; do
  require_free_port $port_and_name
done

ensure_secantus
step "building the services (release)"
cargo build --release --locked --bin issuer --bin validator

pids=()
cleanup() {
  step "stopping"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

step "starting SecantusDB on 127.0.0.1:$DB_PORT (data in .run/db)"
start_secantus "$DB_PORT" "$RUN_DIR/db" "$RUN_DIR/db.log"
pids+=("$!")
wait_for_port "$DB_PORT" 30 SecantusDB || { cat "$RUN_DIR/db.log" >&2; exit 1; }

# A fresh operator token each run, kept out of the repository.
if [ ! -s "$RUN_DIR/admin-token" ]; then
  python3 -c 'import secrets; print(secrets.token_urlsafe(32))' >"$RUN_DIR/admin-token"
fi
export MONGODB_URI="${MONGODB_URI:-mongodb://127.0.0.1:$DB_PORT}"
export ISSUER_PUBLIC_URL="${ISSUER_PUBLIC_URL:-http://formulario.localhost:$ISSUER_PORT}"
export VALIDATOR_PUBLIC_URL="${VALIDATOR_PUBLIC_URL:-http://validar.localhost:$VALIDATOR_PORT}"
export LOG_FORMAT="${LOG_FORMAT:-pretty}"

step "starting the issuer and the validator"
ADMIN_TOKEN="$(cat "$RUN_DIR/admin-token")" LISTEN_ADDR="127.0.0.1:$ISSUER_PORT" \
  target/release/issuer >"$RUN_DIR/issuer.log" 2>&1 &
pids+=("$!")
LISTEN_ADDR="127.0.0.1:$VALIDATOR_PORT" target/release/validator >"$RUN_DIR/validator.log" 2>&1 &
pids+=("$!")
wait_for_port "$ISSUER_PORT" 60 issuer || { cat "$RUN_DIR/issuer.log" >&2; exit 1; }
wait_for_port "$VALIDATOR_PORT" 60 validator || { cat "$RUN_DIR/validator.log" >&2; exit 1; }

santiago_hour=$(TZ=America/Santiago date +%H)
cat <<MSG

Running. Open in a browser:
  Solicitar un permiso:  $ISSUER_PUBLIC_URL/
  Validar un permiso:    $VALIDATOR_PUBLIC_URL/

Operator API:  curl -H "Authorization: Bearer \$(cat .run/admin-token)" $ISSUER_PUBLIC_URL/api/all
Logs:          .run/issuer.log  .run/validator.log  .run/db.log
Rules:         PERMIT_CURFEW=${PERMIT_CURFEW:-22:00-05:00}  PERMIT_WEEKLY_LIMIT=${PERMIT_WEEKLY_LIMIT:-2}  PERMIT_START_DELAY_MINUTES=${PERMIT_START_DELAY_MINUTES:-15}
MSG
if [ -z "${PERMIT_CURFEW:-}" ] && { [ "$santiago_hour" -ge 19 ] || [ "$santiago_hour" -lt 5 ]; }; then
  cat <<MSG

Note: it is $(TZ=America/Santiago date +%H:%M) in Santiago. Permits that would reach the curfew
(22:00-05:00) are refused, as in 2020. To try the system now:  PERMIT_CURFEW=off make run
MSG
fi
printf '\nCtrl-C stops everything.\n'
wait -n "${pids[@]}" || true
