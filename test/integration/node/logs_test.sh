#!/usr/bin/env bash
# End to end: reading a large log does not hold up the agent. A whole node on
# this host (zlayer-init, the real containerd and zlayer-agent in a private
# directory); a busybox service writes tens of MB of log lines; while three
# clients read that log over and over, `zlayer ps` must answer about as fast
# as on the idle node (the Logs call reads files off the agent's event loop).
# Also checks that the log holds only whole records and that `logs -f` sees
# the backlog and then new lines, without a gap or a duplicate. Prints
# "N passed, M failed"; exits non-zero on any failure. Needs root.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

export ZLAYER_LOG_MAX_SIZE=200Mi ZLAYER_LOG_MAX_FILES=2
if ! start_node; then
  fail "node did not become ready"; cat "$T/init.err"; finish
fi
check "the test image is imported" import_test_image

# About 30 MB of output, then a numbered line every 50 ms (for -f).
cat >"$T/app.yaml" <<'YAML'
version: v1
deployment: lg
services:
  chatty:
    image:
      name: zlayer/busybox:latest
      pull_policy: never
    command:
      entrypoint: ["/bin/sh", "-c", "yes 'a log line of about sixty bytes, repeated to fill the log' | head -c 30000000; i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.05; done"]
YAML
check "zlayer deploy --wait converges" timeout 60 "$ZL" deploy --spec "$T/app.yaml" --wait
LOG=$T/data/logs/lg-chatty-0.log
check "the service's burst reaches its log" \
  wait_for 120 bash -c "grep -q '\"tick 1' '$LOG'"
check "every line of the log is a whole record" bash -c "jq -c . '$LOG' >/dev/null"

# Milliseconds one `zlayer ps` takes.
ps_ms() {
  local start end
  start=$(date +%s%N)
  "$ZL" ps >/dev/null || return 1
  end=$(date +%s%N)
  echo $(((end - start) / 1000000))
}
# The slowest of five `zlayer ps`, a moment apart.
slowest_ps() {
  local worst=0 ms
  for _ in 1 2 3 4 5; do
    ms=$(ps_ms) || return 1
    ((ms > worst)) && worst=$ms
    sleep 0.2
  done
  echo "$worst"
}

idle=$(slowest_ps) || { fail "zlayer ps answers on the idle node"; finish; }
readers=()
for _ in 1 2 3; do
  (while [[ ! -e $T/stop-reading ]]; do "$ZL" logs lg/chatty >/dev/null 2>&1; done) &
  readers+=($!)
done
sleep 1  # let the three reads get going
busy=$(slowest_ps) || busy=unanswered
touch "$T/stop-reading"  # each reader finishes the read it is in
wait "${readers[@]}"
echo "# zlayer ps: slowest of 5 idle ${idle} ms, while three clients read the log ${busy} ms"
check "zlayer ps answers while three clients read a large log (< 5x idle + 200 ms)" \
  test "$busy" -lt $((5 * idle + 200))

# logs -f: the backlog, then new lines, no gap and no duplicate between them.
"$ZL" logs -f -n 20 lg/chatty >"$T/follow.out" 2>&1 &
follower=$!
check "logs -f keeps streaming new lines" \
  wait_for 30 bash -c "[[ \$(grep -c '^tick' '$T/follow.out') -ge 60 ]]"
kill "$follower" 2>/dev/null; wait "$follower" 2>/dev/null
check "logs -f streams the backlog and then new lines in sequence" bash -c \
  "awk '/^tick/ {if (p && \$2 != p+1) bad=1; p=\$2} END {exit bad}' '$T/follow.out'"

finish
