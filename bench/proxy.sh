#!/usr/bin/env bash
# Proxy benchmark: the same JSON POST, in one run with alternating rounds,
#  (a) straight to a fast upstream (nginx returning a fixed ~3 KB JSON body),
#  (b) through nginx as a plain reverse proxy that adds an Authorization header,
#  (c) through toolgate's full pipeline (auth, resolve, validate, build,
#      credential, egress check, forward, redact, shape).
# Then latency at a fixed request rate for each, and toolgate's peak RSS.
#
#   bash bench/proxy.sh                      # defaults below
#   ROUNDS=5 DURATION=10 CONNECTIONS=64 RATE=1000 RATE_SECONDS=10 bash bench/proxy.sh
#   PROFILE=1 bash bench/proxy.sh            # also perf-record toolgate in its first round
#                                            # (report: perf report -i bench/results/perf.data)
#   BASELINE=/path/to/an/older/toolgate bash bench/proxy.sh
#                                            # the same config served by another build too, in the
#                                            # same alternating rounds (before vs after a change)
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
RATE=${RATE:-1000}
RATE_SECONDS=${RATE_SECONDS:-10}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}

need() { command -v "$1" >/dev/null 2>&1; }
if ! need nginx || ! need wrk; then
  apt-get install -y nginx-light wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y nginx-light wrk >/dev/null; }
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

echo "building toolgate and the load generator (release)..." >&2
cargo build --release --quiet --bin toolgate --example loadgen
TOOLGATE=$CARGO_TARGET_DIR/release/toolgate
LOADGEN=$CARGO_TARGET_DIR/release/examples/loadgen

TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$TMP/nginx.pid" ] && kill "$(cat "$TMP/nginx.pid")" 2>/dev/null || true
  sleep 0.2
  rm -rf "$TMP"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
UP_PORT=$(free_port); PROXY_PORT=$(free_port); TG_PORT=$(free_port); BASE_PORT=$(free_port)
SECRET=$(python3 -c 'import secrets; print("bench-" + secrets.token_urlsafe(32))')

# A fixed ~3 KB JSON answer (no single quotes: it sits in nginx's config).
python3 - "$TMP/body.json" <<'PY'
import json, sys
items = [{"id": f"L-{1000+i}", "name": f"Lead number {i}", "email": f"lead{i}@example.com",
          "status": "qualified", "value_usd": 1000 + 37 * i, "owner": {"name": "Sales Team", "region": "emea"}}
         for i in range(18)]
body = json.dumps({"total": len(items), "leads": items}, separators=(",", ":"))
open(sys.argv[1], "w").write(body)
PY
echo "upstream body: $(wc -c < "$TMP/body.json") bytes" >&2

mkdir -p "$TMP/nginx/logs"
cat > "$TMP/nginx.conf" <<NGX
worker_processes 1;
pid $TMP/nginx.pid;
error_log $TMP/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $TMP/nginx; proxy_temp_path $TMP/nginx;
  fastcgi_temp_path $TMP/nginx; uwsgi_temp_path $TMP/nginx; scgi_temp_path $TMP/nginx;
  keepalive_requests 1000000;
  upstream backend { server 127.0.0.1:$UP_PORT; keepalive 256; }
  server {
    listen 127.0.0.1:$UP_PORT;
    location = /api/echo { default_type application/json; return 200 '$(cat "$TMP/body.json")'; }
  }
  server {
    listen 127.0.0.1:$PROXY_PORT;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "Bearer $SECRET";
    }
  }
}
NGX
"$NGINX" -p "$TMP/nginx" -c "$TMP/nginx.conf"

# toolgate: one tool that POSTs the arguments to the same upstream with the credential.
mkdir -p "$TMP/tg/tools"
KEYOUT=$("$TOOLGATE" keygen --role agent --name bench --workflow bench)
AGENT_KEY=$(echo "$KEYOUT" | sed -n 's/^  \(tg_agent_[^ ]*\)$/\1/p')
AGENT_LINE=$(echo "$KEYOUT" | grep 'bench: {')
cat > "$TMP/tg/toolgate.yaml" <<YAML
environment: bench
listen: 127.0.0.1:$TG_PORT
store: { kind: memory }
limits: { max_concurrency: 4096, max_body_bytes: 65536 }
credentials:
  upstream:
    environment: bench
    source: { env: BENCH_SECRET }
    scopes: [bench]
    inject: { header: Authorization, format: "Bearer {secret}" }
