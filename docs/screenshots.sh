#!/usr/bin/env bash
# Screenshots of the web console for the README: starts toolgate with a
# sample config (fresh keys, an in-memory store), holds one action for
# approval, and has tests/ui/screenshots.mjs (playwright-core, Debian's
# Chromium) write PNGs of the queue and the action page (and of an admin's
# credentials and audit trail pages) to docs/screenshots/.
#
#   npm ci --prefix tests/ui && bash docs/screenshots.sh
#
# TOOLGATE_BIN (default target/debug/toolgate, built if missing) and
# CHROMIUM (default /usr/bin/chromium) say what to use.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${TOOLGATE_BIN:-$root/target/debug/toolgate}
chromium=${CHROMIUM:-/usr/bin/chromium}
[ -x "$bin" ] || cargo build --manifest-path "$root/Cargo.toml"
[ -x "$chromium" ] || { echo "Chromium is not at $chromium (apt-get install chromium)" >&2; exit 1; }
[ -d "$root/tests/ui/node_modules/playwright-core" ] || { echo "run: npm ci --prefix tests/ui" >&2; exit 1; }

work=$(mktemp -d)
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# A key and its config hash from `toolgate keygen`: sets KEY and HASH.
keygen() {
  local out
  out=$("$bin" keygen "$@")
  KEY=$(printf '%s\n' "$out" | sed -n 2p | tr -d ' ')
  HASH=$(printf '%s\n' "$out" | sed -n 's/.*key_sha256: "\([0-9a-f]*\)".*/\1/p')
}
keygen --role agent --name lead-bot --workflow lead-routing
agent_key=$KEY agent_hash=$HASH
keygen --role approver --name dana --workflow lead-routing
approver_key=$KEY approver_hash=$HASH
keygen --role admin --name sam
admin_key=$KEY admin_hash=$HASH

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/tools"
cat >"$work/tools/create_lead.yaml" <<'YAML'
name: create_lead
description: Create a sales lead in the CRM.
scopes: [crm.leads:write]
input_schema:
  type: object
  additionalProperties: false
  required: [name, email, value_usd]
  properties:
    name: { type: string, maxLength: 100 }
    email: { type: string, maxLength: 200 }
    company: { type: string, maxLength: 100 }
    value_usd: { type: number, minimum: 0 }
upstream:
  method: POST
  url: https://crm.example.com/api/v2/leads
  body: { name: "{args.name}", email: "{args.email}", company: "{args.company}", value_usd: "{args.value_usd}", created_by: agent }
  timeout_ms: 5000
  credential: crm
approval: { when_matches: { properties: { value_usd: { minimum: 10000 } }, required: [value_usd] } }
YAML
cat >"$work/toolgate.yaml" <<YAML
environment: demo
store: { kind: memory }
audit: { kind: file, path: data/audit.jsonl, signing_key: { env: DEMO_SIGNING_KEY }, checkpoint_interval_seconds: 1 }
credentials:
  crm-demo:
    environment: demo
    source: { env: DEMO_CRM_KEY }
    scopes: [crm.leads:write]
    inject: { header: Authorization, format: "Bearer {secret}" }
    max_age_days: 90
    rotated_at: "$(date -u -d '-34 days' +%F)"
workflows:
  lead-routing:
    environment: demo
    scopes: [crm.leads:write]
    credentials: { crm: crm-demo }
    tools:
      create_lead: {}
agents:
  lead-bot: { workflow: lead-routing, key_sha256: "$agent_hash" }
approvers:
  dana: { key_sha256: "$approver_hash", workflows: [lead-routing] }
admins:
  sam: { key_sha256: "$admin_hash" }
YAML

DEMO_CRM_KEY=$(head -c 24 /dev/urandom | base64 | tr -d '/+=') \
DEMO_SIGNING_KEY=$(head -c 32 /dev/urandom | base64 | tr -d '/+=') \
  "$bin" serve --config "$work/toolgate.yaml" --listen "127.0.0.1:$port" >"$work/log" 2>&1 &
server=$!
base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
  curl -fsS "$base/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "$base/healthz" >/dev/null || { cat "$work/log" >&2; exit 1; }

held=$(curl -sS "$base/v1/calls" -H "Authorization: Bearer $agent_key" -H 'Content-Type: application/json' \
  -d '{"tool": "create_lead", "arguments": {"name": "Ada Lovelace", "email": "ada@example.com", "company": "Analytical Engines Ltd", "value_usd": 48000}, "reason": "Inbound request from the web form; large deal"}')
action=$(printf '%s' "$held" | python3 -c 'import json, sys; print(json.load(sys.stdin)["action_id"])') || {
  echo "the call was not held: $held" >&2
  exit 1
}

TOOLGATE_URL=$base APPROVER_KEY=$approver_key ADMIN_KEY=$admin_key ACTION_ID=$action CHROMIUM=$chromium \
  OUT_DIR="$root/docs/screenshots" node "$root/tests/ui/screenshots.mjs"
