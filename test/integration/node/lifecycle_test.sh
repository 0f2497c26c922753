#!/usr/bin/env bash
# End to end: the workload lifecycle on a whole node (real containerd, runc,
# busybox containers). Crash loops back off (seen in the restart history's
# timestamps, asserted as lower bounds and ordering only), an OOM kill is
# reported as OOMKilled, scale up and down, a rolling update that succeeds and
# one a crashing replica stops (old replicas keep serving), stop-first for
# host ports, tcp/http/command health checks going healthy and unhealthy (and
# the unhealthy replica restarted), a rollout stopped by a failing check,
# depends ordering, a job that completes, and a node stop/start
# that stops containers gracefully and brings every deployment back.
# Needs root.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

start_node_or_finish
check "the test image is imported" import_test_image

ps_json() { "$ZL" ps -o json; }
# replica FIELD ID: a field of one replica from `zlayer ps -o json`.
replica() {
  ps_json | jq -r --arg id "$2" \
    ".deployments[].services[].replicas[] | select(.container_id == \$id) | .$1"
}
task_pid() { node_ctr tasks ls | awk -v id="$1" '$1 == id && $3 == "RUNNING" {print $2}'; }
nanos() { date -d "$1" +%s%N; }
started_at() { "$ZL" inspect "$1" -o json | jq -r '.replicas[0].replica.started_at'; }
export -f ps_json replica task_pid nanos started_at

IMAGE='image: {name: "zlayer/busybox:latest", pull_policy: never}'

# --- a crash loop backs off -------------------------------------------------------
cat >"$T/crash.yaml" <<YAML
version: v1
deployment: crash
services:
  loop:
    $IMAGE
    command: {entrypoint: ["/bin/sh", "-c", "echo started; exit 3"]}
    restart_policy: {kind: on_failure, delay: 200ms}
YAML
"$ZL" deploy --spec "$T/crash.yaml" >/dev/null
check "a crashing replica is restarted again and again" \
  wait_for 30 bash -c "[[ \$('$ZL' inspect crash-loop-0 -o json | jq '.replicas[0].restart_history | length') -ge 5 ]]"
history=$("$ZL" inspect crash-loop-0 -o json | jq -c '.replicas[0].restart_history[0:5]')
check "each restart records the exit code and its cause" \
  jq -e 'all(.[]; .exit.code == 3 and .cause == "exit")' <<<"$history"
backoffs=($(jq -r '.[].backoff' <<<"$history"))
check "the first failure in a row is restarted at once" \
  awk -v b="${backoffs[0]}" 'BEGIN {exit !(b == 0)}'
doubling() {  # every back-off at least 1.8 times the one before (jitter is at most 10%)
  for i in 2 3 4; do
    awk -v a="${backoffs[$((i - 1))]}" -v b="${backoffs[$i]}" 'BEGIN {exit !(b >= 1.8 * a)}' || return 1
  done
}
check "from the second failure the back-off starts at the delay and doubles" \
  bash -c "awk 'BEGIN {exit !(${backoffs[1]} >= 0.2)}' && $(declare -f doubling); backoffs=(${backoffs[*]}); doubling"
waited_enough() {  # each restart came no sooner than its back-off after the exit
  local n exited restarted backoff
  for n in 0 1 2; do
    exited=$(nanos "$(jq -r ".[$n].exit.exited_at" <<<"$history")")
    restarted=$(nanos "$(jq -r ".[$n].restarted_at" <<<"$history")")
    backoff=$(awk -v b="${backoffs[$n]}" 'BEGIN {printf "%d", b * 1e9}')
    [[ $((restarted - exited)) -ge $backoff ]] || return 1
  done
}
check "each restart waited at least its back-off after the exit" waited_enough
in_order() {
  local n previous=0 t
  for n in 0 1 2; do
    t=$(nanos "$(jq -r ".[$n].restarted_at" <<<"$history")")
    [[ $t -gt $previous ]] || return 1
    previous=$t
  done
}
check "restarts happen in order, each after the one before" in_order
check "zlayer ps shows the restart count and the last exit" \
  bash -c "[[ \$(replica restart_count crash-loop-0) -ge 4 && \$(replica last_exit.code crash-loop-0) == 3 ]]"
"$ZL" delete crash >/dev/null

# --- an OOM kill is reported as OOMKilled -----------------------------------------
cat >"$T/oom.yaml" <<YAML
version: v1
deployment: oom
services:
  hog:
    $IMAGE
    command: {entrypoint: ["/bin/sh", "-c", "a=xxxxxxxx; while true; do a=\"\$a\$a\"; done"]}
    resources: {memory: 32Mi}
    restart_policy: {kind: "no"}