workflows:
  bench:
    environment: bench
    scopes: [bench]
    credentials: { api: upstream }
agents:
$AGENT_LINE
YAML
cat > "$TMP/tg/tools/echo.yaml" <<YAML
name: echo
description: Post a lead and get the lead list back.
scopes: [bench]
input_schema:
  type: object
  additionalProperties: false
  required: [name, email]
  properties:
    name: { type: string, maxLength: 100 }
    email: { type: string, maxLength: 200 }
    value_usd: { type: number, minimum: 0 }
upstream:
  method: POST
  url: http://127.0.0.1:$UP_PORT/api/echo
  body: "{args}"
  credential: api
  allow_private_network: true
  timeout_ms: 5000
YAML
"$TOOLGATE" check --config "$TMP/tg/toolgate.yaml" >&2 || true
BENCH_SECRET=$SECRET RUST_LOG=warn TOOLGATE_WORKER_THREADS=${TOOLGATE_WORKER_THREADS:-} "$TOOLGATE" serve --config "$TMP/tg/toolgate.yaml" >"$TMP/toolgate.log" 2>&1 &
TG_PID=$!; PIDS+=("$TG_PID")
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$TG_PORT/healthz" >/dev/null && break; sleep 0.05; done
TARGETS="direct nginx toolgate"
if [ -n "${BASELINE:-}" ]; then
  # The same config, its own port and data directory, served by the other build.
  mkdir -p "$TMP/base"; cp -r "$TMP/tg/tools" "$TMP/base/"
  sed "s/^listen: .*/listen: 127.0.0.1:$BASE_PORT/" "$TMP/tg/toolgate.yaml" > "$TMP/base/toolgate.yaml"
  BENCH_SECRET=$SECRET RUST_LOG=warn "$BASELINE" serve --config "$TMP/base/toolgate.yaml" >"$TMP/baseline.log" 2>&1 &
  BASE_PID=$!; PIDS+=("$BASE_PID")
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$BASE_PORT/healthz" >/dev/null && break; sleep 0.05; done
  TARGETS="$TARGETS baseline"
fi

ARGS='{"name":"Ada Lovelace","email":"ada@example.com","value_usd":1200}'
printf '%s' "$ARGS" > "$TMP/direct.json"
printf '{"tool":"echo","arguments":%s}' "$ARGS" > "$TMP/call.json"
lua() {  # wrk script: POST a body file, with an optional Authorization header
  {
    echo 'wrk.method = "POST"'
    echo "local f = io.open(\"$2\", \"r\"); wrk.body = f:read(\"*a\"); f:close()"
    echo 'wrk.headers["Content-Type"] = "application/json"'
    if [ -n "$3" ]; then echo "wrk.headers[\"Authorization\"] = \"$3\""; fi
  } > "$TMP/$1.lua"
}
lua direct "$TMP/direct.json" ""
lua nginx "$TMP/direct.json" ""
lua toolgate "$TMP/call.json" "Bearer $AGENT_KEY"
lua baseline "$TMP/call.json" "Bearer $AGENT_KEY"
url_of() { case $1 in direct) echo "http://127.0.0.1:$UP_PORT/api/echo";; nginx) echo "http://127.0.0.1:$PROXY_PORT/api/echo";; toolgate) echo "http://127.0.0.1:$TG_PORT/v1/calls";; baseline) echo "http://127.0.0.1:$BASE_PORT/v1/calls";; esac; }

# Sanity: every target answers 200 with the body.
for t in direct nginx; do curl -sf -X POST -H 'Content-Type: application/json' --data @"$TMP/direct.json" "$(url_of $t)" >/dev/null; done
curl -sf -X POST -H 'Content-Type: application/json' -H "Authorization: Bearer $AGENT_KEY" --data @"$TMP/call.json" "$(url_of toolgate)" | head -c 120 >&2; echo >&2

