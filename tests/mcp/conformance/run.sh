#!/usr/bin/env bash
# The official MCP conformance suite (@modelcontextprotocol/conformance,
# pinned in package-lock.json) against a real toolgate: the server
# scenarios that apply to a tools-only server with bearer auth.
#
#   npm ci --prefix tests/mcp/conformance
#   TOOLGATE_BIN=target/debug/toolgate bash tests/mcp/conformance/run.sh
#   SCENARIOS="ping tools-list" bash tests/mcp/conformance/run.sh   # a subset
#
# toolgate serves the suite's test tools (test_simple_text,
# test_error_handling, json_schema_2020_12_tool) over a small upstream
# (servers.mjs), which also runs a relay adding the agent key as a bearer
# (the suite's client sends none). Each scenario is bounded in time
# (SCENARIO_SECONDS, 60); any failure fails the run, except a scenario
# listed in expected-failures.yml, whose *passing* fails it (the list is
# then stale). README, "MCP", lists the scenarios left out and why.
set -euo pipefail
cd "$(dirname "$0")"
HERE=$PWD
ROOT=$(cd ../../.. && pwd)
TOOLGATE_BIN=${TOOLGATE_BIN:-$ROOT/target/debug/toolgate}
SCENARIO_SECONDS=${SCENARIO_SECONDS:-60}
SCENARIOS=${SCENARIOS:-"server-initialize ping tools-list tools-call-simple-text tools-call-error json-schema-2020-12 dns-rebinding-protection server-sse-multiple-streams"}

[ -x "$TOOLGATE_BIN" ] || { echo "no toolgate binary at $TOOLGATE_BIN (cargo build, or set TOOLGATE_BIN)" >&2; exit 1; }
[ -x node_modules/.bin/conformance ] || { echo "the suite is not installed: npm ci --prefix tests/mcp/conformance" >&2; exit 1; }

TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
UP_PORT=$(free_port); RELAY_PORT=$(free_port); TG_PORT=$(free_port)
UPSTREAM_SECRET=$(python3 -c 'import secrets; print("conf-" + secrets.token_urlsafe(24) + "+/=&%")')
KEYOUT=$("$TOOLGATE_BIN" keygen --role agent --name conformance --workflow conformance)
TOOLGATE_KEY=$(echo "$KEYOUT" | sed -n 's/^  \(tg_agent_[^ ]*\)$/\1/p')
AGENT_LINE=$(echo "$KEYOUT" | grep 'conformance: {')
export UPSTREAM_SECRET TOOLGATE_KEY

mkdir -p "$TMP/tools"
cat > "$TMP/toolgate.yaml" <<YAML
environment: conformance
listen: 127.0.0.1:$TG_PORT
store: { kind: memory }
# The suite's client is a local page's origin as far as /mcp can tell: the
# relay's own origin is allowed, any other refused (dns-rebinding-protection).
mcp: { allowed_origins: ["http://127.0.0.1:$RELAY_PORT", "http://localhost:$RELAY_PORT"] }
credentials:
  upstream:
    environment: conformance
    source: { env: UPSTREAM_SECRET }
    scopes: [conformance]
    inject: { header: Authorization, format: "Bearer {secret}" }
workflows:
  conformance:
    environment: conformance
    scopes: [conformance]
    credentials: { api: upstream }
agents:
$AGENT_LINE
YAML
tool() {  # name, description, method, path, input schema (YAML flow)
  cat > "$TMP/tools/$1.yaml" <<YAML
name: $1
description: $2
scopes: [conformance]
input_schema: $5
upstream: { method: $3, url: "http://127.0.0.1:$UP_PORT$4", credential: api, allow_private_network: true, timeout_ms: 5000 }
YAML
}
tool test_simple_text "Returns a simple text." GET /simple-text "{ type: object, additionalProperties: false }"
tool test_error_handling "Always fails (for testing error results)." GET /error "{ type: object, additionalProperties: false }"
cat > "$TMP/tools/json_schema_2020_12_tool.yaml" <<YAML
name: json_schema_2020_12_tool
description: Tool with JSON Schema 2020-12 features
scopes: [conformance]
input_schema:
  \$schema: https://json-schema.org/draft/2020-12/schema
  type: object
  \$defs:
    address:
      type: object
      properties:
        street: { type: string }
        city: { type: string }
  properties:
    name: { type: string }
    address: { \$ref: "#/\$defs/address" }
  additionalProperties: false
upstream: { method: POST, url: "http://127.0.0.1:$UP_PORT/echo", body: "{args}", credential: api, allow_private_network: true, timeout_ms: 5000 }
YAML
"$TOOLGATE_BIN" check --config "$TMP/toolgate.yaml" >&2

node "$HERE/servers.mjs" "$UP_PORT" "$RELAY_PORT" "$TG_PORT" 2>"$TMP/servers.log" &
PIDS+=($!)
RUST_LOG=warn "$TOOLGATE_BIN" serve --config "$TMP/toolgate.yaml" 2>"$TMP/toolgate.log" &
PIDS+=($!)
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$TG_PORT/healthz" >/dev/null && curl -s -o /dev/null "http://127.0.0.1:$RELAY_PORT/" && break
  sleep 0.1
done

URL="http://127.0.0.1:$RELAY_PORT/mcp"
failed=()
for s in $SCENARIOS; do
  echo "=== $s" >&2
  if ! timeout "$SCENARIO_SECONDS" node_modules/.bin/conformance server --url "$URL" --scenario "$s" --expected-failures "$HERE/expected-failures.yml" -o "$TMP/results" >"$TMP/$s.out" 2>&1; then
    failed+=("$s")
    cat "$TMP/$s.out" >&2
  else
    grep -E '✓|✗|Passed|Failed|WARN|SUCCESS|FAILURE' "$TMP/$s.out" | head -20 >&2 || true
  fi
done
if grep -q "$TOOLGATE_KEY" "$TMP/toolgate.log" "$TMP/servers.log" "$TMP"/*.out 2>/dev/null; then
  echo "the agent key appears in a log or in the suite's output" >&2
  failed+=("key-in-output")
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "conformance: failed: ${failed[*]}" >&2
  echo "--- toolgate log" >&2; tail -20 "$TMP/toolgate.log" >&2
  exit 1
fi
echo "conformance: as expected: $SCENARIOS (known failures: expected-failures.yml)"
