#!/usr/bin/env bash
# End to end: slow stops and a slow pull do not starve a deploy. A whole node on
# this host (zlayer-init, the real containerd and zlayer-agent in a private
# directory). Six deployments of one replica each ignore SIGTERM and have a 10 s
# stop grace; all six are deleted at once (six stops, each waiting out its
# grace), while `zlayer pull` fetches an image from a local docker-registry
# through a proxy that sends a few KB/s. Meanwhile `zlayer deploy --wait` of
# another deployment, whose image is already on the node, must converge while
# every one of the six replicas is still waiting out its grace and the pull is
# still running: nothing it needs may wait behind a stop or a pull.
# Prints the deploy's time on the idle node and on the busy one (not asserted:
# the ordering is). Prints "N passed, M failed"; exits non-zero on any failure.
# Needs root, docker-registry, skopeo, umoci, python3. Host ports 18700-18701.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

REGISTRY_PORT=18700
PROXY_PORT=18701
RATE=4096  # bytes per second the proxy sends back
SLOW=6
for tool in docker-registry skopeo umoci python3 jq; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool missing (scripts/install-deps.sh)"; exit 1; }
done

registry_pid='' proxy_pid='' pull_pid=''
delete_pids=()
stop_helpers() {
  local pid
  # The proxy first: the pull then fails at once instead of holding up the node's stop.
  for pid in $proxy_pid $registry_pid; do kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  for pid in $pull_pid "${delete_pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  proxy_pid='' registry_pid=''
}
trap 'stop_helpers; cleanup' EXIT

for port in $REGISTRY_PORT $PROXY_PORT; do
  [[ -z $(ss -Hltn "sport = :$port") ]] || { echo "FAIL: port $port is in use"; exit 1; }
done

start_node_or_finish
check "the test image is imported" import_test_image

# --- a registry that answers slowly --------------------------------------------------
mkdir -p "$T/registry"
cat >"$T/registry.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $T/registry}}
http: {addr: 127.0.0.1:$REGISTRY_PORT, secret: zlayer-test}
YML
docker-registry serve "$T/registry.yml" >"$T/registry.log" 2>&1 &
registry_pid=$!
check "docker-registry starts" wait_for 20 curl -sf "http://127.0.0.1:$REGISTRY_PORT/v2/"
"$ROOT/scripts/build-test-image.sh" --layers 1 --filler-mb 1 --seed busy --tag slow \
  "$T/slow-image" >/dev/null 2>"$T/build.err"
check "an image of about 2 MB is pushed to it" timeout 120 "$ROOT/scripts/push-test-image.sh" \
  "$T/slow-image" "127.0.0.1:$REGISTRY_PORT/zlayer/slow:slow"
python3 "$ROOT/test/tools/throttle_proxy.py" --listen $PROXY_PORT \
  --target "127.0.0.1:$REGISTRY_PORT" --rate $RATE >"$T/proxy.out" 2>"$T/proxy.err" &
proxy_pid=$!
check "a proxy in front of it sends $RATE bytes per second" \
  wait_for 20 grep -q "listening on $PROXY_PORT" "$T/proxy.out"

# --- the deployment that must converge ----------------------------------------------
cat >"$T/quick.yaml" <<'YAML'
version: v1
deployment: quick
services:
  app:
    image: {name: "zlayer/busybox:latest"}
    command: {entrypoint: ["/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"]}
YAML
# Milliseconds `zlayer deploy --wait` of quick takes; fails when it does not converge.
deploy_quick_ms() {
  local start end
  start=$(date +%s%N)
  timeout 120 "$ZL" deploy --spec "$T/quick.yaml" --wait >"$T/quick.out" 2>&1 || return 1
  end=$(date +%s%N)
  echo $(((end - start) / 1000000))
}
if idle_ms=$(deploy_quick_ms); then
  pass "on the idle node, deploy --wait converges"
else
  fail "on the idle node, deploy --wait converges"; cat "$T/quick.out"; idle_ms=-
fi
check "... and its deployment is deleted again" timeout 60 "$ZL" delete quick

# --- six replicas that take their whole grace to stop --------------------------------
mkdir -p "$T/sig"
for i in $(seq 1 $SLOW); do
  cat >"$T/slow$i.yaml" <<YAML
