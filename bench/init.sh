#!/usr/bin/env bash
# Benchmark: zlayer-init next to tini, each supervising the real containerd.
#
#   bench/init.sh [RUNS]        (default 10 runs; needs root; builds nothing)
#
# Measures, per run:
#   - start -> ready: from launching the supervisor until containerd answers
#     (zlayer-init: its "containerd is ready" line, i.e. containerd's READY=1;
#     tini: the first successful `ctr version`, polled every 5 ms);
#   - the supervisor's own RSS (VmRSS of PID zlayer-init / tini), once ready.
# Writes the table to bench/results/init.md (and prints it).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-10}
BIN=${BIN:-build/bin}
command -v tini >/dev/null || { echo "bench: tini missing (scripts/install-deps.sh)" >&2; exit 1; }
[[ -x $BIN/zlayer-init ]] || { echo "bench: $BIN/zlayer-init missing (scripts/build.sh)" >&2; exit 1; }

now_ms() { date +%s%3N; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

work=$(mktemp -d /tmp/zl-bench-XXXX)
cleanup() { pkill -KILL -f "$work" 2>/dev/null || true; sleep 0.2; rm -rf "$work"; }
trap cleanup EXIT

zl_ready=() zl_rss=() tini_ready=() tini_rss=()
for run in $(seq "$RUNS"); do
  # zlayer-init, as the node runs it (placeholder agent included).
  d=$work/z$run; mkdir -p "$d"
  t0=$(now_ms)
  env ZLAYER_RUN_DIR=$d/run ZLAYER_DATA_DIR=$d/data ZLAYER_CONTAINERD_ROOT=$d/root \
      ZLAYER_CONTAINERD_STATE=$d/state CONTAINERD_SOCKET=$d/c.sock ZLAYER_SNAPSHOTTER=native \
      "$BIN/zlayer-init" serve >"$d/out" 2>"$d/err" &
  pid=$!
  until grep -q "containerd is ready" "$d/err"; do sleep 0.002; done
  zl_ready+=($(( $(now_ms) - t0 )))
  until grep -q "zlayer-agent is ready" "$d/err"; do sleep 0.01; done
  zl_rss+=("$(rss_kb $pid)")
  kill -TERM $pid; wait $pid || true

  # tini running containerd with an equivalent config.
  d=$work/t$run; mkdir -p "$d"
  cat >"$d/config.toml" <<TOML
version = 2
root = "$d/root"
state = "$d/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$d/c.sock"
[ttrpc]
  address = "$d/c.sock.ttrpc"
TOML
  t0=$(now_ms)
  tini -s -- containerd --config "$d/config.toml" >"$d/out" 2>&1 &
  pid=$!
  until ctr --address "$d/c.sock" --connect-timeout 50ms version >/dev/null 2>&1; do sleep 0.005; done
  tini_ready+=($(( $(now_ms) - t0 )))
  tini_rss+=("$(rss_kb $pid)")
  kill -TERM $pid; wait $pid || true
done

zr=$(printf '%s\n' "${zl_ready[@]}" | median); tr=$(printf '%s\n' "${tini_ready[@]}" | median)
zm=$(printf '%s\n' "${zl_rss[@]}" | median); tm=$(printf '%s\n' "${tini_rss[@]}" | median)
mkdir -p bench/results
{
  echo "# zlayer-init vs tini ($(date -u +%Y-%m-%d), $(nproc) cores, $RUNS runs, medians)"
  echo
  echo "Command: \`bench/init.sh $RUNS\`"
  echo
  echo "| measure | zlayer-init | tini | ratio |"
  echo "|---|---|---|---|"
  echo "| start -> containerd ready (ms) | $zr | $tr | $(awk "BEGIN {printf \"%.2f\", $zr/$tr}") |"
  echo "| supervisor RSS (KiB) | $zm | $tm | $(awk "BEGIN {printf \"%.2f\", $zm/$tm}") |"
  echo
  echo "zlayer-init's time includes its preflight and rendering containerd's config;"
  echo "its readiness is containerd's own READY=1, tini's is the first answering \`ctr version\`."
} | tee bench/results/init.md
