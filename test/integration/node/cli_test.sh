#!/usr/bin/env bash
# End to end: what the CLI tells a user about a whole node (real containerd, runc,
# busybox containers). `zlayer health` reports the node and stays healthy beside a
# crash-looping deployment, which `zlayer health DEPLOYMENT` reports with the failing
# replica; `deploy --wait` of a crash loop ends, and --timeout ends a wait without
# progress; status counts agree with ps and images; -o json speaks the table's words,
# numbers, seconds and RFC 3339 (checked with jq); image import reads, it does not
# fetch; adopted replicas keep their uptime across an agent restart. Prints "N passed, M failed"; exits non-zero on any failure. Needs root.
# Host ports: 18300-18399 only.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

start_node_or_finish
"$ROOT/scripts/build-test-image.sh" --format oci-archive "$T/busybox.tar" >/dev/null 2>&1
out=$("$ZL" image import "$T/busybox.tar" 2>&1); rc=$?
check "the test image is imported" test "$rc" -eq 0
check "image import says it reads the file (no fetching, nothing resumed)" \
  bash -c "grep -q 'reading' <<<'$out' && ! grep -Eq 'fetching|resuming' <<<'$out'"

IMAGE='image: {name: "zlayer/busybox:latest", pull_policy: never}'
# out_of CMD...: runs CMD, leaves its stdout+stderr in $out and its exit code in $rc.
out_of() { out=$("$@" 2>&1); rc=$?; }

# --- health: the node, and a deployment -----------------------------------------------
cat >"$T/steady.yaml" <<YAML
version: v1
deployment: steady
services:
  tick:
    $IMAGE
    command: {entrypoint: ["/bin/sh", "-c", "while true; do sleep 1; done"]}
YAML
cat >"$T/crash.yaml" <<YAML
version: v1
deployment: crash
services:
  boom:
    $IMAGE
    command: {entrypoint: ["/bin/sh", "-c", "exit 1"]}
    restart_policy: {kind: always, delay: 100ms}
YAML
# One that crashes until its restart policy gives up: `failed` for good.
cat >"$T/gaveup.yaml" <<YAML
version: v1
deployment: gaveup
services:
  once:
    $IMAGE
    command: {entrypoint: ["/bin/sh", "-c", "exit 2"]}
    restart_policy: {kind: on_failure, max_attempts: 1, delay: 100ms}
YAML
"$ZL" deploy --spec "$T/steady.yaml" >/dev/null
"$ZL" deploy --spec "$T/crash.yaml" >/dev/null
"$ZL" deploy --spec "$T/gaveup.yaml" >/dev/null
check "the crash-looping replica has restarted" \
  wait_for 30 bash -c "'$ZL' inspect crash-boom-0 | grep -q 'state: .*[1-9][0-9]* restart'"
check "the replica whose policy gave up is failed" \
  wait_for 30 bash -c "'$ZL' ps gaveup | grep gaveup-once-0 | grep -q failed"
out_of "$ZL" health
check "zlayer health reports the node healthy beside crash-looping and failed deployments (exit 0)" \
  test "$rc" -eq 0 -a "$out" = healthy
out_of "$ZL" health gaveup
check "zlayer health GAVEUP exits 1: replica failed, last exit 2" \
  bash -c "[[ $rc -eq 1 ]] && grep -q 'replica gaveup-once-0 failed, 1 restart, last exit 2 (Error)' <<<'$out'"
"$ZL" delete gaveup >/dev/null
check "zlayer health STEADY exits 0 for a converged deployment" \
  wait_for 20 "$ZL" health steady
out_of "$ZL" health steady
check "  and says it is converged" grep -q "deployment steady: converged, 1 replica running" <<<"$out"
crash_health() {
  out_of "$ZL" health crash
  [[ $rc -eq 1 ]] && grep -q "replica crash-boom-0" <<<"$out" && grep -q "last exit 1 (Error)" <<<"$out"
}
check "zlayer health CRASH exits 1 naming the replica and its last exit" wait_for 20 crash_health
check "  and its restart count" grep -Eq "[0-9]+ restarts?" <<<"$out"
out_of "$ZL" health nosuch
check "zlayer health of an unknown deployment exits 1 and says so" \
  bash -c "[[ $rc -eq 1 ]] && grep -q 'deployment nosuch not found' <<<'$out'"
"$ZL" delete crash >/dev/null

# --- deploy --wait ends ----------------------------------------------------------------
sed 's/deployment: crash/deployment: crashwait/' "$T/crash.yaml" >"$T/crashwait.yaml"
out_of timeout 120 "$ZL" deploy --spec "$T/crashwait.yaml" --wait
check "deploy --wait of a crash-looping service ends with exit 1" test "$rc" -eq 1
check "  naming the replica" grep -q "replica crashwait-boom-0" <<<"$out"
check "  its last exit" grep -q "last exit 1" <<<"$out"
check "  and its restart count" grep -Eq "[0-9]+ restarts.*failed [0-9]+ times before it was ever ready" <<<"$out"
"$ZL" delete crashwait >/dev/null

