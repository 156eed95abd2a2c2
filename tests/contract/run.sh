#!/usr/bin/env bash
# The API contract: a real gateway, serving the bundled example config in
# front of the sample CRM, is checked against its own `/openapi.json`.
#
# 1. `openapi-spec-validator` validates the served document.
# 2. Schemathesis runs every operation once per key (agent, approver,
#    admin), CONTRACT_EXAMPLES (20) generated cases an operation, and
#    checks: no 5xx, only documented statuses, the documented content
#    type, and bodies that fit the documented schema. Any failure fails.
#
# The keys are minted now (`toolgate keygen`); everything runs on loopback
# in a scratch directory that is removed on exit. Under
# TOOLGATE_REQUIRE_SERVERS=1 a missing tool is a failure; otherwise the
# step says so and skips.
#
# About 20 s on two cores with the debug binary; each Schemathesis run is cut
# off after 300 s.
#
# Environment: TOOLGATE_BIN (default target/debug/toolgate, built when
# missing), CONTRACT_EXAMPLES, CONTRACT_WORKERS (2).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

examples=${CONTRACT_EXAMPLES:-20}
workers=${CONTRACT_WORKERS:-2}

missing=()
command -v openapi-spec-validator >/dev/null 2>&1 || missing+=(openapi-spec-validator)
command -v schemathesis >/dev/null 2>&1 || missing+=(schemathesis)
command -v curl >/dev/null 2>&1 || missing+=(curl)
if ((${#missing[@]})); then
  if [[ "${TOOLGATE_REQUIRE_SERVERS:-}" == 1 ]]; then
    echo "contract: missing ${missing[*]} (required under TOOLGATE_REQUIRE_SERVERS=1)" >&2
    exit 1
  fi
  echo "contract: skipped, missing ${missing[*]}"
  exit 0
fi

bin=${TOOLGATE_BIN:-$root/target/debug/toolgate}
if [[ ! -x "$bin" ]]; then
  cargo build --locked --quiet --bin toolgate
fi

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_up() {
  local url=$1 pid=$2
  for _ in $(seq 1 100); do
    # Any HTTP answer will do: the sample CRM refuses a request without its key.
    if curl -sS -o /dev/null "$url" 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "contract: the process serving $url exited" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "contract: $url did not answer" >&2
  return 1
}

# The bundled config, tools and schemas at their relative paths, the
# manifests pointed at the sample CRM's port.
upstream_port=$(free_port)
mkdir -p "$work/examples" "$work/tools" "$work/schemas"
cp "$root/examples/toolgate.yaml" "$work/examples/"
cp -r "$root/schemas/." "$work/schemas/"
for f in "$root"/tools/*.yaml; do
  sed "s/127\.0\.0\.1:8090/127.0.0.1:$upstream_port/g" "$f" >"$work/tools/$(basename "$f")"
done

# `toolgate keygen` prints the key once, then the config line with its hash;
# each hash goes in place of the one the example ships for that identity.
key_of() { grep -o 'tg_[a-z]*_[A-Za-z0-9_-]*' "$1" | head -n 1; }
hash_of() { grep -o '[0-9a-f]\{64\}' "$1" | head -n 1; }
"$bin" keygen --role agent --name lead-router-dev --workflow lead-routing >"$work/agent.txt"
"$bin" keygen --role approver --name dev-approver --workflow lead-routing >"$work/approver.txt"
"$bin" keygen --role admin --name dev-admin >"$work/admin.txt"
agent_key=$(key_of "$work/agent.txt")
approver_key=$(key_of "$work/approver.txt")
admin_key=$(key_of "$work/admin.txt")
for who in agent:lead-router-dev approver:dev-approver admin:dev-admin; do
  sed -i "/^  ${who#*:}: /s/key_sha256: \"[0-9a-f]*\"/key_sha256: \"$(hash_of "$work/${who%%:*}.txt")\"/" \
    "$work/examples/toolgate.yaml"
done
crm_key="crm_contract_$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
export TOOLGATE_DEV_CRM_KEY=$crm_key
"$bin" check --config "$work/examples/toolgate.yaml" >/dev/null

"$bin" sample-upstream --listen "127.0.0.1:$upstream_port" >"$work/upstream.log" 2>&1 &
pids+=($!)
wait_up "http://127.0.0.1:$upstream_port/api/v2/leads" "${pids[-1]}" || {
  cat "$work/upstream.log" >&2
  exit 1
}

port=$(free_port)
(cd "$work" && RUST_LOG=warn exec "$bin" serve --config examples/toolgate.yaml --listen "127.0.0.1:$port") \
  >"$work/gateway.log" 2>&1 &
pids+=($!)
base="http://127.0.0.1:$port"
wait_up "$base/healthz" "${pids[-1]}" || {
  cat "$work/gateway.log" >&2
  exit 1
}

curl -fsS "$base/openapi.json" -o "$work/openapi.json"
openapi-spec-validator "$work/openapi.json"

# The setup works end to end: the agent's call reaches the sample CRM, so
# the run below sees successful answers too, not only refusals.
answered=$(curl -sS -o /dev/null -w '%{http_code}' "$base/v1/calls" \
  -H "Authorization: Bearer $agent_key" -H 'Content-Type: application/json' \
  -d '{"tool": "search_leads", "arguments": {"query": "acme", "limit": 5}}')
if [[ "$answered" != 200 ]]; then
  echo "contract: the agent's call answered $answered, not 200" >&2
  tail -n 20 "$work/gateway.log" >&2
  exit 1
fi

checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
status=0
# One run as `role`; its report is also kept in $work/report.txt.
run_as() {
  local key_var="${1}_key"
  # From the scratch directory: schemathesis keeps a cache where it runs.
  # Each run is bounded (a hung gateway fails the step, it does not stall CI).
  (cd "$work" && timeout 300 schemathesis run "$work/openapi.json" \
    --url "$base" \
    --header "Authorization: Bearer ${!key_var}" \
    --checks "$checks" \
    --phases examples,coverage,fuzzing \
    --max-examples "$examples" \
    --workers "$workers" \
    --seed 1 \
    --request-timeout 10 \
    --suppress-health-check all \
    --warnings off \
    --output-sanitize true) 2>&1 | tee "$work/report.txt"
  return "${PIPESTATUS[0]}"
}
for role in agent approver admin; do
  echo "contract: schemathesis as the $role"
  if run_as "$role"; then
    continue
  fi
  # A crash inside schemathesis itself (a "Runtime Error" while it draws
  # cases, no check failed) says nothing of the gateway: run it once more.
  # A failed check fails the step at once.
  if grep -q "Runtime Error" "$work/report.txt" && ! grep -q "^Failures:" "$work/report.txt"; then
    echo "contract: schemathesis itself failed (no check failed); running it again as the $role"
    run_as "$role" && continue
  fi
  status=1
done
if ((status)); then
  echo "contract: schemathesis found failures; the gateway's log:" >&2
  tail -n 50 "$work/gateway.log" >&2
  exit 1
fi
echo "contract: the gateway keeps its documented contract for every key"
