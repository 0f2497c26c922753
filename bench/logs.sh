#!/usr/bin/env bash
# Benchmark: container log throughput, in one run.
#
#   bench/logs.sh [MIB]   (default 1024; root, a build)
#
# A busybox container writes MIB MiB of 100-byte lines (10,000 lines are made
# once with `yes | head`, then `cat` repeatedly) to its stdout, three ways:
#   1. as a zlayer service (rtype job): the agent drains it into its json-file
#      log (ZLAYER_LOG_MAX_SIZE/FILES at their defaults, so it rotates);
#   2. `ctr run` in the foreground with its stdout redirected to a file;
#   3. `ctr run` with the container writing to /dev/null itself (what the
#      container can produce with nobody reading).
# Each time runs from the start command until the last line is where it goes
# (zlayer: the end marker is in the log file; ctr: ctr exits), so each
# includes creating and starting the container (~0.1-0.2 s). CPU: the
# agent's utime+stime (/proc/<pid>/stat) over its run; ctr's (and its
# children's) from bash `times`. The shim's CPU is in neither.
# Writes bench/results/logs.md.
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${1:-1024}
BIN=${BIN:-build/bin}
T=$(mktemp -d /tmp/zl-bg-XXXX)
NS=bench$$
export ZLAYER_RUN_DIR=$T/run ZLAYER_DATA_DIR=$T/data ZLAYER_STATE_DIR=$T/data/containers \
  ZLAYER_CONTAINERD_ROOT=$T/root ZLAYER_CONTAINERD_STATE=$T/state CONTAINERD_SOCKET=$T/c.sock \
  ZLAYER_SOCKET=$T/run/agent.sock ZLAYER_NAMESPACE=$NS
CTR=(ctr --address "$T/c.sock" -n "$NS")
ZL=$BIN/zlayer
IMAGE=docker.io/zlayer/busybox:latest
init_pid=
cleanup() {
  [[ -n $init_pid ]] && kill -TERM "$init_pid" 2>/dev/null && wait "$init_pid" 2>/dev/null
  pkill -KILL -f "$T/c.sock" 2>/dev/null || true
  grep " $T/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "/run/containerd/runc/$NS" "$T"
}
trap cleanup EXIT

CHUNKS=$(((MIB * 1048576 + 999999) / 1000000))  # chunks of 10,000 lines of 100 bytes
BYTES=$((CHUNKS * 1000000))
LINE=$(printf 'x%.0s' $(seq 99))
# The container's script: the output, then END-OF-BENCH.
GEN="yes $LINE | head -n 10000 >/tmp/chunk; i=0; while [ \$i -lt $CHUNKS ]; do cat /tmp/chunk; i=\$((i+1)); done"
now_ns() { date +%s%N; }
mib_s() { awk -v b="$BYTES" -v ns="$1" 'BEGIN {printf "%.0f", b / 1048576 / (ns / 1e9)}'; }
cpu_per_gib() { awk -v s="$1" -v b="$BYTES" 'BEGIN {printf "%.2f", s / (b / 1073741824)}'; }

"$BIN/zlayer-init" serve >"$T/init.out" 2>"$T/init.err" &
init_pid=$!
until grep -q "node is ready" "$T/init.err"; do sleep 0.05; done
scripts/build-test-image.sh --format oci-archive "$T/bb.tar" >/dev/null 2>&1
"$ZL" image import "$T/bb.tar" >/dev/null
agent_pid=$(cat "$T/run/zlayer-agent.pid")
hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# --- 1. zlayer ---------------------------------------------------------------------
cat >"$T/job.yaml" <<YAML
version: v1
deployment: logbench
services:
  gen:
    rtype: job
    image: {name: zlayer/busybox:latest, pull_policy: never}
    command:
      entrypoint: ["/bin/sh", "-c", "$GEN; echo END-OF-BENCH"]
YAML
LOG=$T/data/logs/logbench-gen-0.log
a0=$(cpu_ticks "$agent_pid")
t0=$(now_ns)
"$ZL" deploy --spec "$T/job.yaml" >/dev/null
until [[ -f $LOG ]] && tail -c 200 "$LOG" | grep -q END-OF-BENCH; do sleep 0.02; done
t1=$(now_ns)
a1=$(cpu_ticks "$agent_pid")
zl_ns=$((t1 - t0))
zl_cpu=$(awk -v d=$((a1 - a0)) -v hz="$hz" 'BEGIN {printf "%.2f", d / hz}')
lost=$(grep -c "log lines are being lost" "$T/init.err" || true)
"$ZL" delete logbench >/dev/null

# --- 2. ctr run, output to a file --------------------------------------------------
# Prints "<ns> <cpu seconds of ctr and its children>".
ctr_run() {  # ctr_run ID SCRIPT OUTPUT
  (
    t0=$(now_ns)
    "${CTR[@]}" run --rm "$IMAGE" "$1" /bin/sh -c "$2" >"$3"
    t1=$(now_ns)
    times >"$T/times.$1"  # in this shell: a pipe would run it in a subshell without children
    cpu=$(awk 'NR == 2 {gsub(/[ms]/, " "); print $1 * 60 + $2 + $3 * 60 + $4}' "$T/times.$1")
    echo "$((t1 - t0)) $cpu"
  )
}
read -r ctr_ns ctr_cpu < <(ctr_run logbench-ctr "$GEN" "$T/ctr.out")
ctr_bytes=$(stat -c %s "$T/ctr.out")
rm -f "$T/ctr.out"

# --- 3. the container writing to /dev/null -----------------------------------------
read -r null_ns _ < <(ctr_run logbench-null "{ $GEN; } >/dev/null" /dev/null)

mkdir -p bench/results
{
  echo "# container log throughput ($(date -u +%Y-%m-%d), $(nproc) cores)"
  echo
  echo "Command: \`bench/logs.sh $MIB\`"
  echo
  echo "$BYTES bytes ($CHUNKS x 10,000 lines of 100 bytes) written by a busybox container"
  echo "to its stdout; time from the start command until the last line is in place."
  echo
  echo "| path | MiB/s | CPU-seconds per GiB |"
  echo "|---|---|---|"
  echo "| zlayer service → agent → json-file log (agent CPU) | $(mib_s $zl_ns) | $(cpu_per_gib "$zl_cpu") |"
  echo "| \`ctr run\` → file (ctr CPU) | $(mib_s $ctr_ns) | $(cpu_per_gib "$ctr_cpu") |"
  echo "| container → /dev/null | $(mib_s $null_ns) | - |"
  echo
  echo "ctr wrote $ctr_bytes bytes; the agent reported lost log lines $lost times."
  echo "The zlayer log is Docker's json-file format (about 1.6x the bytes), rotated at"
  echo "the default ZLAYER_LOG_MAX_SIZE (10Mi), ZLAYER_LOG_MAX_FILES 3."
} | tee bench/results/logs.md
