#!/usr/bin/env bash
# End to end: how replicas are stopped, on a whole node (real containerd, runc).
#   - An image's STOPSIGNAL (SIGQUIT here) is what stops its replicas when the
#     service names no stop_signal (scale-down, delete), and
#     `zlayer inspect` shows it; a service's stop_signal wins over it.
#   - A node stop with 20 replicas, 5 of which ignore SIGTERM, exits 0 and
#     leaves nothing on the host: no runc state of the namespace, no
#     container cgroups.
#   - After an unclean stop (the agent killed in the middle of its shutdown,
#     the shims swept), the next start brings every replica back and leaves
#     no runc state or cgroup of a container without a task.
# Needs root. Uses no host ports.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

start_node_or_finish
check "the test image is imported" import_test_image
quit_image() {
  "$ROOT/scripts/build-test-image.sh" --name zlayer/quitter --stop-signal SIGQUIT \
    --format oci-archive "$T/quitter.tar" >/dev/null 2>&1 && "$ZL" image import "$T/quitter.tar" >/dev/null
}
check "an image whose STOPSIGNAL is SIGQUIT is imported" quit_image

task_pid() { node_ctr tasks ls | awk -v id="$1" '$1 == id && $3 == "RUNNING" {print $2}'; }
running_count() { node_ctr tasks ls | awk '$3 == "RUNNING"' | wc -l; }
# The runc state entries and container cgroups of this node's namespace.
runc_entries() { ls "/run/containerd/runc/$NS" 2>/dev/null | wc -l; }
cgroup_dirs() {
  find /sys/fs/cgroup -mindepth 2 -maxdepth 3 -type d -path "*/$NS/*" 2>/dev/null | wc -l
}
export -f task_pid running_count runc_entries cgroup_dirs

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

# --- a node stop leaves nothing behind -----------------------------------------------
cat >"$T/many.yaml" <<YAML
version: v1
deployment: many
services:
  polite:
    image: {name: "zlayer/busybox:latest", pull_policy: never}
    command: {entrypoint: ["/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"]}
    scale: {replicas: 15}
  stubborn:
    image: {name: "zlayer/busybox:latest", pull_policy: never}
    command: {entrypoint: ["/bin/sh", "-c", "trap '' TERM; while true; do sleep 0.1; done"]}
    scale: {replicas: 5}
YAML
check "20 replicas, 5 of which ignore SIGTERM, converge" \
  timeout 120 "$ZL" deploy --spec "$T/many.yaml" --wait
check "they have runc state while they run" bash -c "[[ \$(runc_entries) -eq 20 ]]"
stop_node; rc=$?
check "SIGTERM stops the node with exit code 0" test "$rc" -eq 0
check "the agent stopped every container itself, inside its share of the deadline" bash -c \
  "grep -q '20 container(s) stopped' '$T/init.err' && ! grep -q 'zlayer-agent (pid [0-9]*) did not stop in time' '$T/init.err'"
check "no runc state of the namespace is left" bash -c "[[ \$(runc_entries) -eq 0 ]]"
check "no container cgroup is left" bash -c "[[ \$(cgroup_dirs) -eq 0 ]]"

# --- a start after an unclean stop cleans up --------------------------------------------
check "the node starts again" start_node
check "the 20 replicas come back" wait_for 120 bash -c "[[ \$(running_count) -eq 20 ]]"
agent_pid=$(cat "$T/run/zlayer-agent.pid")
kill -TERM "$init_pid"
wait_for 10 grep -q "stopping (SIGTERM)" "$T/init.err"
kill -KILL "$agent_pid"
wait "$init_pid"; init_pid=
check "an agent killed during its shutdown leaves runc state behind" bash -c "[[ \$(runc_entries) -gt 0 ]]"
check "the node starts after the unclean stop" start_node
check "every replica runs again after the unclean stop" wait_for 120 bash -c "[[ \$(running_count) -eq 20 ]]"
check "no runc state is left of a container without a task" bash -c "[[ \$(runc_entries) -eq 20 ]]"
check "no cgroup is left of a container without a task" bash -c \
  "for d in \$(find /sys/fs/cgroup -mindepth 2 -maxdepth 3 -type d -path '*/$NS/*'); do
     [[ -n \$(task_pid \$(basename \$d)) ]] || exit 1; done"
timeout 60 "$ZL" delete many >/dev/null
stop_node; rc=$?
check "after a delete and a clean stop nothing is left" bash -c \
  "[[ $rc -eq 0 && \$(runc_entries) -eq 0 && \$(cgroup_dirs) -eq 0 ]]"

finish
