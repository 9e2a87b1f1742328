#!/usr/bin/env bash
# One citizen and one police check through the cluster's entrance, with Host headers:
# the landing page, a permit created for a fresh synthetic citizen, its validation page
# (VIGENTE) and its JSON. Used by .github/workflows/kind-e2e.yml after `make kind-up`.
#   kind-smoke.sh ADDRESS DOMAIN      e.g. kind-smoke.sh 172.18.255.200 permisos.test
set -euo pipefail
address=$1 domain=$2
issuer=(-H "Host: formulario.$domain") validator=(-H "Host: validar.$domain")
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

fail() { echo "smoke: $*" >&2; exit 1; }

code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "${issuer[@]}" "http://$address/")"
[ "$code" = 200 ] || fail "the landing page answered $code"

citizen="$(python3 "$(dirname "$0")/../artillery/gen-citizens.py" --seed "$(( $(date +%s) / 60 ))" --count 1 | tail -1)"
body="$(python3 - "$citizen" <<'PY'
import json, sys
name, rut, motive, address, comuna = sys.argv[1].split(",")
print(json.dumps({"name": name, "rut": rut, "motive": motive, "address": address, "comuna": comuna}))
PY
)"
code="$(curl -s -o "$work/created.json" -w '%{http_code}' --max-time 10 "${issuer[@]}" \
  -H 'Content-Type: application/json' --data "$body" "http://$address/api/create")"
[ "$code" = 201 ] || fail "creating a permit answered $code: $(cat "$work/created.json")"
id="$(python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])' <"$work/created.json")"
echo "smoke: permit $id created"

curl -s -o "$work/page.html" --max-time 10 "${validator[@]}" "http://$address/validar/$id"
grep -q '<p class="label">VIGENTE</p>' "$work/page.html" || fail "the validation page of $id does not say VIGENTE"
status="$(curl -s --max-time 10 "${validator[@]}" "http://$address/api/$id" \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["status_label"])')"
[ "$status" = VIGENTE ] || fail "the JSON status of $id is $status"
echo "smoke: its validation page and JSON say VIGENTE"
