#!/usr/bin/env bash
# Benchmark: `zlayer deploy --wait` of one replica until its task runs, next to
# `ctr run -d` of the same image, on one node, in one run.
#
#   bench/deploy.sh [RUNS]      (default 10; needs root and a build)
#
# Each zlayer run deploys a new one-replica deployment (a busybox sleeping) and
# stops the clock when `deploy --wait` returns converged (task running); each
# ctr run starts a new container from the same image with `ctr run -d`.
# Writes bench/results/deploy.md.
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
init_pid=
cleanup() {
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

zl=() ct=()
for i in $(seq "$RUNS"); do
  cat >"$T/d$i.yaml" <<YAML
version: v1
deployment: bench$i
services:
  app:
    image: {name: zlayer/busybox:latest, pull_policy: never}
    command: {entrypoint: ["/bin/sleep", "1000"]}
YAML
  t0=$(now_ms)
  "$BIN/zlayer" deploy --spec "$T/d$i.yaml" --wait >/dev/null
  zl+=($(( $(now_ms) - t0 )))
  t0=$(now_ms)
  "${CTR[@]}" run -d docker.io/zlayer/busybox:latest "ctr$i" /bin/sleep 1000 >/dev/null
  ct+=($(( $(now_ms) - t0 )))
done
zm=$(printf '%s\n' "${zl[@]}" | median); cm=$(printf '%s\n' "${ct[@]}" | median)
mkdir -p bench/results
{
  echo "# deploy of one replica vs ctr run -d ($(date -u +%Y-%m-%d), $(nproc) cores, $RUNS runs, medians)"
  echo
  echo "Command: \`bench/deploy.sh $RUNS\`"
  echo
  echo "| measure | zlayer deploy --wait | ctr run -d | ratio |"
  echo "|---|---|---|---|"
  echo "| new container to running task (ms) | $zm | $cm | $(awk "BEGIN {printf \"%.2f\", $zm/$cm}") |"
  echo
  echo "zlayer's time includes the CLI validating the spec, the agent storing it (fsync),"
  echo "reconciling, writing /etc files and reading the image's users, and the progress"
  echo "stream reporting convergence (woken by the reconciler after each plan)."
} | tee bench/results/deploy.md