declare -A RPS
for r in $(seq "$ROUNDS"); do
  for t in $TARGETS; do
    if [ "${PROFILE:-0}" = 1 ] && [ "$t" = toolgate ] && [ "$r" = 1 ]; then
      perf record -F 299 --call-graph dwarf,16384 -p "$TG_PID" -o bench/results/perf.data -- sleep "$DURATION" >/dev/null 2>&1 &
    fi
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$TMP/$t.lua" "$(url_of $t)")
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
    echo "round $r $t: ${rps} req/s${non2xx:+ (non-2xx: $non2xx)}" >&2
    if [ -n "$non2xx" ] || echo "$out" | grep -q 'Socket errors'; then
      echo "$t answered errors; the figures would be meaningless" >&2; echo "$out" >&2; exit 1
    fi
    RPS[$t]="${RPS[$t]:-} $rps"
  done
done
median() { echo "$@" | tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

declare -A FIXED
for t in $TARGETS; do
  hdrs=(); body="@$TMP/direct.json"
  case $t in toolgate|baseline) hdrs=("Authorization:Bearer $AGENT_KEY"); body="@$TMP/call.json";; esac
  FIXED[$t]=$("$LOADGEN" "$(url_of $t)" "$RATE" "$RATE_SECONDS" "Content-Type:application/json" "${hdrs[@]}" "$body")
  echo "fixed $RATE/s $t: ${FIXED[$t]}" >&2
done
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
RSS_KB=$(awk '/VmHWM/ {print $2}' "/proc/$TG_PID/status")

D=$(median ${RPS[direct]}); N=$(median ${RPS[nginx]}); T=$(median ${RPS[toolgate]})
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
added() { python3 -c "print(f'{$1-$2:+.3f}')"; }
p50d=$(field "${FIXED[direct]}" p50_ms); p99d=$(field "${FIXED[direct]}" p99_ms)
p50n=$(field "${FIXED[nginx]}" p50_ms); p99n=$(field "${FIXED[nginx]}" p99_ms)
p50t=$(field "${FIXED[toolgate]}" p50_ms); p99t=$(field "${FIXED[toolgate]}" p99_ms)

mkdir -p bench/results
{
  echo "# Proxy benchmark — $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "\`ROUNDS=$ROUNDS DURATION=$DURATION CONNECTIONS=$CONNECTIONS THREADS=$THREADS RATE=$RATE RATE_SECONDS=$RATE_SECONDS bash bench/proxy.sh\` on $(nproc) cores; upstream answer $(wc -c < "$TMP/body.json") bytes."
  echo
  echo "| target | throughput (median of $ROUNDS, req/s) | p50 at $RATE/s (ms) | p99 at $RATE/s (ms) |"
  echo "|---|---|---|---|"
  echo "| direct to upstream | $D | $p50d | $p99d |"
  echo "| nginx reverse proxy + Authorization | $N | $p50n | $p99n |"
  echo "| toolgate full pipeline | $T | $p50t | $p99t |"
  if [ -n "${BASELINE:-}" ]; then
    echo "| baseline build, full pipeline | $(median ${RPS[baseline]}) | $(field "${FIXED[baseline]}" p50_ms) | $(field "${FIXED[baseline]}" p99_ms) |"
  fi
  echo
  echo "| measure | value | target |"
  echo "|---|---|---|"
  echo "| toolgate / nginx throughput | $(ratio "$T" "$N")× | ≥ 0.5× |"
  echo "| nginx / direct throughput | $(ratio "$N" "$D")× | (reference) |"
  echo "| toolgate added p50 at $RATE/s | $(added "$p50t" "$p50d") ms | ≤ 0.25 ms |"
  echo "| toolgate added p99 at $RATE/s | $(added "$p99t" "$p99d") ms | ≤ 1 ms |"
  echo "| nginx added p50 / p99 at $RATE/s | $(added "$p50n" "$p50d") / $(added "$p99n" "$p99d") ms | (reference) |"
  echo "| toolgate peak RSS | $((RSS_KB / 1024)) MB | ≤ 50 MB |"
  if [ -n "${BASELINE:-}" ]; then
    echo "| toolgate / baseline build throughput | $(ratio "$T" "$(median ${RPS[baseline]})")× | ≥ 1.00× (no slower) |"
    echo "| baseline build peak RSS | $(( $(awk '/VmHWM/ {print $2}' "/proc/$BASE_PID/status") / 1024 )) MB | |"
  fi
} | tee bench/results/latest.md
