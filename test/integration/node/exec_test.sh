#!/usr/bin/env bash
# End to end: `zlayer exec` through a whole node on this host (zlayer-init, the
# real containerd and zlayer-agent in a private directory, a busybox service):
# the exit code comes back, output streams on the right descriptors, stdin is
# forwarded with -i, -t gives the process a terminal, the container's
# environment and working directory apply, bad targets and programs are
# reported, and every exec cleans up its FIFOs. Prints "N passed, M failed";
# exits non-zero on any failure. Needs root.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
BIN=${ZLAYER_BIN_DIR:-$ROOT/build/bin}
ZL=$BIN/zlayer

passed=0 failed=0
pass() { passed=$((passed + 1)); echo "ok   - $*"; }
fail() { failed=$((failed + 1)); echo "FAIL - $*"; }
check() {  # check "description" command...
  local what=$1; shift
  if "$@" >/dev/null 2>&1; then pass "$what"; else fail "$what"; fi
}
wait_for() {  # wait_for SECONDS command...: polls until the command succeeds
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [[ $SECONDS -ge $deadline ]] && return 1
    sleep 0.1
  done
}

T=$(mktemp -d /tmp/zl-XXXX)
NS=ex$$
export ZLAYER_RUN_DIR=$T/run ZLAYER_DATA_DIR=$T/data ZLAYER_STATE_DIR=$T/data/containers \
  ZLAYER_CONTAINERD_ROOT=$T/root ZLAYER_CONTAINERD_STATE=$T/state CONTAINERD_SOCKET=$T/c.sock \
  ZLAYER_SOCKET=$T/run/agent.sock ZLAYER_NAMESPACE=$NS ZLAYER_WATCHDOG_TIMEOUT=10s
init_pid=

cleanup() {
  if [[ -n $init_pid ]] && kill -0 "$init_pid" 2>/dev/null; then
    kill -TERM "$init_pid"; wait "$init_pid" 2>/dev/null
  fi
  pkill -KILL -f "$T/c.sock" 2>/dev/null
  grep " $T/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
  rm -rf "/run/containerd/runc/$NS" "$T"
}
trap cleanup EXIT

"$BIN/zlayer-init" serve >"$T/init.out" 2>"$T/init.err" &
init_pid=$!
if ! wait_for 60 grep -q "node is ready" "$T/init.err"; then
  fail "node did not become ready"; cat "$T/init.err"; echo "$passed passed, $failed failed"; exit 1
fi
check "the test image builds" "$ROOT/scripts/build-test-image.sh" --format oci-archive "$T/busybox.tar"
check "zlayer image import loads it" "$ZL" image import "$T/busybox.tar"

cat >"$T/app.yaml" <<YAML
version: v1
deployment: ex
services:
  web:
    image:
      name: zlayer/busybox:latest
      pull_policy: never
    command:
      entrypoint: ["/bin/sh", "-c", "sleep 100000"]
      workdir: /www
    env:
      GREETING: from-the-spec
YAML
check "zlayer deploy --wait converges" timeout 60 "$ZL" deploy --spec "$T/app.yaml" --wait

"$ZL" exec web -- sh -c 'exit 3' >/dev/null 2>&1; rc=$?
check "exec returns the process's exit code" test "$rc" -eq 3
check "exec streams stdout" bash -c "[[ \$('$ZL' exec web -- echo hello) == hello ]]"
check "exec streams stderr to stderr" bash -c \
  "[[ -z \$('$ZL' exec web -- sh -c 'echo oops >&2' 2>/dev/null) ]] && \
   [[ \$('$ZL' exec web -- sh -c 'echo oops >&2' 2>&1 >/dev/null) == oops ]]"
check "exec runs with the container's env and working directory" bash -c \
  "[[ \$('$ZL' exec web -- sh -c 'echo \$GREETING \$(pwd)') == 'from-the-spec /www' ]]"
check "exec -i forwards stdin until EOF" bash -c \
  "[[ \$(printf 'one\ntwo\n' | '$ZL' exec -i web -- sh -c 'cat | wc -l') -eq 2 ]]"
check "exec without -i gives the process an empty stdin" bash -c \
  "[[ \$(echo ignored | '$ZL' exec web -- cat) == '' ]]"
check "exec -t gives the process a terminal" bash -c \
  "'$ZL' exec -t web -- sh -c 'test -t 0 && test -t 1 && echo on-a-tty' | grep -q on-a-tty"
check "exec names the replica by id too" bash -c "[[ \$('$ZL' exec ex-web-0 -- echo hi) == hi ]]"
out=$("$ZL" exec nosuch -- true 2>&1); rc=$?
check "exec to an unknown target fails, naming it" bash -c "[[ $rc -ne 0 ]] && grep -q nosuch <<<'$out'"
out=$("$ZL" exec web -- /no/such/program 2>&1); rc=$?
check "exec of a missing program fails, naming it" \
  bash -c "[[ $rc -ne 0 ]] && grep -q /no/such/program <<<'$out'"
"$ZL" exec web -- sleep 1234 >/dev/null 2>&1 &
client=$!
check "a running exec shows in the container" \
  wait_for 20 bash -c "'$ZL' exec web -- ps | grep -q 'sleep 1234'"
kill -KILL "$client"; wait "$client" 2>/dev/null
check "an exec whose client went away is killed" \
  wait_for 20 bash -c "! '$ZL' exec web -- ps | grep -q 'sleep 1234'"
check "execs leave no FIFOs behind" \
  wait_for 10 bash -c "ls '$ZLAYER_STATE_DIR/ex-web-0/stdout' && \
                      [[ -z \$(ls '$ZLAYER_STATE_DIR/ex-web-0' | grep exec-) ]]"

kill -TERM "$init_pid"; wait "$init_pid"; rc=$?; init_pid=
check "SIGTERM stops the node with exit code 0" test "$rc" -eq 0

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
