#!/usr/bin/env bash
# End to end: `zlayer exec` through a whole node on this host (zlayer-init, the
# real containerd and zlayer-agent in a private directory, a busybox service):
# the exit code comes back, output streams on the right descriptors, stdin is
# forwarded with -i, -t gives the process a terminal, the container's
# environment and working directory apply, bad targets and programs are
# reported, and every exec cleans up its FIFOs. Prints "N passed, M failed";
# exits non-zero on any failure. Needs root.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

if ! start_node; then
  fail "node did not become ready"; cat "$T/init.err"; finish
fi
check "the test image is imported" import_test_image

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

stop_node; rc=$?
check "SIGTERM stops the node with exit code 0" test "$rc" -eq 0

finish
