#!/usr/bin/env bash
# End to end: a control-plane crash never becomes an outage (supervisor contract,
# "Restart with memory" and scenario 8). A workload prints a sequence number every
# 50 ms; zlayer-agent is killed with SIGKILL 20 times and containerd 10 times, each
# 1-3 s after it came back. Afterwards zlayer-init still runs, the workload was never
# restarted (same task pid, no restart recorded), its log holds every number once,
# and whenever the agent or containerd was down `zlayer health` said so.
#
# Pacing: zlayer-init doubles a program's back-off per crash in a row (100 ms up to
# 30 s) and resets it after a 10 s run. The kills come in groups (5 of the agent, then
# 2-3 of containerd) with at least 10 s of running between two groups of the same
# program, so no back-off passes 1.6 s and the test stays near two minutes.
# Needs root.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

start_node_or_finish
check "the test image is imported" import_test_image

cat >"$T/seq.yaml" <<'YAML'
version: v1
deployment: seq
services:
  counter:
    image: {name: "zlayer/busybox:latest", pull_policy: never}
    command:
      entrypoint: ["/bin/sh", "-c", "i=0; while true; do echo \"seq $i\"; i=$((i + 1)); sleep 0.05; done"]
YAML
check "a workload that counts deploys" timeout 60 "$ZL" deploy --spec "$T/seq.yaml" --wait

ID=seq-counter-0
task_pid() { node_ctr tasks ls | awk -v id="$1" '$1 == id && $3 == "RUNNING" {print $2}'; }
workload_pid=$(task_pid $ID)
check "the workload runs" test -n "$workload_pid"
check "its log is being written" wait_for 30 bash -c "'$ZL' logs $ID | grep -q '^seq 1\$'"

# The supervised children as zlayer-init publishes them (common/supervised_children.h).
child_state() { awk -F'\t' -v n="$1" '$1 == n {print $2}' "$ZLAYER_RUN_DIR/children"; }
child_detail() { awk -F'\t' -v n="$1" '$1 == n {print $3}' "$ZLAYER_RUN_DIR/children"; }
child_is_down() { [[ $(child_state "$1") == down ]]; }
# Up again, as a process other than OLD_PID.
child_back() { [[ $(child_state "$1") == up && $(child_detail "$1") != *"(pid $2)" ]]; }
child_pid() { cat "$ZLAYER_RUN_DIR/$1.pid"; }

down_samples=0 healthy_while_down=0
# Once NAME is reported down, `zlayer health` must fail. Only calls made while NAME
# stayed down from before to after the call count (a fast restart leaves no sample).
health_while_down() {
  wait_for 5 child_is_down "$1" || return 0
  "$ZL" health >/dev/null 2>&1
  local rc=$?
  child_is_down "$1" || return 0
  down_samples=$((down_samples + 1))
  if [[ $rc -eq 0 ]]; then
    healthy_while_down=$((healthy_while_down + 1))
    echo "# zlayer health passed while $1 was down ($(child_detail "$1"))"
  fi
}

# zlayer-init runs (an exited one stays a zombie of this script until waited for).
init_alive() { [[ $(ps -o stat= -p "$init_pid") == [^Z]* ]]; }

pause_1_to_3s() {
  local ms=$((1000 + RANDOM % 2001))
  sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
}

declare -A last_start=([zlayer-agent]=$SECONDS [containerd]=$SECONDS)
not_back=0 kills=0
# kill_and_wait_back NAME: SIGKILL to NAME, then wait until it is ready again and the
# node is healthy.
kill_and_wait_back() {
  local name=$1 old
  init_alive || return 1  # zlayer-init gave up: nothing comes back
  old=$(child_pid "$name")
  kill -KILL "$old"
  kills=$((kills + 1))
  health_while_down "$name"
  if ! wait_for 60 child_back "$name" "$old" || ! wait_for 60 "$ZL" health; then
    not_back=$((not_back + 1))
    echo "# $name did not come back after kill $kills: $(child_detail "$name")"
  fi
  last_start[$name]=$SECONDS
}
# Lets NAME's last run reach 10 s, so its back-off starts again at 100 ms.
let_backoff_reset() {
  local left=$((last_start[$1] + 11 - SECONDS))
  [[ $left -gt 0 ]] && sleep "$left"
}

last_before=$("$ZL" logs $ID | grep -o '^seq [0-9]*$' | tail -1 | cut -d' ' -f2)
started=$SECONDS
agent_kills=0 containerd_kills=0
for containerd_group in 3 3 2 2; do
  let_backoff_reset zlayer-agent
  for _ in 1 2 3 4 5; do
    kill_and_wait_back zlayer-agent || break 2
    agent_kills=$((agent_kills + 1))
    pause_1_to_3s
  done
  let_backoff_reset containerd
  for ((k = 0; k < containerd_group; k++)); do
    kill_and_wait_back containerd || break 2
    containerd_kills=$((containerd_kills + 1))
    pause_1_to_3s
  done
done
echo "# $agent_kills kills of zlayer-agent, $containerd_kills of containerd in $((SECONDS - started)) s"

check "zlayer-init is still running" init_alive
check "the agent and containerd came back after every kill" test "$not_back" -eq 0
check "zlayer-init restarted the agent 20 times, never saying it gave up" bash -c \
  "[[ \$(grep -c 'zlayer-agent.*crashed after being ready' '$T/init.err') -eq 20 ]] && ! grep -q 'giving up' '$T/init.err'"
check "zlayer-init restarted containerd 10 times" \
  test "$(grep -c 'containerd (pid [0-9]*) .*crashed after being ready' "$T/init.err")" -eq 10
check "the workload's task is the one started at deploy" test "$(task_pid $ID)" = "$workload_pid"
ps_restarts() {
  "$ZL" ps -o json | jq -e --arg id $ID \
    '[.deployments[].services[].replicas[] | select(.container_id == $id)] | length == 1 and
     all(.[]; (.restart_count // 0 | tonumber) == 0)'
}
check "zlayer ps counts no restart of the workload" ps_restarts
check "zlayer inspect records no restart of the workload" bash -c \
  "'$ZL' inspect $ID -o json | jq -e '(.replicas[0].restart_history // []) | length == 0'"
check "zlayer health reported unhealthy whenever the agent or containerd was down" \
  test "$healthy_while_down" -eq 0
check "and it was asked while they were down (at least once)" test "$down_samples" -ge 1
echo "# $down_samples health calls while down"

"$ZL" logs $ID >"$T/seq.log" 2>&1
numbers() { grep -o '^seq [0-9]*$' "$T/seq.log" | cut -d' ' -f2; }
last=$(numbers | sort -n | tail -1)
echo "# the workload printed up to ${last:-nothing}"
check "the workload kept counting through the kills" test "${last:-0}" -gt "$last_before"
no_gaps() { diff <(numbers | sort -n | uniq) <(seq 0 "$last"); }
check "zlayer logs has every number from 0 to the last, none lost" no_gaps
check "and each number once" bash -c "[[ \$(grep -c '^seq ' '$T/seq.log') -eq $((last + 1)) ]]"

stop_node
check "the node stops cleanly afterwards" test $? -eq 0
finish
