#!/usr/bin/env bash
# Build the fuzz targets and run each for a bounded time from its committed
# seed corpus (fuzz/corpus/<target>/, copied to a scratch directory first, so
# the tree stays clean). Exits non-zero if any target crashes, panics (a
# broken invariant), takes too long on one input or runs out of memory; the
# input is kept under the scratch directory and its path printed.
#
#   fuzz/run.sh                          every target, FUZZ_SECONDS (20) each
#   FUZZ_SECONDS=600 fuzz/run.sh redact  one target, ten minutes
#
# FUZZ_JOBS (2) targets run at a time; FUZZ_TARGET_DIR is the cargo target
# directory (fuzz/target). The targets are built without a sanitizer (the
# crate has no unsafe code): libFuzzer's coverage feedback is what matters
# here, and without a sanitizer cargo-fuzz passes only flags that the stable
# compiler accepts.
set -euo pipefail
cd "$(dirname "$0")"

SECONDS_EACH="${FUZZ_SECONDS:-20}"
JOBS="${FUZZ_JOBS:-2}"
RSS_LIMIT_MB="${FUZZ_RSS_LIMIT_MB:-2048}"
# One input taking longer than this is a failure too.
TIMEOUT_EACH="${FUZZ_TIMEOUT:-10}"
ALL_TARGETS=(call_body config_load request_build redact audit_verify)
if [ "$#" -gt 0 ]; then
  TARGETS=("$@")
else
  TARGETS=("${ALL_TARGETS[@]}")
fi
for t in "${TARGETS[@]}"; do
  if [ ! -d "corpus/$t" ]; then
    echo "fuzz: no target $t (targets: ${ALL_TARGETS[*]})" >&2
    exit 2
  fi
done

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# No debug info (cargo-fuzz asks for line tables): it only slows the build
# and the link, and a panic names its file and line without it.
export RUSTFLAGS="${RUSTFLAGS:-} -Cdebuginfo=0"
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
cargo fuzz --version

started=$(date +%s)
target_dir="${FUZZ_TARGET_DIR:-$PWD/target}"
# 16 codegen units build much faster than cargo-fuzz's default of one, for
# somewhat slower runs: for short runs the build is what costs.
build=(-s none --codegen-units 16 --target-dir "$target_dir")
if [ "$#" -gt 0 ]; then
  for t in "${TARGETS[@]}"; do
    cargo fuzz build "${build[@]}" "$t"
  done
else
  cargo fuzz build "${build[@]}"
fi
built=$(date +%s)
echo "fuzz: built in $((built - started)) s"

triple=$(rustc -vV | sed -n 's/^host: //p')
bin_dir="$target_dir/$triple/release"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/toolgate-fuzz.XXXXXX")

# One target from its corpus; its exit code goes to $scratch/<target>/rc.
run_target() {
  local t=$1 dir="$scratch/$1" rc=0
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp -R "corpus/$t/." "$dir/corpus/"
  "$bin_dir/$t" "$dir/corpus" \
    -max_total_time="$SECONDS_EACH" \
    -rss_limit_mb="$RSS_LIMIT_MB" \
    -timeout="$TIMEOUT_EACH" \
    -artifact_prefix="$dir/artifacts/" \
    -print_final_stats=1 >"$dir/log" 2>&1 || rc=$?
  echo "$rc" >"$dir/rc"
}

echo "fuzz: ${TARGETS[*]}: ${SECONDS_EACH} s each, ${JOBS} at a time"
for t in "${TARGETS[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do
    wait -n || true
  done
  run_target "$t" &
done
wait

failed=()
for t in "${TARGETS[@]}"; do
  dir="$scratch/$t"
  if [ "$(cat "$dir/rc" 2>/dev/null || echo 1)" = 0 ]; then
    echo "fuzz: $t: $(grep -E '^#[0-9]+[[:space:]]+DONE' "$dir/log" | tail -n 1 | tr -s '\t ' ' ')"
    continue
  fi
  failed+=("$t")
  echo "fuzz: $t FAILED; the end of its log:"
  tail -n 60 "$dir/log"
  for a in "$dir/artifacts/"*; do
    [ -e "$a" ] || continue
    echo "fuzz: $t failed on $a"
    echo "      replay:   $bin_dir/$t $a"
    echo "      minimise: $bin_dir/$t -minimize_crash=1 -max_total_time=60 -exact_artifact_path=$a.min $a"
  done
done
echo "fuzz: ran in $(($(date +%s) - built)) s; $((${#TARGETS[@]} - ${#failed[@]})) of ${#TARGETS[@]} target(s) clean"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: failing target(s): ${failed[*]}; inputs and logs are under $scratch" >&2
  exit 1
fi
rm -rf "$scratch"