# A replica whose health check stays `starting` (a long start grace): no progress.
cat >"$T/slow.yaml" <<YAML
version: v1
deployment: slow
services:
  idle:
    $IMAGE
    command: {entrypoint: ["/bin/sh", "-c", "while true; do sleep 1; done"]}
    health: {start_grace: 10m, interval: 1s, timeout: 1s, retries: 1, check: {type: tcp, port: 18301}}
YAML
out_of timeout 60 "$ZL" deploy --spec "$T/slow.yaml" --wait --timeout 3s
check "deploy --wait --timeout 3s ends with exit 1 at the deadline" test "$rc" -eq 1
check "  saying there was no progress for 3s, and why" \
  grep -q "no progress for 3s: replica slow-idle-0 running, starting, 0 restarts" <<<"$out"
"$ZL" delete slow >/dev/null

# --- counts, and -o json for scripts ----------------------------------------------------
# Left on the node: deployment steady (one service, one replica), one image.
check "zlayer status counts one deployment with one service" \
  bash -c "'$ZL' status | grep -Eq '^deployments: +1 \(1 service\)$'"
check "zlayer status counts the image zlayer images lists" \
  bash -c "'$ZL' status | grep -Eq '^images: +1$' && [[ \$('$ZL' images | tail -n +2 | wc -l) -eq 1 ]]"
check "zlayer status counts the replica zlayer ps lists, running" \
  bash -c "'$ZL' status | grep -Eq '^replicas: +1 of 1 running, 0 failing$' && [[ \$('$ZL' ps | tail -n +2 | grep -c .) -eq 1 ]]"
check "status -o json: counts as numbers that agree with ps and images" bash -c "
  '$ZL' status -o json | jq -e --argjson images \"\$('$ZL' images -o json | jq '.images | length')\" \
    --argjson replicas \"\$('$ZL' ps -o json | jq '[.deployments[].services[].replicas[]] | length')\" \
    '.counts == {deployments: 1, services: 1, replicas_desired: 1, replicas_running: \$replicas,
                 replicas_failing: 0, images: \$images}'"
RFC3339='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?Z$'
check "ps -o json: the table's words, numbers as numbers, seconds, RFC 3339" bash -c "
  '$ZL' ps -o json | jq -e '.deployments[0] | .phase == \"converged\" and (.generation | type) == \"number\"
    and (.services[0].replicas[0] | .state == \"running\" and .health == null
         and (.generation | type) == \"number\" and (.uptime | type) == \"number\"
         and (.started_at | test(\"$RFC3339\")))'"
check "status -o json: agent uptime in seconds, phases as words" bash -c "
  '$ZL' status -o json | jq -e '(.agent_uptime | type) == \"number\" and .deployments[0].phase == \"converged\"
    and (.deployments[0].generation | type) == \"number\" and (.agent_started_at | test(\"$RFC3339\"))'"
check "images -o json: sizes as numbers" \
  bash -c "'$ZL' images -o json | jq -e '.images[0] | (.size | type) == \"number\" and .unpacked == true'"
check "inspect -o json: durations in seconds, states as words" bash -c "
  '$ZL' inspect steady-tick-0 -o json | jq -e '.replicas[0] | .replica.state == \"running\"
    and (.config.stop_grace_period | type) == \"number\" and (.config.labels | type) == \"object\"'"
cat >"$T/checked.yaml" <<YAML
version: v1
deployment: checked
services:
  web:
    $IMAGE
    command: {entrypoint: ["/bin/httpd"], args: ["-f", "-p", "18302", "-h", "/www"]}
    health: {start_grace: 0s, interval: 300ms, timeout: 1s, retries: 2, check: {type: tcp, port: 18302}}
YAML
check "a service with a health check converges" timeout 60 "$ZL" deploy --spec "$T/checked.yaml" --wait
check "ps -o json: its health reads healthy" \
  bash -c "'$ZL' ps checked -o json | jq -e '.deployments[0].services[0].replicas[0].health == \"healthy\"'"
"$ZL" delete checked >/dev/null

# --- uptime of adopted replicas after an agent restart ------------------------------------
started_before=$("$ZL" ps steady -o json | jq -r '.deployments[0].services[0].replicas[0].started_at')
kill -9 "$(cat "$T/run/zlayer-agent.pid")"
check "zlayer-init restarts the killed agent" \
  wait_for 30 bash -c "[[ \$(grep -c 'zlayer-agent is ready' '$T/init.err') -ge 2 ]]"
uptime_cell() { "$ZL" ps steady | awk '$1 == "steady-tick-0" {print $9}'; }
check "after the restart, ps shows the adopted replica's uptime, not -" \
  bash -c "u=\$($(declare -f uptime_cell); ZL='$ZL' uptime_cell); [[ -n \$u && \$u != - ]]"
started_after=$("$ZL" ps steady -o json | jq -r '.deployments[0].services[0].replicas[0].started_at')
same_start() {  # the kernel's record (made when runc created the task) is within a second of the agent's
  local a b; a=$(date -d "$started_before" +%s%N); b=$(date -d "$started_after" +%s%N)
  (( (a > b ? a - b : b - a) < 1000000000 ))
}
check "  counted from when the task started, not from the agent's restart" same_start

finish