YAML
"$ZL" deploy --spec "$T/oom.yaml" >/dev/null
check "a replica killed by the kernel for memory shows OOMKilled" \
  wait_for 60 bash -c "[[ \$(replica last_exit.reason oom-hog-0) == OOMKilled ]]"
check "its exit code is 137 (SIGKILL)" bash -c "[[ \$(replica last_exit.code oom-hog-0) == 137 ]]"
"$ZL" delete oom >/dev/null

# --- scale up and down --------------------------------------------------------------
cat >"$T/workers.yaml" <<YAML
version: v1
deployment: work
services:
  worker:
    $IMAGE
    command: {entrypoint: ["/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"]}
    env: {VERSION: "1"}
    scale: {replicas: 2}
    stop_grace_period: 2s
YAML
check "a two-replica worker deploys" timeout 60 "$ZL" deploy --spec "$T/workers.yaml" --wait
check "zlayer scale up to 4 answers" "$ZL" scale work/worker 4
check "four workers run" wait_for 30 bash -c "[[ -n \$(task_pid work-worker-3) && -n \$(task_pid work-worker-0) ]]"
pid0=$(task_pid work-worker-0)
check "zlayer scale down to 1 answers" "$ZL" scale work/worker 1
check "scaling down stops the highest indexes" wait_for 30 bash -c \
  "[[ -z \$(task_pid work-worker-3) && -z \$(task_pid work-worker-2) && -z \$(task_pid work-worker-1) ]]"
check "the lowest index is untouched" test "$(task_pid work-worker-0)" = "$pid0"
check "scaled-down containers are removed" wait_for 20 bash -c \
  "! node_ctr containers ls -q | grep -q 'work-worker-[123]'"
out=$("$ZL" scale work/nothing 2 2>&1); rc=$?
check "scaling an unknown service fails and names it" bash -c "[[ $rc -eq 1 ]] && grep -q nothing <<<'$out'"
"$ZL" scale work/worker 2 >/dev/null
check "back at two workers" wait_for 30 bash -c "[[ -n \$(task_pid work-worker-1) ]]"

# --- a rolling update that succeeds --------------------------------------------------
old0=$(task_pid work-worker-0); old1=$(task_pid work-worker-1)
sed -i 's/VERSION: "1"/VERSION: "2"/' "$T/workers.yaml"
out=$(timeout 90 "$ZL" deploy --spec "$T/workers.yaml" --wait 2>&1); rc=$?
check "a changed spec rolls out and converges" test "$rc" -eq 0
check "the CLI says the update is rolling" grep -qi rolling <<<"$out"
check "both replicas now run the new spec" bash -c \
  "[[ \$(ps_json | jq '[.deployments[] | select(.name==\"work\") | .services[].replicas[] | select(.generation >= 2 and .state == \"running\")] | length') -eq 2 ]]"
check "the old replicas are gone" bash -c "! kill -0 $old0 2>/dev/null && ! kill -0 $old1 2>/dev/null"

# --- a rolling update stopped by a replica that never becomes ready -------------------
live=$(ps_json | jq -r '.deployments[] | select(.name=="work") | .services[].replicas[].container_id')
live_pids=$(for id in $live; do task_pid "$id"; done)
cat >"$T/broken.yaml" <<YAML
version: v1
deployment: work
services:
  worker:
    $IMAGE
    command: {entrypoint: ["/bin/sh", "-c", "exit 1"]}
    env: {VERSION: "3"}
    scale: {replicas: 2}
    stop_grace_period: 2s
YAML
out=$(timeout 90 "$ZL" deploy --spec "$T/broken.yaml" --wait 2>&1); rc=$?
check "deploy --wait fails when the new replica crashes" test "$rc" -ne 0
check "and says the rollout stopped" grep -qi "rollout stopped" <<<"$out"
still_serving() { for p in $live_pids; do kill -0 "$p" || return 1; done; }
check "the old replicas keep running" still_serving
check "zlayer status says the rollout stopped" bash -c "'$ZL' status | grep -qi 'rollout stopped'"
check "zlayer health WORK is unhealthy, saying the rollout stopped" \
  bash -c "! '$ZL' health work && '$ZL' health work 2>&1 | grep -q 'rollout stopped'"
check "zlayer health (the node) stays healthy" "$ZL" health
"$ZL" delete work >/dev/null

