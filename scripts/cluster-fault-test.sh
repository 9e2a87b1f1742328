#!/usr/bin/env bash
# The cluster twin of `make fault-test`: the case study's `medium` phases through the
# entrance (artillery/faults.yml, every answer recorded) while `permisosctl chaos` deletes
# a Ready pod of the issuer, the validator or MongoDB every 10 s, then `permisosctl audit`:
# every permit acknowledged to a citizen is listed by the issuer, none was issued twice.
# Fails if the audit fails or a deleted pod was not replaced.
#   IP=127.0.0.1 (after `make kind-forward`)  DOMAIN=permisos.test  LOAD=medium
#   CHAOS_TARGET=all|issuer|validator|mongodb  CHAOS_EVERY=10s  CHAOS_FOR=2m
# Results in .run/cluster-faults/.
set -euo pipefail
source "$(dirname "$0")/tools.sh"
cd "$ROOT"
"$ROOT/scripts/tools.sh" node
step "building permisosctl (crates/permisosctl)"
cargo build --release --locked --quiet -p permisosctl
ctl() { "$ROOT/target/release/permisosctl" -n "${NAMESPACE:-permisos}" "$@"; }

out="$ROOT/.run/cluster-faults"
rm -rf "$out" && mkdir -p "$out"

# Where to send the load: the entrance as the cluster publishes it, or IP/DOMAIN.
ctl -o json hosts >"$out/hosts.json" || true
read -r address issuer validator reachable < <(python3 - "$out/hosts.json" "${IP:-}" "${DOMAIN:-}" <<'PY'
import json, sys
found, ip, domain = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
hosts = found.get("hosts", [])
pick = lambda prefix: f"{prefix}{domain}" if domain else next((h for h in hosts if h.startswith(prefix)), "")
print(ip or found.get("address", ""), pick("formulario."), pick("validar."), "yes" if ip or found.get("reachable") else "no")
PY
)
if [ -z "$address" ] || [ -z "$issuer" ] || [ "$reachable" != yes ]; then
  echo "no reachable entrance: $(cat "$out/hosts.json"); on Docker Desktop run \`make kind-forward\` and pass IP=127.0.0.1" >&2
  exit 1
fi

python3 artillery/gen-citizens.py --seed "$(($(date +%s) / 60))" --count 12000 >"$out/citizens.csv"
# A minute early: the audit lists permits by the issuer's clock, not ours.
since="$(date -u -d '-1 minute' +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || date -u -v-1M +%Y-%m-%dT%H:%M:%SZ)"

step "chaos: one Ready pod of ${CHAOS_TARGET:-all} deleted every ${CHAOS_EVERY:-10s} for ${CHAOS_FOR:-2m}"
ctl chaos --target "${CHAOS_TARGET:-all}" --every "${CHAOS_EVERY:-10s}" --for "${CHAOS_FOR:-2m}" \
  >"$out/chaos.txt" 2>&1 &
chaos=$!

step "load: the case study's ${LOAD:-medium} phases through http://$address ($issuer, $validator)"
load=0
FAULT_RECORD="$out/answers.jsonl" TARGET="http://$address" ISSUER_HOST="$issuer" VALIDATOR_HOST="$validator" \
  CITIZENS=../.run/cluster-faults/citizens.csv ARTILLERY_DISABLE_TELEMETRY=true \
  NODE_OPTIONS="--require $ROOT/artillery/no-telemetry.js" \
  node_modules/.bin/artillery run --environment "${LOAD:-medium}" --output "$out/report.json" \
  artillery/faults.yml >"$out/artillery.log" 2>&1 || load=$?

chaos_status=0
wait "$chaos" || chaos_status=$?
cat "$out/chaos.txt"

step "audit: the answers against what the issuer lists since $since"
audit_status=0
ctl audit --since "$since" --record "$out/answers.jsonl" --ip "$address" --domain "${issuer#formulario.}" || audit_status=$?

python3 - "$out/answers.jsonl" <<'PY'
import collections, json, sys
answers = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
statuses = collections.Counter(str(a.get("status")) for a in answers)
failed = sum(1 for a in answers if not (a.get("status") and 200 <= a["status"] < 400))
print(f"{len(answers)} answers recorded, {failed} not a success: {dict(sorted(statuses.items()))}")
PY
echo "artillery: exit $load; chaos: exit $chaos_status; audit: exit $audit_status (details in $out)"
[ "$load" = 0 ] && [ "$chaos_status" = 0 ] && [ "$audit_status" = 0 ]
