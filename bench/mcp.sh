#!/usr/bin/env bash
# MCP vs REST: the same tool call through /mcp (tools/call in a session) and
# through POST /v1/calls, in one run, taking turns request by request with a
# direct call to the upstream, each at a fixed request rate; the latency each
# path adds over the direct call, and their ratio (target: MCP's added
# latency ≤ 1.2× REST's). See bench/mcp.rs.
#
#   bash bench/mcp.sh                          # RATE=150 DURATION=8 ROUNDS=5 (RATE per target)
#   RATE=1000 DURATION=10 ROUNDS=5 bash bench/mcp.sh
#
# Writes bench/results/mcp.md and the "MCP vs REST" section of
# bench/results/latest.md.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${RATE:-150}
DURATION=${DURATION:-8}
ROUNDS=${ROUNDS:-5}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}

echo "building toolgate and the benchmark (release)..." >&2
cargo build --release --quiet --bin toolgate --example mcp_bench
TABLE=$("$CARGO_TARGET_DIR/release/examples/mcp_bench" "$CARGO_TARGET_DIR/release/toolgate" "$RATE" "$DURATION" "$ROUNDS")

mkdir -p bench/results
SECTION=$(
  echo "<!-- mcp:begin -->"
  echo "## MCP vs REST — $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "\`RATE=$RATE DURATION=$DURATION ROUNDS=$ROUNDS bash bench/mcp.sh\` on $(nproc) cores (load average $(cut -d' ' -f1 /proc/loadavg) at the end)."
  echo
  echo "$TABLE"
  echo "<!-- mcp:end -->"
)
echo "$SECTION" | tee bench/results/mcp.md
# The section in latest.md: replaced when there, else appended.
LATEST=bench/results/latest.md
touch "$LATEST"
python3 - "$LATEST" bench/results/mcp.md <<'PY'
import re, sys
latest, section = open(sys.argv[1]).read(), open(sys.argv[2]).read().strip()
pattern = re.compile(r"<!-- mcp:begin -->.*?<!-- mcp:end -->", re.S)
text = pattern.sub(lambda _: section, latest) if pattern.search(latest) else latest.rstrip() + "\n\n" + section
open(sys.argv[1], "w").write(text.rstrip() + "\n")
PY