# --- stop-first when host ports would collide ------------------------------------------
PORT=$((20000 + RANDOM % 20000))
cat >"$T/web.yaml" <<YAML
version: v1
deployment: web
services:
  http:
    $IMAGE
    network_mode: host
    command: {entrypoint: ["/bin/httpd"], args: ["-f", "-p", "$PORT", "-h", "/www"]}
    endpoints: [{name: http, protocol: http, port: $PORT}]
    env: {VERSION: "1"}
    stop_grace_period: 1s
YAML
check "a web service deploys" timeout 60 "$ZL" deploy --spec "$T/web.yaml" --wait
sed -i 's/VERSION: "1"/VERSION: "2"/' "$T/web.yaml"
out=$(timeout 60 "$ZL" deploy --spec "$T/web.yaml" --wait 2>&1)
check "its update is stop-first, saying why" bash -c "grep -qi 'stop-first' <<<'$out' && grep -q 'port $PORT' <<<'$out'"
check "the page answers after the update" wait_for 20 bash -c "curl -sf http://127.0.0.1:$PORT/ | grep -q hello"
"$ZL" delete web >/dev/null

# --- depends: a service starts after its dependency ------------------------------------
cat >"$T/deps.yaml" <<YAML
version: v1
deployment: deps
services:
  app:
    $IMAGE
    command: {entrypoint: ["/bin/sh", "-c", "while true; do sleep 1; done"]}
    depends: [{service: db, condition: started}]
  db:
    $IMAGE
    command: {entrypoint: ["/bin/sh", "-c", "sleep 1; while true; do sleep 1; done"]}
YAML
check "a deployment with depends converges" timeout 60 "$ZL" deploy --spec "$T/deps.yaml" --wait
check "the dependent service started after its dependency" bash -c \
  "[[ \$(nanos \$(started_at deps-db-0)) -le \$(nanos \$(started_at deps-app-0)) ]]"
"$ZL" delete deps >/dev/null

# --- a job runs to completion ----------------------------------------------------------
cat >"$T/job.yaml" <<YAML
version: v1
deployment: batch
services:
  once:
    rtype: job
    $IMAGE
    command: {entrypoint: ["/bin/sh", "-c", "echo job done"]}
YAML
check "a job deployment converges" timeout 60 "$ZL" deploy --spec "$T/job.yaml" --wait
check "zlayer ps shows the job completed with exit code 0" bash -c \
  "[[ \$(replica state batch-once-0) == completed && \$(replica last_exit.code batch-once-0) == 0 ]]"
check "the job is not restarted" bash -c "[[ \$(replica restart_count batch-once-0) == 0 ]]"
check "its output is in the logs" bash -c "'$ZL' logs batch-once-0 | grep -q 'job done'"

# --- health checks: tcp, http and command, healthy and unhealthy --------------------
HP=$((20000 + RANDOM % 20000))
cat >"$T/health.yaml" <<YAML
version: v1
deployment: hc
services:
  tcp:
    $IMAGE
    network_mode: host
    # httpd is not PID 1 here, so killing it leaves the container running.
    command: {entrypoint: ["/bin/sh", "-c", "httpd -p $HP -h /www; trap 'exit 0' TERM; while true; do sleep 0.1; done"]}
    health: {start_grace: 0s, interval: 300ms, timeout: 1s, retries: 2, check: {type: tcp, port: $HP}}
  http:
    $IMAGE
    network_mode: host
    command: {entrypoint: ["/bin/httpd"], args: ["-f", "-p", "$((HP + 1))", "-h", "/www"]}
    health:
      start_grace: 0s
      interval: 300ms
      timeout: 1s
      retries: 2
      check: {type: http, url: "http://127.0.0.1:$((HP + 1))/index.html", expect_status: 200}
  cmd:
    $IMAGE
    command: {entrypoint: ["/bin/sh", "-c", "touch /tmp/ok; trap 'exit 0' TERM; while true; do sleep 0.1; done"]}
    health: {start_grace: 0s, interval: 300ms, timeout: 2s, retries: 2, check: {type: command, command: "test -f /tmp/ok"}}
YAML
check "services with tcp, http and command checks converge (healthy)" \
  timeout 60 "$ZL" deploy --spec "$T/health.yaml" --wait
for svc in tcp http cmd; do
  check "the $svc check reports healthy in zlayer ps" \
    bash -c "[[ \$(replica health hc-$svc-0) == healthy ]]"
done
check "zlayer inspect shows the command check's results" bash -c \
  "'$ZL' inspect hc-cmd-0 -o json | jq -e '.replicas[0].health_history | length > 0 and all(.[]; .ok)'"
cmd_pid=$(task_pid hc-cmd-0)
"$ZL" exec hc-cmd-0 -- rm /tmp/ok
check "a failing command check makes the replica unhealthy and it is restarted" \
  wait_for 30 bash -c "[[ \$(replica restart_count hc-cmd-0) -ge 1 ]]"
