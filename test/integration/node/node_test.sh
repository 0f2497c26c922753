#!/usr/bin/env bash
# End to end: a whole node on this host. zlayer-init runs the real containerd
# and the real zlayer-agent in a private directory; the zlayer CLI imports a
# test image, deploys a busybox httpd and a ticker, and the test checks what a
# user would: the page answers, ps and ctr show the containers, logs flow,
# a kill -9 of the agent restarts nothing, delete leaves nothing behind, bad
# input changes nothing. Prints "N passed, M failed"; exits non-zero on any
# failure. Needs root.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

# --- start the node -----------------------------------------------------------
if start_node; then
  pass "zlayer-init starts containerd and the agent, and the node reports ready"
else
  fail "node did not become ready"; cat "$T/init.err"; finish
fi

# --- images ----------------------------------------------------------------------
check "zlayer image import loads an OCI archive" import_test_image
check "zlayer images lists it" bash -c "'$ZL' images | grep -q 'docker.io/zlayer/busybox:latest'"
check "ctr sees the image in the node's namespace" bash -c "${CTR[*]} images ls | grep -q zlayer/busybox"

# --- deploy ---------------------------------------------------------------------
PORT=$((20000 + RANDOM % 20000))
cat >"$T/app.yaml" <<YAML
version: v1
deployment: e2e
services:
  web:
    image:
      name: zlayer/busybox:latest
      pull_policy: never
    network_mode: host
    command:
      entrypoint: ["/bin/httpd"]
      args: ["-f", "-p", "$PORT", "-h", "/www"]
  ticker:
    image:
      name: zlayer/busybox:latest
      pull_policy: never
    command:
      entrypoint: ["/bin/sh", "-c", "i=0; while true; do i=\$((i+1)); echo tick \$i; sleep 0.2; done"]
YAML
check "zlayer deploy --wait converges" timeout 60 "$ZL" deploy --spec "$T/app.yaml" --wait
check "the httpd answers on the node's network" \
  wait_for 20 bash -c "curl -sf http://127.0.0.1:$PORT/ | grep -q 'hello from zlayer'"
check "zlayer ps shows the web replica running" bash -c "'$ZL' ps | grep e2e-web-0 | grep -qi running"
check "zlayer ps -o json is JSON" bash -c "'$ZL' ps -o json | jq -e . >/dev/null"
check "ctr lists both containers" bash -c \
  "${CTR[*]} containers ls | grep -q e2e-web-0 && ${CTR[*]} containers ls | grep -q e2e-ticker-0"
check "containers carry the zlayer labels" bash -c \
  "${CTR[*]} containers info e2e-web-0 | grep -q '\"zlayer.deployment\": \"e2e\"'"
check "zlayer logs shows the ticker's output" \
  wait_for 10 bash -c "'$ZL' logs -n 5 e2e-ticker-0 | grep -q '^tick '"

# --- kill -9 of the agent: nothing restarts, logs go on ---------------------------
task_pid() { "${CTR[@]}" tasks ls | awk -v id="$1" '$1 == id {print $2}'; }
web_pid=$(task_pid e2e-web-0)
ticker_pid=$(task_pid e2e-ticker-0)
last_tick() { "$ZL" logs e2e-ticker-0 2>/dev/null | awk '/^tick/ {n=$2} END {print n+0}'; }
before=$(last_tick)
agent_pid=$(cat "$T/run/zlayer-agent.pid")
kill -9 "$agent_pid"
ready_count() { grep -c "zlayer-agent is ready" "$T/init.err"; }
check "zlayer-init restarts a killed agent" wait_for 30 bash -c "[[ \$(grep -c 'zlayer-agent is ready' '$T/init.err') -ge 2 ]]"
check "the web container kept its pid" test "$(task_pid e2e-web-0)" = "$web_pid"
check "the ticker container kept its pid" test "$(task_pid e2e-ticker-0)" = "$ticker_pid"
sleep 1
log_went_on() { [[ $(last_tick) -gt $before ]]; }
check "the ticker's log continued after the agent restart" log_went_on
check "ticks are not lost across the restart" bash -c \
  "'$ZL' logs e2e-ticker-0 | awk '/^tick/ {if (\$2 != p+1 && p) bad=1; p=\$2} END {exit bad}'"
check "the page still answers" bash -c "curl -sf http://127.0.0.1:$PORT/ | grep -q hello"

# --- bad input changes nothing ------------------------------------------------------
printf 'version: v1\ndeployment: e2e\nservices: [unclosed\n' >"$T/bad.yaml"
out=$("$ZL" deploy --spec "$T/bad.yaml" 2>&1); rc=$?
check "malformed YAML is refused with file:line:column" bash -c "[[ $rc -eq 1 ]] && grep -q 'bad.yaml:[0-9]*:[0-9]*' <<<'$out'"
printf 'version: v1\ndeployment: e2e\nservices:\n  web:\n    image: {name: x}\n    colour: blue\n' >"$T/unknown.yaml"
out=$("$ZL" deploy --spec "$T/unknown.yaml" 2>&1); rc=$?
check "an unknown key is refused, naming it" bash -c "[[ $rc -eq 1 ]] && grep -q colour <<<'$out'"
printf 'version: v1\ndeployment: e2e\nservices:\n  web:\n    image: {name: x}\n    scale: {replicas: many}\n' >"$T/type.yaml"
check "a wrong type is refused" bash -c "! '$ZL' deploy --spec '$T/type.yaml'"
out=$("$ZL" deploy --spec "$T/missing.yaml" 2>&1); rc=$?
check "an unreadable file is refused, naming it" bash -c "[[ $rc -eq 1 ]] && grep -q missing.yaml <<<'$out'"
check "after bad input the deployment still runs its two replicas" bash -c \
  "[[ \$('$ZL' ps | grep -c 'e2e-.*-0') -eq 2 ]]"
cat >"$T/noimage.yaml" <<YAML
version: v1
deployment: ghost
services:
  app:
    image:
      name: nowhere/nothing:1
      pull_policy: never
YAML
"$ZL" deploy --spec "$T/noimage.yaml" >/dev/null 2>&1
check "a missing image is reported on the replica" \
  wait_for 10 bash -c "'$ZL' ps -o json | grep -q 'not on the node'"
check "deleting that deployment works" "$ZL" delete ghost

# --- delete leaves nothing ---------------------------------------------------------
check "zlayer delete removes the deployment" "$ZL" delete e2e
check "no container is left" bash -c "[[ -z \$(${CTR[*]} containers ls -q) ]]"
check "no task is left" bash -c "! ${CTR[*]} tasks ls | grep -q e2e"
check "no container snapshot is left" bash -c "! ${CTR[*]} snapshots ls | grep -q e2e-"
check "no FIFO directory is left" bash -c "! ls '$ZLAYER_STATE_DIR' 2>/dev/null | grep -q e2e"
check "the page is gone" bash -c "! curl -sf --max-time 2 http://127.0.0.1:$PORT/"

# --- the node stops cleanly ----------------------------------------------------------
stop_node; rc=$?
check "SIGTERM stops the node with exit code 0" test "$rc" -eq 0
# pgrep runs from this script, whose own command line does not name $T.
no_node_process_left() { ! pgrep -f -- "$T/" >/dev/null; }
check "no process of the node is left" no_node_process_left

finish
