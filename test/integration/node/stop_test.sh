#!/usr/bin/env bash
# End to end: how replicas are stopped, on a whole node (real containerd, runc).
#   - An image's STOPSIGNAL (SIGQUIT here) is what stops its replicas when the
#     service names no stop_signal (scale-down, delete), and
#     `zlayer inspect` shows it; a service's stop_signal wins over it.
# Needs root. Uses no host ports.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

if start_node; then
  pass "the node starts"
else
  fail "node did not become ready"; cat "$T/init.err"; finish
fi
check "the test image is imported" import_test_image
quit_image() {
  "$ROOT/scripts/build-test-image.sh" --name zlayer/quitter --stop-signal SIGQUIT \
    --format oci-archive "$T/quitter.tar" >/dev/null 2>&1 && "$ZL" image import "$T/quitter.tar" >/dev/null
}
check "an image whose STOPSIGNAL is SIGQUIT is imported" quit_image

task_pid() { node_ctr tasks ls | awk -v id="$1" '$1 == id && $3 == "RUNNING" {print $2}'; }
export -f task_pid

# --- the image's STOPSIGNAL --------------------------------------------------------
mkdir -p "$T/sig"
cat >"$T/sig.yaml" <<YAML
version: v1
deployment: sig
services:
  quit:
    image: {name: "zlayer/quitter:latest", pull_policy: never}
    command: {entrypoint: ["/bin/sh", "-c", "trap 'echo QUIT >>/sig/quit; exit 0' QUIT; trap 'echo TERM >>/sig/quit; exit 0' TERM; while true; do sleep 0.1; done"]}
    scale: {replicas: 2}
    stop_grace_period: 5s
    storage: [{type: bind, source: "$T/sig", target: /sig}]
  int:
    image: {name: "zlayer/quitter:latest", pull_policy: never}
    command: {entrypoint: ["/bin/sh", "-c", "trap 'echo INT >>/sig/int; exit 0' INT; trap 'echo QUIT >>/sig/int; exit 0' QUIT; while true; do sleep 0.1; done"]}
    stop_signal: SIGINT
    stop_grace_period: 5s
    storage: [{type: bind, source: "$T/sig", target: /sig}]
YAML
check "a deployment of the SIGQUIT image converges" timeout 60 "$ZL" deploy --spec "$T/sig.yaml" --wait
check "zlayer inspect shows the image's STOPSIGNAL as the stop signal" bash -c \
  "[[ \$('$ZL' inspect sig-quit-0 -o json | jq -r '.replicas[0].config.stop_signal') == SIGQUIT ]]"
check "zlayer inspect shows the service's stop_signal where it names one" bash -c \
  "[[ \$('$ZL' inspect sig-int-0 -o json | jq -r '.replicas[0].config.stop_signal') == SIGINT ]]"
"$ZL" scale sig/quit 1 >/dev/null
check "scaling down stops the replica with the image's STOPSIGNAL" \
  wait_for 20 bash -c "[[ \$(cat '$T/sig/quit' 2>/dev/null) == QUIT ]]"
check "deleting stops with the image's STOPSIGNAL, and the service's own signal wins" bash -c \
  "timeout 60 '$ZL' delete sig >/dev/null && [[ \$(sort '$T/sig/quit' | uniq -c | awk '{print \$1, \$2}') == '2 QUIT' ]] &&
   [[ \$(cat '$T/sig/int') == INT ]]"

finish
