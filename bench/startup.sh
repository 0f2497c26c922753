#!/usr/bin/env bash
# Benchmark: how fast the node and the CLI start, next to containerd and ctr.
#
#   bench/startup.sh [RUNS] [CLI_RUNS]   (defaults 9 and 21; needs root and a build)
#
# 1. Node start-up on an idle node (no deployments), RUNS times, each in a new directory:
#    from launching `zlayer-init serve` until its "containerd is ready" line (containerd's
#    READY=1) and until its "node is ready" line (the agent's READY=1 as well); the log is
#    polled every 2 ms. The agent's share is the difference.
# 2. The CLI on a node running 50 replicas (busybox sleeping, one deployment), CLI_RUNS
#    times each, interleaved: `zlayer ps` next to `ctr -n NS containers ls` (both list
#    the 50 containers); `zlayer version` next to `ctr version` (each asks its server for
#    its version: start-up, connection set-up and one small call); `zlayer --help` next
#    to `ctr --help` (no connection: the program's own start-up, loading and exit). Wall
#    time and CPU time (user + system) of the process, from bash's `time`.
# Medians. Writes the table to bench/results/startup.md (OUT=... to write elsewhere) and
# prints it. BIN=dir runs other binaries (default build/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
RUNS=${1:-9}
CLI_RUNS=${2:-21}
BIN=${BIN:-build/bin}
OUT=${OUT:-bench/results/startup.md}
REPLICAS=50
for p in zlayer-init zlayer-agent zlayer; do
  [[ -x $BIN/$p ]] || { echo "bench: $BIN/$p missing (scripts/build.sh)" >&2; exit 1; }
done
command -v ctr >/dev/null || { echo "bench: ctr missing (scripts/install-deps.sh)" >&2; exit 1; }

