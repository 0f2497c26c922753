# Shared by the node's end-to-end scripts (source it): TAP-like checks, and a
# whole node (zlayer-init → containerd + zlayer-agent) in a private /tmp/zl-XXXX
# directory with its own containerd namespace, removed again on exit.
#   ROOT, BIN, ZL   the repository, the binaries, the CLI
#   T, NS, CTR      the node's directory, namespace, and ctr for it
#   start_node      starts zlayer-init serve and waits for "node is ready"
#   start_node_or_finish   the same as the script's first check; ends the script on failure
#   stop_node       SIGTERM to zlayer-init; returns its exit code
#   finish          prints "N passed, M failed" and exits non-zero on failures
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
BIN=${ZLAYER_BIN_DIR:-$ROOT/build/bin}
ZL=$BIN/zlayer

source "$ROOT/test/support/checks.sh"
source "$ROOT/test/support/node_network.sh"
finish() {
  echo "$passed passed, $failed failed"
  [[ $failed -eq 0 ]]
  exit
}

T=$(mktemp -d /tmp/zl-XXXX)
NS=e2e$$
export ZLAYER_RUN_DIR=$T/run ZLAYER_DATA_DIR=$T/data ZLAYER_STATE_DIR=$T/data/containers \
  ZLAYER_CONTAINERD_ROOT=$T/root ZLAYER_CONTAINERD_STATE=$T/state CONTAINERD_SOCKET=$T/c.sock \
  ZLAYER_SOCKET=$T/run/agent.sock ZLAYER_NAMESPACE=$NS ZLAYER_WATCHDOG_TIMEOUT=10s
# Address ranges of its own, so that its bridges, nftables table and dnsmasq never meet
# another node's on this host (a script may set others after sourcing this file).
export ZLAYER_NETWORK_CIDR=10.$((150 + $$ % 50)).0.0/16 ZLAYER_SERVICE_CIDR=10.$((100 + $$ % 50)).0.0/16
# Its public listeners on a loopback address of its own (scripts may set another).
export ZLAYER_INGRESS_ADDRESS=127.$((100 + $$ % 100)).$(($$ / 100 % 250 + 1)).1
CTR=(ctr --address "$T/c.sock" -n "$NS")
export T NS ZL BIN ROOT
# ctr for this node; a function, so `bash -c` checks can use it too.
node_ctr() { ctr --address "$T/c.sock" -n "$NS" "$@"; }
export -f node_ctr wait_for
init_pid=

cleanup() {
  if [[ -n $init_pid ]] && kill -0 "$init_pid" 2>/dev/null; then
    kill -TERM "$init_pid"; wait "$init_pid" 2>/dev/null
  fi
  # Anything of this node still around (a failed test): shims, containers.
  pkill -KILL -f "$T/c.sock" 2>/dev/null
  grep " $T/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
  rm -rf "/run/containerd/runc/$NS" "$T"
  remove_node_network "$ZLAYER_NETWORK_CIDR"
}
trap cleanup EXIT

start_node() {
  local ready_before
  ready_before=$(grep -c "node is ready" "$T/init.err" 2>/dev/null)
  "$BIN/zlayer-init" serve >>"$T/init.out" 2>>"$T/init.err" &
  init_pid=$!
  wait_for 60 bash -c "[[ \$(grep -c 'node is ready' '$T/init.err') -gt ${ready_before:-0} ]]"
}

# The first check of every script: without a node nothing else can run, so a node that
# does not come up ends the script with its log.
start_node_or_finish() {
  if start_node; then
    pass "the node starts"
  else
    fail "node did not become ready"; cat "$T/init.err"; finish
  fi
}

stop_node() {
  local rc
  kill -TERM "$init_pid"; wait "$init_pid"; rc=$?; init_pid=
  return $rc
}

# The test image (busybox with /www/index.html), imported into the node.
import_test_image() {
  "$ROOT/scripts/build-test-image.sh" --format oci-archive "$T/busybox.tar" >/dev/null 2>&1 &&
    "$ZL" image import "$T/busybox.tar" >/dev/null
}
