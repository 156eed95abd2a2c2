#!/usr/bin/env bash
# The Redis audit stream's append rate of 1, 2 and 4 replicas, on one hash
# chain shared by all and on a chain per replica,
# on one redis-server and on a 3-master Redis Cluster (both started
# here on free ports, append-only with fsync always, as README recommends),
# the chain verified after each run. See bench/audit_redis.rs.
#
#   bash bench/audit_redis.sh                  # DURATION=5 CALLERS=64 (callers per replica)
#
# Writes bench/results/audit_redis.md.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-5}
CALLERS=${CALLERS:-64}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
  { echo "needs redis-server and redis-cli (apt-get install redis-server redis-tools)" >&2; exit 1; }

echo "building the benchmark (release)..." >&2
cargo build --release --quiet --example audit_redis_bench
BENCH="$CARGO_TARGET_DIR/release/examples/audit_redis_bench"

DIR=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$DIR"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
serve() { # port dir [extra args]
  local port=$1 dir=$2; shift 2
  mkdir -p "$dir"
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly yes --appendfsync always \
    --dir "$dir" "$@" >/dev/null 2>&1 &
  PIDS+=($!)
  until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.05; done
}

ONE=$(free_port)
serve "$ONE" "$DIR/one"
NODES=()
for i in 1 2 3; do
  p=$(free_port)
  serve "$p" "$DIR/c$i" --cluster-enabled yes --cluster-config-file "$DIR/c$i/nodes.conf" --cluster-port "$(free_port)"
  NODES+=("$p")
done
redis-cli --cluster create "${NODES[@]/#/127.0.0.1:}" --cluster-yes >/dev/null
until redis-cli -p "${NODES[0]}" cluster info | grep -q cluster_state:ok; do sleep 0.05; done
CLUSTER=$(printf 'redis://127.0.0.1:%s,' "${NODES[@]}"); CLUSTER=${CLUSTER%,}

mkdir -p bench/results
{
  echo "## Redis audit stream: shared and per-replica chains, 1/2/4 replicas — $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "\`DURATION=$DURATION CALLERS=$CALLERS bash bench/audit_redis.sh\` on $(nproc) cores, $(redis-server --version | cut -d' ' -f3), appendfsync always."
  echo
  echo "### One redis-server"
  echo
  "$BENCH" "redis://127.0.0.1:$ONE/0" "$DURATION" "$CALLERS"
  echo
  echo "### Redis Cluster, three masters (the shared chain on one of them, per-replica chains spread)"
  echo
  "$BENCH" "$CLUSTER" "$DURATION" "$CALLERS"
  echo
  echo "load average $(cut -d' ' -f1 /proc/loadavg) at the end."
} | tee bench/results/audit_redis.md
