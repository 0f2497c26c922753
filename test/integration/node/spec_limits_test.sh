#!/usr/bin/env bash
# What a spec may ask of a node, through a whole node on this host: a spec whose YAML
# aliases expand to hundreds of megabytes, a service with an endpoint and three replicas
# on the node's network, and two services on one port are refused by `zlayer validate`
# and `zlayer deploy` with file:line:column and the reason, and change nothing; `zlayer
# scale` of a service with a port above one replica is refused the same way, and so is a second
# deployment that would listen on a node port the first holds. Host ports
# 18200-18299. Prints "N passed, M failed"; exits non-zero on any failure. Needs root.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

if start_node; then
  pass "the node reports ready"
else
  fail "node did not become ready"; cat "$T/init.err"; finish
fi
check "the test image is imported" import_test_image

IMAGE='image: {name: zlayer/busybox:latest, pull_policy: never}'
PORT=18231
cat >"$T/lim.yaml" <<YAML
version: v1
deployment: lim
services:
  web:
    $IMAGE
    network_mode: host
    command: {entrypoint: ["/bin/httpd"], args: ["-f", "-p", "$PORT", "-h", "/www"]}
    endpoints: [{name: http, protocol: http, port: $PORT}]
  worker:
    $IMAGE
    command: {entrypoint: ["/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"]}
    scale: {replicas: 2}
YAML
check "a web service with an endpoint and two workers deploy" \
  timeout 60 "$ZL" deploy --spec "$T/lim.yaml" --wait
check "the web replica answers on port $PORT" \
  wait_for 20 bash -c "curl -sf http://127.0.0.1:$PORT/ | grep -q 'hello from zlayer'"

# What the node runs and stores, to compare after every refusal.
state() {
  node_ctr tasks ls | sort
  find "$T/data" -path '*/deployments/*.json' -exec cat {} + | md5sum
}
before=$(state)
unchanged() { [[ "$(state)" == "$before" ]]; }

# refused SPEC PATTERN DESCRIPTION: validate and deploy both exit 1, print PATTERN, and
# the node is as it was.
refused() {
  local spec=$1 pattern=$2 what=$3 out rc
  out=$("$ZL" validate "$spec" 2>&1); rc=$?
  if [[ $rc -eq 1 ]] && grep -qE "$pattern" <<<"$out"; then
    pass "zlayer validate refuses $what"
  else
    fail "zlayer validate refuses $what (rc $rc): $out"
  fi
  out=$("$ZL" deploy --spec "$spec" 2>&1); rc=$?
  if [[ $rc -eq 1 ]] && grep -qE "$pattern" <<<"$out"; then
    pass "zlayer deploy refuses $what"
  else
    fail "zlayer deploy refuses $what (rc $rc): $out"
  fi
  check "after $what the node runs and stores what it did before" unchanged
}

# --- an endpoint and three replicas on the node's network ---------------------------------
sed 's/endpoints: \[/scale: {replicas: 3}\n    endpoints: [/' "$T/lim.yaml" >"$T/three.yaml"
refused "$T/three.yaml" \
  "three.yaml:8:[0-9]+: services\.web\.scale\.replicas: 3 replicas would share the node's network and so its port $PORT/tcp: .*run one replica, or give the service no endpoint" \
  "three replicas with an endpoint"

# --- two services on one port ----------------------------------------------------------
cat >"$T/two.yaml" <<YAML
version: v1
deployment: lim
services:
  web:
    $IMAGE
    network_mode: host
    endpoints: [{name: http, protocol: http, port: $PORT}]
  admin:
    $IMAGE
    network_mode: host
    health: {check: {type: tcp, port: $PORT}}
YAML
refused "$T/two.yaml" \
  "two.yaml:11:39: services\.admin\.health\.check\.port: port $PORT/tcp is also used by service web \(line 7\)" \
  "two services on one port"

# --- an alias bomb: 150 KB of text, 750 MB expanded ----------------------------------------
{
  printf 'version: v1\ndeployment: lim\nservices:\n  web:\n    %s\n' "$IMAGE"
  printf '    env:\n      BIG: &big %s\n' "$(head -c 102400 /dev/zero | tr '\0' x)"
  printf '    command:\n      args: [*big'
  for ((i = 1; i < 7500; i++)); do printf ', *big'; done
  printf ']\n'
} >"$T/bomb.yaml"
refused "$T/bomb.yaml" \
  "bomb.yaml:9:[0-9]+: services\.web\.command\.args\[39\]: with its aliases expanded, the spec has more than 4194304 bytes" \
  "an alias bomb"
/usr/bin/time -v "$ZL" validate "$T/bomb.yaml" >/dev/null 2>"$T/time.txt"
rss_kib=$(awk -F: '/Maximum resident set size/ {print $2 + 0}' "$T/time.txt")
echo "# zlayer validate of the alias bomb: peak RSS ${rss_kib} KiB"
check "zlayer validate of the alias bomb stays under 64 MiB" test "${rss_kib:-999999}" -lt 65536

# --- zlayer scale ------------------------------------------------------------------------
out=$("$ZL" scale lim/web 3 2>&1); rc=$?
if [[ $rc -ne 0 ]] && grep -q "3 replicas would share the node's network and so its port $PORT/tcp" <<<"$out"; then
  pass "zlayer scale of a service with an endpoint to 3 is refused with the reason"
else
  fail "zlayer scale of a service with an endpoint to 3 is refused with the reason (rc $rc): $out"
fi
check "after the refused scale the node runs and stores what it did before" unchanged
check "the web replica still answers" bash -c "curl -sf http://127.0.0.1:$PORT/ | grep -q hello"
check "zlayer scale of the worker without a port to 3 works" "$ZL" scale lim/worker 3
check "three workers run" wait_for 30 bash -c "'$ZL' ps | grep -q lim-worker-2"

# --- another deployment on the same node port -----------------------------------------------
# Settled first: the scale-up above may still be starting its third worker's task.
wait_for 30 bash -c "[[ \$(node_ctr tasks ls | grep -c RUNNING) -eq 4 ]]"
before=$(state)
cat >"$T/other.yaml" <<YAML
version: v1
deployment: other
services:
  site:
    $IMAGE
    network_mode: host
    command: {entrypoint: ["/bin/httpd"], args: ["-f", "-p", "$PORT", "-h", "/www"]}
    endpoints: [{name: http, protocol: http, port: $PORT}]
YAML
out=$("$ZL" deploy --spec "$T/other.yaml" 2>&1); rc=$?
if [[ $rc -ne 0 && $out == *"service site listens on $PORT/tcp, which service web of deployment lim holds"* ]]; then
  pass "a second deployment on a node port another deployment holds is refused, naming it"
else
  fail "a second deployment on a node port another deployment holds is refused, naming it (rc $rc): $out"
fi
if unchanged; then
  pass "after that refusal the node runs and stores what it did before"
else
  fail "after that refusal the node runs and stores what it did before"
  diff <(echo "$before") <(state)
fi

check "the deployment is deleted" "$ZL" delete lim
check "zlayer-init stops cleanly" stop_node
finish
