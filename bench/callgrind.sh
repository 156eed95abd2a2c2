#!/usr/bin/env bash
# Instructions per call of one toolgate build, under callgrind (repeatable on
# a noisy machine, unlike seconds): one worker thread, sequential calls to the
# sample CRM; (total at N2 calls - total at N1 calls) / (N2 - N1), so start-up
# cancels out.
#
#   cargo build --release
#   bash bench/callgrind.sh target/release/toolgate
#   bash bench/callgrind.sh /path/to/an/older/toolgate     # compare builds
#   N1=100 N2=500 bash bench/callgrind.sh target/release/toolgate
#   KEEP=/tmp/cg bash bench/callgrind.sh target/release/toolgate   # keep cg.N1.out, cg.N2.out
#   python3 bench/callgrind_stages.py /tmp/cg                        # ... then per stage
#
# The sample CRM and the agent key come from this tree's release build.
set -euo pipefail
BIN=${1:?usage: bash bench/callgrind.sh PATH/TO/toolgate}
N1=${N1:-100}; N2=${N2:-500}
NEW=${NEW:-$(cd "$(dirname "$0")/.." && pwd)/target/release/toolgate}
command -v valgrind >/dev/null || apt-get install -y valgrind >/dev/null
W=$(mktemp -d)
SECRET=${SECRET:-$(python3 -c 'import secrets; print("cg-" + secrets.token_urlsafe(24))')}
UPPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
TOOLGATE_DEV_CRM_KEY=$SECRET $NEW sample-upstream --listen 127.0.0.1:$UPPORT >/dev/null 2>&1 &
UP=$!
KEYOUT=$($NEW keygen --role agent --name cg --workflow cg)
AGENT_KEY=$(echo "$KEYOUT" | sed -n 's/^  \(tg_agent_[^ ]*\)$/\1/p')
AGENT_LINE=$(echo "$KEYOUT" | grep 'cg: {')
mkdir -p $W/tools
cat > $W/tools/create.yaml <<Y
name: create
description: d
scopes: [crm]
input_schema: { type: object, additionalProperties: false, required: [name], properties: { name: { type: string }, email: { type: string } } }
upstream: { method: POST, url: "http://127.0.0.1:$UPPORT/api/v2/leads", body: "{args}", credential: crm, allow_private_network: true }
Y
measure() {
  local n=$1 port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  rm -rf $W/data
  cat > $W/toolgate.yaml <<Y
environment: cg
listen: 127.0.0.1:$port
store: { kind: memory }
credentials:
  crm: { environment: cg, source: { env: CRM }, scopes: [crm], inject: { header: Authorization, format: "Bearer {secret}" } }
workflows:
  cg: { environment: cg, scopes: [crm], credentials: { crm: crm } }
agents:
$AGENT_LINE
Y
  CRM=$SECRET RUST_LOG=error TOOLGATE_WORKER_THREADS=1 valgrind --tool=callgrind --callgrind-out-file=$W/cg.$n.out "$BIN" serve --config $W/toolgate.yaml >/dev/null 2>$W/vg.$n.log &
  local pid=$!
  for _ in $(seq 600); do curl -sf http://127.0.0.1:$port/healthz >/dev/null && break; sleep 0.1; done
  python3 - "$port" "$AGENT_KEY" "$n" <<'PY'
import http.client, sys, json
port, key, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
body = json.dumps({"tool": "create", "arguments": {"name": "Ada Lovelace", "email": "ada@example.com"}})
for i in range(n):
    c.request("POST", "/v1/calls", body, {"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    assert r.status == 200, r.status
PY
  kill -INT $pid; wait $pid || true
  grep -m1 "^summary:\|^totals:" $W/cg.$n.out | awk '{print $2}'
}
A=$(measure $N1); B=$(measure $N2)
kill $UP
python3 -c "print(f'{($B-$A)/($N2-$N1):.0f} instructions per call ($A at $N1 calls, $B at $N2)')"
if [ -n "${KEEP:-}" ]; then
  mkdir -p "$KEEP"
  cp $W/cg.$N1.out $W/cg.$N2.out "$KEEP"/
  echo "$N1 $N2" > "$KEEP"/calls
fi
rm -rf $W