check "the restart is recorded as caused by the health check" bash -c \
  "'$ZL' inspect hc-cmd-0 -o json | jq -e '.replicas[0].restart_history[0].cause == \"unhealthy\"'"
check "the restarted replica runs in a new task and is healthy again" wait_for 30 bash -c \
  "[[ -n \$(task_pid hc-cmd-0) && \$(task_pid hc-cmd-0) != $cmd_pid && \$(replica health hc-cmd-0) == healthy ]]"
"$ZL" exec hc-tcp-0 -- killall httpd >/dev/null 2>&1
check "a tcp check that cannot connect leads to a restart" \
  wait_for 30 bash -c "[[ \$(replica restart_count hc-tcp-0) -ge 1 ]]"
check "the tcp replica serves again afterwards" wait_for 30 bash -c \
  "[[ \$(replica health hc-tcp-0) == healthy ]] && curl -sf http://127.0.0.1:$HP/ | grep -q hello"
"$ZL" exec hc-http-0 -- rm /www/index.html
check "an http check answered 404 turns unhealthy, and the replica is restarted" \
  wait_for 30 bash -c "[[ \$(replica restart_count hc-http-0) -ge 1 ]]"
"$ZL" delete hc >/dev/null

# --- a rolling update stopped by a failing health check --------------------------------
cat >"$T/ready.yaml" <<YAML
version: v1
deployment: ready
services:
  api:
    $IMAGE
    command: {entrypoint: ["/bin/sh", "-c", "touch /tmp/ready; trap 'exit 0' TERM; while true; do sleep 0.1; done"]}
    env: {VERSION: "1"}
    scale: {replicas: 2}
    stop_grace_period: 2s
    health: {start_grace: 0s, interval: 300ms, retries: 2, check: {type: command, command: "test -f /tmp/ready"}}
YAML
check "a service with a command check converges" timeout 60 "$ZL" deploy --spec "$T/ready.yaml" --wait
ready_pids="$(task_pid ready-api-0) $(task_pid ready-api-1)"
sed -i 's|touch /tmp/ready; ||; s/VERSION: "1"/VERSION: "2"/' "$T/ready.yaml"
out=$(timeout 90 "$ZL" deploy --spec "$T/ready.yaml" --wait 2>&1); rc=$?
check "an update whose new replica never becomes healthy fails deploy --wait" test "$rc" -ne 0
check "it says the rollout stopped because the replica is unhealthy" \
  bash -c "grep -qi 'rollout stopped' <<<'$out' && grep -qi unhealthy <<<'$out'"
old_still_serving() { for p in $ready_pids; do kill -0 "$p" || return 1; done; }
check "the old replicas keep running" old_still_serving
check "the failed new replica is removed" wait_for 20 bash -c \
  "[[ \$(ps_json | jq '[.deployments[] | select(.name==\"ready\") | .services[].replicas[]] | length') -eq 2 ]]"
"$ZL" delete ready >/dev/null

# --- node stop and start: graceful, and everything comes back -----------------------------
cat >"$T/keep.yaml" <<YAML
version: v1
deployment: keep
services:
  polite:
    $IMAGE
    command: {entrypoint: ["/bin/sh", "-c", "trap 'echo got TERM; exit 0' TERM; while true; do sleep 0.1; done"]}
  stubborn:
    $IMAGE
    command: {entrypoint: ["/bin/sh", "-c", "trap '' TERM; while true; do sleep 0.1; done"]}
    stop_grace_period: 1s
YAML
check "a deployment to keep converges" timeout 60 "$ZL" deploy --spec "$T/keep.yaml" --wait
stop_node; rc=$?
check "SIGTERM stops the node with exit code 0" test "$rc" -eq 0
check "the agent stopped the containers itself" grep -q "container(s) stopped" "$T/init.err"
check "a replica that handles SIGTERM got it" grep -q "got TERM" "$T/data/logs/keep-polite-0.log"
check "a replica that ignores SIGTERM was killed after its grace" \
  grep -q "keep-stubborn-0 did not stop within 1s" "$T/init.err"
check "the node starts again on the same data dir" start_node
check "every deployment comes back" wait_for 60 bash -c \
  "[[ \$('$ZL' ps -o json | jq '[.deployments[].services[].replicas[] | select(.state == \"running\" or .state == \"completed\")] | length') -eq 3 ]]"
check "the kept deployment's replicas run again" bash -c \
  "[[ -n \$(task_pid keep-polite-0) && -n \$(task_pid keep-stubborn-0) ]]"

finish