now_ms() { date +%s%3N; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

W=$(mktemp -d /tmp/zl-bs-XXXX)
NS=bench$$
init_pid=
trap 'cleanup_node "$W"' EXIT

# --- 1. node start-up -------------------------------------------------------------------
cd_ready=() node_ready=() agent_share=()
for run in $(seq "$RUNS"); do
  d=$W/s$run; mkdir -p "$d"
  t0=$(now_ms)
  node_env "$d" "$BIN/zlayer-init" serve >"$d/out" 2>"$d/err" &
  init_pid=$!
  wait_line "$d/err" "containerd is ready" 0.002
  t1=$(now_ms)
  wait_line "$d/err" "node is ready" 0.002
  t2=$(now_ms)
  cd_ready+=($((t1 - t0))) node_ready+=($((t2 - t0))) agent_share+=($((t2 - t1)))
  stop_node
  rm -rf "$d"
done
cr=$(printf '%s\n' "${cd_ready[@]}" | median)
nr=$(printf '%s\n' "${node_ready[@]}" | median)
ar=$(printf '%s\n' "${agent_share[@]}" | median)

# --- 2. the CLI with 50 replicas --------------------------------------------------------
d=$W/node
ZL=(node_env "$d" "$BIN/zlayer")
CTR=(ctr --address "$d/c.sock" -n "$NS")
start_node "$d"
import_busybox "$d"
cat >"$W/spec.yaml" <<YAML
version: v1
deployment: bench
services:
  app:
    image: {name: zlayer/busybox:latest, pull_policy: never}
    command: {entrypoint: ["/bin/sleep", "100000"]}
    scale: {replicas: $REPLICAS}
    stop_grace_period: 1s
YAML
"${ZL[@]}" deploy --spec "$W/spec.yaml" --wait --timeout 5m >/dev/null
listed=$("${ZL[@]}" ps | grep -c running || true)
ctr_listed=$("${CTR[@]}" containers ls -q | wc -l)
if [[ $listed -ne $REPLICAS || $ctr_listed -ne $REPLICAS ]]; then
  echo "bench: expected $REPLICAS replicas, zlayer ps shows $listed running, ctr $ctr_listed" >&2
  exit 1
fi
sleep 2  # let the node settle after the rollout

# timed NAME CMD...: runs CMD (output discarded), appends "wall cpu" in ms to $W/NAME.
timed() {
  local name=$1 line
  shift
  line=$( { TIMEFORMAT='%3R %3U %3S'; time "$@" >/dev/null 2>&1; } 2>&1)
  awk '{printf "%.1f %.1f\n", $1 * 1000, ($2 + $3) * 1000}' <<<"$line" >>"$W/$name"
}
for name in zps ctrls zver ctrver zhelp ctrhelp; do : >"$W/$name"; done
"${ZL[@]}" ps >/dev/null; "${CTR[@]}" containers ls >/dev/null  # warm the page cache
for i in $(seq "$CLI_RUNS"); do
  timed zps "${ZL[@]}" ps
  timed ctrls "${CTR[@]}" containers ls
  timed zver "${ZL[@]}" version
  timed ctrver "${CTR[@]}" version
  timed zhelp "${ZL[@]}" --help
  timed ctrhelp "${CTR[@]}" --help
done
"${ZL[@]}" delete bench >/dev/null  # the replicas go before the node stops
col() { awk -v c="$1" '{print $c}' "$W/$2" | median; }
zpw=$(col 1 zps) zpc=$(col 2 zps) clw=$(col 1 ctrls) clc=$(col 2 ctrls)
zvw=$(col 1 zver) zvc=$(col 2 zver) cvw=$(col 1 ctrver) cvc=$(col 2 ctrver)
zhw=$(col 1 zhelp) zhc=$(col 2 zhelp) chw=$(col 1 ctrhelp) chc=$(col 2 ctrhelp)

mkdir -p "$(dirname "$OUT")"
{
  echo "# start-up of the node and the CLI ($(date -u +%Y-%m-%d), $(nproc) cores, medians)"
  echo
  echo "Command: \`bench/startup.sh $RUNS $CLI_RUNS\` (BIN=$BIN)"
  echo
  echo "Node start-up, idle node, $RUNS runs (from launching \`zlayer-init serve\`):"
  echo
  echo "| measure | ms | vs containerd ready |"
  echo "|---|---|---|"
  echo "| containerd ready (its READY=1) | $cr | 1.00 |"
  echo "| node ready (the agent's READY=1 too) | $nr | $(ratio "$nr" "$cr") |"
  echo "| of that, the agent's share (node ready - containerd ready) | $ar | |"
  echo
  echo "CLI, node with $REPLICAS replicas, $CLI_RUNS runs each, interleaved:"
  echo
  echo "| measure | zlayer | ctr | ratio |"
  echo "|---|---|---|---|"
  echo "| \`zlayer ps\` / \`ctr containers ls\`: wall (ms) | $zpw | $clw | $(ratio "$zpw" "$clw") |"
  echo "| \`zlayer ps\` / \`ctr containers ls\`: CPU (ms) | $zpc | $clc | $(ratio "$zpc" "$clc") |"
  echo "| \`zlayer version\` / \`ctr version\`: wall (ms) | $zvw | $cvw | $(ratio "$zvw" "$cvw") |"
  echo "| \`zlayer version\` / \`ctr version\`: CPU (ms) | $zvc | $cvc | $(ratio "$zvc" "$cvc") |"
  echo "| \`zlayer --help\` / \`ctr --help\`: wall (ms) | $zhw | $chw | $(ratio "$zhw" "$chw") |"
  echo "| \`zlayer --help\` / \`ctr --help\`: CPU (ms) | $zhc | $chc | $(ratio "$zhc" "$chc") |"
  echo
  echo "\`version\` is one small call to the server (the agent, containerd); \`--help\` makes"
  echo "none, so it is the cost of starting and ending the program alone."
} | tee "$OUT"
