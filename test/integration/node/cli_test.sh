#!/usr/bin/env bash
# End to end: what the CLI tells a user about a whole node (real containerd, runc,
# busybox containers). `zlayer health` reports the node and stays healthy beside a
# crash-looping deployment, which `zlayer health DEPLOYMENT` reports with the failing
# replica; `deploy --wait` of a crash loop ends, and --timeout ends a wait without
# progress. Prints "N passed, M failed"; exits non-zero on any failure. Needs root.
# Host ports: 18300-18399 only.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

if start_node; then
  pass "the node starts"
else
  fail "node did not become ready"; cat "$T/init.err"; finish
fi
check "the test image is imported" import_test_image

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

finish
