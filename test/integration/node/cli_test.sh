#!/usr/bin/env bash
# End to end: what the CLI tells a user about a whole node (real containerd, runc,
# busybox containers). `zlayer health` reports the node and stays healthy beside a
# crash-looping deployment, which `zlayer health DEPLOYMENT` reports with the failing
# replica. Prints "N passed, M failed"; exits non-zero on any failure. Needs root.
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

finish