version: v1
deployment: slow$i
services:
  stubborn:
    image: {name: "zlayer/busybox:latest", pull_policy: never}
    command: {entrypoint: ["/bin/sh", "-c", "trap 'touch /sig/term$i' TERM; while true; do sleep 0.1; done"]}
    stop_grace_period: 10s
    storage: [{type: bind, source: "$T/sig", target: /sig}]
YAML
done
converged=0
for i in $(seq 1 $SLOW); do
  timeout 60 "$ZL" deploy --spec "$T/slow$i.yaml" --wait >/dev/null 2>&1 && converged=$((converged + 1))
done
check "$SLOW deployments whose replica ignores SIGTERM converge" test "$converged" -eq $SLOW

# --- busy: the pull and the stops under way, then the deploy -------------------------
"$ZL" --timeout 300s pull "127.0.0.1:$PROXY_PORT/zlayer/slow:slow" >"$T/pull.out" 2>&1 &
pull_pid=$!
check "a pull through the slow proxy is fetching" wait_for 30 grep -q fetching "$T/pull.out"
for i in $(seq 1 $SLOW); do
  timeout 120 "$ZL" delete "slow$i" >"$T/delete$i.out" 2>&1 &
  delete_pids+=($!)
done
stops_started=$(date +%s%N)
# A few seconds for the six SIGTERMs; the deploy starts then, whether they all came or not.
termed() { find "$T/sig" -name 'term*' | wc -l; }
export -f termed
wait_for 3 bash -c "[[ \$(termed) -eq $SLOW ]]"
check "within 3 s every one of the $SLOW stops is under way (got SIGTERM): $(termed)" \
  test "$(termed)" -eq $SLOW

if busy_ms=$(deploy_quick_ms); then
  pass "on the busy node, deploy --wait converges"
else
  fail "on the busy node, deploy --wait converges"; cat "$T/quick.out"; busy_ms=-
fi
converged_at=$(date +%s%N)
# Right after it converged: are the stops and the pull still running?
running_slow=$(node_ctr tasks ls 2>/dev/null | awk '$1 ~ /^slow[0-9]+-stubborn-0$/ && $3 == "RUNNING"' | wc -l)
deletes_left=0
for pid in "${delete_pids[@]}"; do kill -0 "$pid" 2>/dev/null && deletes_left=$((deletes_left + 1)); done
pull_left=0
kill -0 "$pull_pid" 2>/dev/null && pull_left=1
echo "# deploy --wait of quick: idle ${idle_ms} ms, busy ${busy_ms} ms" \
  "(converged $(((converged_at - stops_started) / 1000000)) ms after the deletes began;" \
  "then $running_slow of $SLOW slow replicas running, $deletes_left deletes waiting)"
check "it converged while every one of the $SLOW stops was still waiting out its grace" \
  test "$running_slow" -eq $SLOW -a "$deletes_left" -eq $SLOW
check "... and while the pull was still in progress" test "$pull_left" -eq 1
check "the pull had not finished: no image by its name yet" \
  bash -c "! node_ctr images ls -q | grep -q 'zlayer/slow:slow'"

# --- and then everything ends -------------------------------------------------------
deleted=0
for i in "${!delete_pids[@]}"; do
  wait "${delete_pids[$i]}" && deleted=$((deleted + 1))
done
delete_pids=()
check "the $SLOW deletes finish once the grace is over" test "$deleted" -eq $SLOW
check "no task of them is left" \
  bash -c "! node_ctr tasks ls | grep -q '^slow'"
kill -KILL "$proxy_pid" 2>/dev/null; wait "$proxy_pid" 2>/dev/null; proxy_pid=''
if wait_for 60 bash -c "! kill -0 $pull_pid"; then
  wait "$pull_pid"; pull_rc=$?; pull_pid=''
  check "the pull fails once its proxy is gone" test "$pull_rc" -ne 0
else
  fail "the pull ends once its proxy is gone"
fi
check "zlayer ps still answers, quick running" \
  bash -c "'$ZL' ps -o json | jq -e '.deployments[] | select(.name == \"quick\") | .services[0].replicas[0].state == \"running\"'"

finish
