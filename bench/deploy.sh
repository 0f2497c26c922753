#!/usr/bin/env bash
# Benchmark: `zlayer deploy` of one replica until its task runs, next to
# `ctr run -d` of the same image, on one node, in one run.
#
#   bench/deploy.sh [RUNS]      (default 10; needs root and a build)
#
# Each zlayer run deploys a new one-replica deployment (a busybox sleeping): once
# without --wait, the clock stopped at containerd's own /tasks/start event of the
# replica (its timestamp, from `ctr events`); once with --wait, stopped when it
# returns (a replica without a health check counts as ready after running 1 s, as in
# a rollout). Each ctr run starts a new container with `ctr run -d`, which returns
# once the task has started. Writes bench/results/deploy.md.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-10}
BIN=${BIN:-build/bin}
T=$(mktemp -d /tmp/zl-bd-XXXX)
NS=bench$$
export ZLAYER_RUN_DIR=$T/run ZLAYER_DATA_DIR=$T/data ZLAYER_STATE_DIR=$T/data/containers \
  ZLAYER_CONTAINERD_ROOT=$T/root ZLAYER_CONTAINERD_STATE=$T/state CONTAINERD_SOCKET=$T/c.sock \
  ZLAYER_SOCKET=$T/run/agent.sock ZLAYER_NAMESPACE=$NS
CTR=(ctr --address "$T/c.sock" -n "$NS")
init_pid= events_pid=
cleanup() {
  [[ -n $events_pid ]] && kill "$events_pid" 2>/dev/null
  [[ -n $init_pid ]] && kill -TERM "$init_pid" 2>/dev/null && wait "$init_pid" 2>/dev/null
  pkill -KILL -f "$T/c.sock" 2>/dev/null || true
  grep " $T/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "/run/containerd/runc/$NS" "$T"
}
trap cleanup EXIT
now_ms() { date +%s%3N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

"$BIN/zlayer-init" serve >"$T/init.out" 2>"$T/init.err" &
init_pid=$!
until grep -q "node is ready" "$T/init.err"; do sleep 0.05; done
scripts/build-test-image.sh --format oci-archive "$T/bb.tar" >/dev/null 2>&1
"$BIN/zlayer" image import "$T/bb.tar" >/dev/null
"${CTR[@]}" events >"$T/events.log" 2>/dev/null &
events_pid=$!
# Seconds since midnight UTC: now, and of container $1's /tasks/start event.
now_tod() { date -u +%H:%M:%S.%N | awk -F: '{printf "%.6f\n", $1 * 3600 + $2 * 60 + $3}'; }
started_tod() {
  awk -v id="\"container_id\":\"$1\"" 'index($0, id) && /\/tasks\/start/ {
    split($2, hms, ":"); printf "%.6f\n", hms[1] * 3600 + hms[2] * 60 + hms[3]; exit }' "$T/events.log"
}
zl=() zw=() ct=()
for i in $(seq "$RUNS"); do
  cat >"$T/d$i.yaml" <<YAML
version: v1
deployment: bench$i
services:
  app:
    image: {name: zlayer/busybox:latest, pull_policy: never}
    command: {entrypoint: ["/bin/sleep", "1000"]}
YAML
  t0=$(now_tod)
  "$BIN/zlayer" deploy --spec "$T/d$i.yaml" >/dev/null
  until t1=$(started_tod "bench$i-app-0") && [[ -n $t1 ]]; do sleep 0.02; done
  zl+=($(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", (b - a) * 1000}'))
  sed "s/deployment: bench$i/deployment: wait$i/" "$T/d$i.yaml" >"$T/w$i.yaml"
  t0=$(now_ms)
  "$BIN/zlayer" deploy --spec "$T/w$i.yaml" --wait >/dev/null
  zw+=($(( $(now_ms) - t0 )))
  t0=$(now_ms)
  "${CTR[@]}" run -d docker.io/zlayer/busybox:latest "ctr$i" /bin/sleep 1000 >/dev/null
  ct+=($(( $(now_ms) - t0 )))
done
zm=$(printf '%s\n' "${zl[@]}" | median); cm=$(printf '%s\n' "${ct[@]}" | median)
wm=$(printf '%s\n' "${zw[@]}" | median)
mkdir -p bench/results
{
  echo "# deploy of one replica vs ctr run -d ($(date -u +%Y-%m-%d), $(nproc) cores, $RUNS runs, medians)"
  echo
  echo "Command: \`bench/deploy.sh $RUNS\`"
  echo
  echo "| measure | zlayer | ctr run -d | ratio |"
  echo "|---|---|---|---|"
  echo "| \`deploy\` to the replica's task started (containerd's event) (ms) | $zm | $cm | $(awk "BEGIN {printf \"%.2f\", $zm/$cm}") |"
  echo "| \`deploy --wait\` to its return: started and ready (ms) | $wm | | |"
  echo
  echo "zlayer's time includes the CLI validating the spec, the agent storing it (fsync),"
  echo "reconciling, writing /etc files and reading the image's users. \`deploy --wait\`"
  echo "returns once the replica is ready: without a health check, after it has kept"
  echo "running for 1 s (the rule a rollout uses; a crash loop is never reported ready)."
} | tee bench/results/deploy.md
