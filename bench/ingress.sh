#!/usr/bin/env bash
# Benchmark: the node's ingress (issue 13), in one run on one node.
#
#   bench/ingress.sh [SECONDS]   (default 10 per wrk run; root, a build, haproxy and wrk)
#
# 1. Requests per second and p99 latency (wrk -t2 -c32 --latency, tiny answers from one
#    busybox httpd replica), alternately: through the node's proxy (the agent's HAProxy
#    configuration, the route chosen by Host), through a hand-written minimal HAProxy
#    configuration for the same replica (one frontend, one backend, the same HAProxy),
#    and straight to the replica. Two runs each; the ratios use the second.
# 2. From "ready" to "proxied": a second replica is started; the time from `zlayer ps`
#    first showing it ready to the first answer through the proxy that comes from it
#    (polled; ps and curl take milliseconds themselves, so this is an upper bound).
# 3. Route changes under load: wrk through the proxy while a second deployment adds a
#    route (a reload of HAProxy), the first one scales 2 → 3 → 1 (runtime API) and the
#    second is deleted (another reload); failed requests and socket errors counted.
# Writes bench/results/ingress.md.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${1:-10}
BIN=${BIN:-build/bin}
source bench/lib.sh
T=$(mktemp -d /tmp/zl-bi-XXXX)
NS=bench$$
export_node_env "$T"
export ZLAYER_INGRESS_ADDRESS=127.0.14.1
HAND=127.0.14.2
ZL=$BIN/zlayer
init_pid= hand_pid=
cleanup() {
  [[ -z $hand_pid ]] || kill "$hand_pid" 2>/dev/null || true
  cleanup_node "$T"
}
trap cleanup EXIT
ms() { echo $(( $(date +%s%N) / 1000000 )); }
field() {  # field DEPLOYMENT CONTAINER KEY
  "$ZL" ps "$1" -o json |
    jq -r --arg id "$2" --arg k "$3" '.deployments[].services[].replicas[] | select(.container_id == $id) | .[$k] // ""'
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
start_node "$T"
import_busybox "$T"
IMAGE='image: {name: zlayer/busybox:latest, pull_policy: never}'
app_spec() {  # app_spec DEPLOYMENT HOST REPLICAS
  cat <<YAML
version: v1
deployment: $1
services:
  web:
    $IMAGE
    command:
      entrypoint: ["/bin/sh", "-c"]
      args: ["mkdir -p /tmp/w && ip -4 -o addr show eth0 | awk '{print \$4}' >/tmp/w/index.html && trap 'exit 0' TERM; httpd -f -p 8080 -h /tmp/w & wait"]
    scale: {replicas: $3}
    stop_grace_period: 2s
    endpoints: [{name: http, protocol: http, port: 80, target_port: 8080, host: $2, expose: public}]
YAML
}
app_spec app app.bench 1 >"$T/app.yaml"
"$ZL" deploy --spec "$T/app.yaml" --wait >/dev/null
replica=$(field app app-web-0 address)
wait_until_answers() { for _ in $(seq 200); do curl -sf --max-time 1 -H "Host: $2" "$1" >/dev/null && return 0; sleep 0.05; done; return 1; }
wait_until_answers "http://$ZLAYER_INGRESS_ADDRESS/" app.bench

# The hand-written configuration: what a person would write for one backend.
cat >"$T/hand.cfg" <<CFG
global
  log stderr local0 err
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend hand
  bind $HAND:80
  default_backend app
backend app
  balance roundrobin
  server app0 $replica:8080
CFG
haproxy -db -f "$T/hand.cfg" 2>"$T/hand.err" &
hand_pid=$!
wait_until_answers "http://$HAND/" x

# --- 1. throughput and latency -----------------------------------------------------------
run_wrk() {  # run_wrk URL HOST: "<req/s> <p99 ms> <errors>"
  wrk -t2 -c32 -d"${SECONDS_PER_RUN}s" --latency -H "Host: $2" "$1" 2>&1 | awk '
    /Requests\/sec/ {rps = $2}
    $1 == "99%" {v = $2; if (v ~ /us$/) {sub(/us$/, "", v); v /= 1000} else if (v ~ /ms$/) {sub(/ms$/, "", v)} else if (v ~ /s$/) {sub(/s$/, "", v); v *= 1000}; p99 = v}
    /Socket errors|Non-2xx/ {errors = errors $0 " "}
    END {printf "%s %s %s\n", rps, p99, (errors == "" ? "none" : "some")}'
}
read -r node_rps1 node_p99_1 _ < <(run_wrk "http://$ZLAYER_INGRESS_ADDRESS/" app.bench)
read -r hand_rps1 hand_p99_1 _ < <(run_wrk "http://$HAND/" app.bench)
read -r direct_rps1 direct_p99_1 _ < <(run_wrk "http://$replica:8080/" app.bench)
read -r node_rps node_p99 _ < <(run_wrk "http://$ZLAYER_INGRESS_ADDRESS/" app.bench)
read -r hand_rps hand_p99 _ < <(run_wrk "http://$HAND/" app.bench)
read -r direct_rps direct_p99 _ < <(run_wrk "http://$replica:8080/" app.bench)

# --- 2. ready → proxied ----------------------------------------------------------------------
app_spec app app.bench 2 >"$T/app.yaml"
"$ZL" deploy --spec "$T/app.yaml" >/dev/null
until [[ $(field app app-web-1 ready) == true ]]; do sleep 0.005; done
ready_at=$(ms)
second=$(field app app-web-1 address)
until [[ $(curl -s --max-time 1 -H "Host: app.bench" "http://$ZLAYER_INGRESS_ADDRESS/") == "$second/24" ]]; do :; done
ready_to_proxied=$(( $(ms) - ready_at ))

# --- 3. route changes under load -------------------------------------------------------------
# Each failed answer's status and body, so that the table can say what failed.
cat >"$T/failed.lua" <<'LUA'
response = function(status, headers, body)
  if status ~= 200 then io.write("failed: ", status, " ", body, "\n") end
end
LUA
wrk -t2 -c32 -d30s -s "$T/failed.lua" -H "Host: app.bench" "http://$ZLAYER_INGRESS_ADDRESS/" >"$T/changes.txt" 2>&1 &
wrk_pid=$!
sleep 2
app_spec other other.bench 1 >"$T/other.yaml"
"$ZL" deploy --spec "$T/other.yaml" --wait >/dev/null            # a new route: reload
app_spec app app.bench 3 >"$T/app.yaml"; "$ZL" deploy --spec "$T/app.yaml" --wait >/dev/null
app_spec app app.bench 1 >"$T/app.yaml"; "$ZL" deploy --spec "$T/app.yaml" --wait >/dev/null
"$ZL" delete other >/dev/null                                    # a route gone: reload
wait $wrk_pid
change_requests=$(awk '/requests in/ {print $1}' "$T/changes.txt")
change_errors=$( (grep -E "Socket errors|Non-2xx" "$T/changes.txt"; grep "^failed: " "$T/changes.txt" | sort | uniq -c) | tr -s ' ' | tr '\n' ' ' || true)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}'; }
{
  echo "# Ingress (HAProxy run by the node)"
  echo
  echo "\`bench/ingress.sh $SECONDS_PER_RUN\` on $(date -u +%Y-%m-%d), $(nproc) cores, load $load_before at the start; $(haproxy -v | head -1 | cut -d' ' -f1-3)."
  echo
  echo "| measure | value | compared with | ratio | goal |"
  echo "|---|---|---|---|---|"
  echo "| requests/s through the node's proxy (wrk -t2 -c32, 2 runs) | ${node_rps1}, ${node_rps} | hand-written HAProxy: ${hand_rps1}, ${hand_rps} | $(ratio "$node_rps" "$hand_rps")x | >= 0.95x |"
  echo "| the same | ${node_rps} | straight to the replica: ${direct_rps1}, ${direct_rps} | $(ratio "$node_rps" "$direct_rps")x | |"
  echo "| p99 latency through the node's proxy | ${node_p99} ms | hand-written: ${hand_p99} ms; straight: ${direct_p99} ms | | |"
  echo "| replica shown ready → first answer from it through the proxy | ${ready_to_proxied} ms (upper bound: polled) | | | <= 100 ms |"
  echo "| 30 s of wrk through the proxy while a route is added and removed (2 reloads) and the service scales 2 → 3 → 1 | ${change_requests} requests, errors: ${change_errors:-none} | | | no failed request |"
} >bench/results/ingress.md
cat bench/results/ingress.md
