#!/usr/bin/env bash
# Benchmark: the workload lifecycle on one node, in one run.
#
#   bench/lifecycle.sh [CRASHES] [REPLICAS] [SECONDS]   (defaults 20, 50, 30; root, a build)
#
# 1. Crash → replacement: CRASHES replicas of a busybox sleeper (restart
#    delay 100ms) are each killed once with kill -9 of the container's
#    process; containerd's own event timestamps give the time from the
#    /tasks/exit event to the replacement's /tasks/start. Next to it, the same
#    restart driven by ctr as fast as a script can (watch the pid go, then
#    `ctr tasks rm` + `ctr tasks start -d`), measured the same way.
# 2. Health checks at scale: REPLICAS services (busybox httpd, one port each)
#    with an http health check every 1s; the agent's RSS and CPU over SECONDS,
#    next to containerd's in the same run.
# Writes bench/results/lifecycle.md.
set -euo pipefail
cd "$(dirname "$0")/.."
CRASHES=${1:-20}
REPLICAS=${2:-50}
SECONDS_MEASURED=${3:-30}
BIN=${BIN:-build/bin}
source bench/lib.sh
T=$(mktemp -d /tmp/zl-bl-XXXX)
NS=bench$$
export_node_env "$T"
CTR=(ctr --address "$T/c.sock" -n "$NS")
ZL=$BIN/zlayer
init_pid= events_pid=
cleanup() {
  [[ -n $events_pid ]] && kill "$events_pid" 2>/dev/null
  cleanup_node "$T"
}
trap cleanup EXIT
task_pid() { "${CTR[@]}" tasks ls | awk -v id="$1" '$1 == id && $3 == "RUNNING" {print $2}'; }
wait_new_pid() {  # wait_new_pid ID OLD_PID
  until p=$(task_pid "$1") && [[ -n $p && $p != "$2" ]]; do sleep 0.02; done
}
# Milliseconds from each /tasks/exit of container $1 to the /tasks/start after it.
exit_to_start_ms() {
  awk -v id="\"container_id\":\"$1\"" '
    index($0, id) == 0 { next }
    { split($2, hms, ":"); t = hms[1] * 3600 + hms[2] * 60 + hms[3] }
    /\/tasks\/exit/ { exited = t }
    /\/tasks\/start/ && exited { printf "%.1f\n", (t - exited) * 1000; exited = 0 }
  ' "$T/events.log"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
start_node "$T"
import_busybox "$T"
"${CTR[@]}" events >"$T/events.log" 2>/dev/null &
events_pid=$!

# --- 1. crash → replacement ------------------------------------------------------
cat >"$T/crash.yaml" <<YAML
version: v1
deployment: crashbench
services:
  victim:
    image: {name: zlayer/busybox:latest, pull_policy: never}
    command: {entrypoint: ["/bin/sleep", "100000"]}
    scale: {replicas: $CRASHES}
    restart_policy: {kind: always, delay: 100ms}
YAML
"$ZL" deploy --spec "$T/crash.yaml" --wait >/dev/null
for i in $(seq 0 $((CRASHES - 1))); do
  id=crashbench-victim-$i
  old=$(task_pid "$id")
  kill -9 "$old"
  wait_new_pid "$id" "$old"
done
backoffs=()
for i in $(seq 0 $((CRASHES - 1))); do
  b=$("$ZL" inspect "crashbench-victim-$i" -o json | jq -r '.replicas[0].restart_history[0].backoff')
  backoffs+=("$(awk -v b="$b" 'BEGIN {printf "%.1f", b * 1000}')")
done
zl_ms=()
for i in $(seq 0 $((CRASHES - 1))); do zl_ms+=($(exit_to_start_ms "crashbench-victim-$i" | head -1)); done
"$ZL" delete crashbench >/dev/null

ct_ms=()
for i in $(seq 1 "$CRASHES"); do
  "${CTR[@]}" run -d docker.io/zlayer/busybox:latest "ctr$i" /bin/sleep 100000 >/dev/null
  pid=$(task_pid "ctr$i")
  ( while kill -0 "$pid" 2>/dev/null; do sleep 0.001; done
    until "${CTR[@]}" tasks rm "ctr$i" >/dev/null 2>&1; do sleep 0.005; done
    "${CTR[@]}" tasks start -d "ctr$i" >/dev/null ) &
  waiter=$!
  kill -9 "$pid"
  wait "$waiter"
  sleep 0.2
done
sleep 0.5
for i in $(seq 1 "$CRASHES"); do ct_ms+=($(exit_to_start_ms "ctr$i" | head -1)); done
for i in $(seq 1 "$CRASHES"); do
  "${CTR[@]}" tasks kill -s KILL "ctr$i" >/dev/null 2>&1 || true
done
sleep 0.5
for i in $(seq 1 "$CRASHES"); do
  "${CTR[@]}" tasks rm -f "ctr$i" >/dev/null 2>&1 || true
  "${CTR[@]}" containers rm "ctr$i" >/dev/null 2>&1 || true
done

zm=$(printf '%s\n' "${zl_ms[@]}" | median)
bm=$(printf '%s\n' "${backoffs[@]}" | median)
cm=$(printf '%s\n' "${ct_ms[@]}" | median)
net=$(awk -v z="$zm" -v b="$bm" 'BEGIN {printf "%.1f", z - b}')

# --- 2. health checks at scale ---------------------------------------------------------
http_checks_spec "$REPLICAS" $((20000 + RANDOM % 20000)) >"$T/checks.yaml"
"$ZL" deploy --spec "$T/checks.yaml" --wait >/dev/null
agent_pid=$(cat "$T/run/zlayer-agent.pid")
containerd_pid=$(cat "$T/run/containerd.pid")
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
threads() { awk '/^Threads/ {print $2}' "/proc/$1/status"; }
a0=$(cpu_ticks "$agent_pid"); c0=$(cpu_ticks "$containerd_pid")
sleep "$SECONDS_MEASURED"
a1=$(cpu_ticks "$agent_pid"); c1=$(cpu_ticks "$containerd_pid")
hz=$(getconf CLK_TCK)
agent_cpu=$(awk -v d=$((a1 - a0)) -v hz="$hz" -v s="$SECONDS_MEASURED" 'BEGIN {printf "%.1f", 100 * d / hz / s}')
containerd_cpu=$(awk -v d=$((c1 - c0)) -v hz="$hz" -v s="$SECONDS_MEASURED" 'BEGIN {printf "%.1f", 100 * d / hz / s}')
agent_rss=$(rss_kib "$agent_pid"); containerd_rss=$(rss_kib "$containerd_pid")
agent_threads=$(threads "$agent_pid")
healthy=$("$ZL" ps -o json | jq '[.deployments[].services[].replicas[] | select(.health == "healthy")] | length')
"$ZL" delete checks >/dev/null

mkdir -p bench/results
{
  echo "# workload lifecycle ($(date -u +%Y-%m-%d), $(nproc) cores, medians)"
  echo
  echo "Command: \`bench/lifecycle.sh $CRASHES $REPLICAS $SECONDS_MEASURED\`"
  echo
  echo "Load average when it started (1, 5, 15 min): $load_before."
  echo
  echo "## Crash (kill -9) → replacement task started, $CRASHES crashes"
  echo
  echo "Times are containerd's own event timestamps: /tasks/exit to the next /tasks/start."
  echo
  echo "| measure | zlayer restart policy | ctr, scripted (rm, start -d) | ratio |"
  echo "|---|---|---|---|"
  echo "| exit → new task started (ms) | $zm | $cm | $(awk "BEGIN {printf \"%.2f\", $zm/$cm}") |"
  echo "| of which the back-off delay (ms) | $bm | 0 | |"
  echo "| exit → start without the back-off (ms) | $net | $cm | $(awk "BEGIN {printf \"%.2f\", $net/$cm}") |"
  echo
  echo "## $REPLICAS replicas with an http health check every 1s, over ${SECONDS_MEASURED}s"
  echo
  echo "| process | RSS (KiB) | CPU (% of one core) | threads |"
  echo "|---|---|---|---|"
  echo "| zlayer-agent | $agent_rss | $agent_cpu | $agent_threads |"
  echo "| containerd (same run) | $containerd_rss | $containerd_cpu | - |"
  echo
  echo "Replicas healthy at the end: $healthy of $REPLICAS."
} | tee bench/results/lifecycle.md
