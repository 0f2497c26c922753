#!/usr/bin/env bash
# Benchmark: the agent's event-loop lag, RSS and threads, idle and with many
# health-checked replicas, in one run.
#
#   bench/looplag.sh [REPLICAS] [SECONDS]   (defaults 100, 65; root, a build)
#
# The lag is the agent's own measure (common/loop_lag.h, `zlayer status -o
# json` .loop_lag): a timer due every 50 ms, and how late it ran, as p50, p99
# and max over the last minute of samples. Taken at three points:
#   1. idle: SECONDS after start-up (node ready, test image imported), no deployment;
#   2. deploying: right after `deploy --wait` of REPLICAS services (busybox
#      httpd, one port each, an http health check every 1s) converged — the
#      window then holds the deploy;
#   3. steady: SECONDS later, the REPLICAS replicas checked every second.
# SECONDS should be at least 60 so that the window holds nothing older.
# RSS and threads from /proc/<agent>/status at the same points, RSS split into
# anonymous memory (RssAnon: what the agent allocated, its own) and file pages
# (RssFile: the mapped text and data of the binary and shared libraries, mostly
# page cache shared with other processes and reclaimable).
# Goals (issue 11): lag p99 < 5 ms; RSS <= 15 MB idle, <= 40 MB with 100 replicas.
# Writes bench/results/looplag.md.
set -euo pipefail
cd "$(dirname "$0")/.."
REPLICAS=${1:-100}
SECONDS_MEASURED=${2:-65}
BIN=${BIN:-build/bin}
source bench/lib.sh
T=$(mktemp -d /tmp/zl-bq-XXXX)
NS=bench$$
export_node_env "$T"
ZL=$BIN/zlayer
init_pid=
trap 'cleanup_node "$T"' EXIT

# REPLICAS free ports in a row.
free_base() {
  local base p busy
  while true; do
    base=$((20000 + RANDOM % 20000))
    busy=
    for ((p = base; p < base + REPLICAS; p++)); do
      [[ -n $(ss -Hltn "sport = :$p") ]] && { busy=1; break; }
    done
    [[ -z $busy ]] && { echo "$base"; return; }
  done
}
# One row: "| point | p50 | p99 | max | samples | RSS | anon | file | threads |" (lag in ms, memory in KiB).
row() {
  local point=$1 agent_pid lag
  agent_pid=$(cat "$T/run/zlayer-agent.pid")
  lag=$("$ZL" status -o json | jq -r '.loop_lag |
    "\(.p50 * 1000 * 1000 | round / 1000) | \(.p99 * 1000 * 1000 | round / 1000) | \(.max * 1000 * 1000 | round / 1000) | \(.samples)"')
  echo "| $point | $lag | $(awk '/^(VmRSS|RssAnon|RssFile|Threads):/ {printf "%s%s", sep, $2; sep=" | "}' "/proc/$agent_pid/status") |"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
start_node "$T"
import_busybox "$T"
sleep "$SECONDS_MEASURED"
rows=("$(row "idle, ${SECONDS_MEASURED}s after start-up")")

http_checks_spec "$REPLICAS" "$(free_base)" >"$T/checks.yaml"
start=$(date +%s%N)
"$ZL" deploy --spec "$T/checks.yaml" --wait --timeout 10m >/dev/null
deploy_s=$(awk -v ns=$(($(date +%s%N) - start)) 'BEGIN {printf "%.1f", ns / 1e9}')
rows+=("$(row "$REPLICAS replicas, right after deploy --wait (${deploy_s}s)")")
sleep "$SECONDS_MEASURED"
rows+=("$(row "$REPLICAS replicas, health checks every 1s, ${SECONDS_MEASURED}s later")")
healthy=$("$ZL" ps -o json | jq '[.deployments[].services[].replicas[] | select(.health == "healthy")] | length')
"$ZL" delete checks >/dev/null

mkdir -p bench/results
{
  echo "# agent event-loop lag, RSS and threads ($(date -u +%Y-%m-%d), $(nproc) cores)"
  echo
  echo "Command: \`bench/looplag.sh $REPLICAS $SECONDS_MEASURED\`"
  echo
  echo "Load average when it started (1, 5, 15 min): $load_before."
  echo
  echo "Lag: the agent's own measure (\`zlayer status -o json\` .loop_lag), a timer due every"
  echo "50 ms and how late it ran, over the last minute of samples. Goals (issue 11): p99 < 5 ms;"
  echo "RSS <= 15 MB idle, <= 40 MB with 100 replicas."
  echo
  echo "| point | lag p50 (ms) | lag p99 (ms) | lag max (ms) | samples | agent RSS (KiB) | of it anon (KiB) | of it file (KiB) | agent threads |"
  echo "|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "Replicas healthy at the end: $healthy of $REPLICAS (busybox httpd, an http check every 1s)."
} | tee bench/results/looplag.md
