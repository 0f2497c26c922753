#!/usr/bin/env bash
# Benchmark: container networking (issue 12), in one run on one node.
#
#   bench/network.sh [ROUNDS] [REPLICAS] [REQUESTS]   (defaults 10, 50, 20000; root, a build)
#
# 1. One replica with its network, command → running: from `zlayer deploy` of a
#    one-replica sleeper on its own network (CNI bridge, netns) to containerd's
#    /tasks/start event (its timestamp, from `ctr events`), next to the same with
#    network_mode host, and next to `ctr run -d --cni` with the same bridge
#    configuration (a conflist in /etc/cni/net.d, plugins through /opt/cni/bin; only
#    when neither holds anything yet, and both are removed again). Medians of ROUNDS.
# 2. REPLICAS replicas of one service: deploy --wait until every one is ready, total
#    and per replica; then the delete.
# 3. Throughput through a service address vs straight to a replica: ApacheBench
#    (REQUESTS requests, 16 at a time) against the service address and port 80,
#    and against one replica's address and port 8080, from the node's host.
# 4. From "ready" to "receives connections": a second replica is started; the time
#    from `zlayer ps` first showing it ready to the first answer through the
#    service address that comes from it (polled; ps and curl take milliseconds
#    themselves, so this is an upper bound).
# Writes bench/results/network.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-10}
REPLICAS=${2:-50}
REQUESTS=${3:-20000}
BIN=${BIN:-build/bin}
source bench/lib.sh
T=$(mktemp -d /tmp/zl-bn-XXXX)
NS=bench$$
export_node_env "$T"
export ZLAYER_NETWORK_CIDR=10.243.0.0/16 ZLAYER_SERVICE_CIDR=10.244.0.0/16
CTR=(ctr --address "$T/c.sock" -n "$NS")
ZL=$BIN/zlayer
init_pid= events_pid=
CNI_CONF=/etc/cni/net.d/10-zlbench.conflist
ctr_cni=0 made_opt_cni=0
cleanup() {
  [[ -z $events_pid ]] || kill "$events_pid" 2>/dev/null || true
  "${CTR[@]}" tasks kill -s KILL ctrbench >/dev/null 2>&1 || true
  if ((ctr_cni)); then rm -f "$CNI_CONF"; rmdir /etc/cni/net.d /etc/cni 2>/dev/null || true; fi
  if ((made_opt_cni)); then rm -rf /opt/cni/bin; rmdir /opt/cni 2>/dev/null || true; fi
  ip link delete zlbenchctr0 2>/dev/null || true
  remove_node_network 10.245.0.0/16  # what ctr's CNI set-up left
  cleanup_node "$T"
}
trap cleanup EXIT
ms() { echo $(( $(date +%s%N) / 1000000 )); }
median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
field() {  # field DEPLOYMENT CONTAINER KEY
  "$ZL" ps "$1" -o json |
    jq -r --arg id "$2" --arg k "$3" '.deployments[].services[].replicas[] | select(.container_id == $id) | .[$k] // ""'
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
start_node "$T"
import_busybox "$T"
IMAGE='image: {name: zlayer/busybox:latest, pull_policy: never}'

# --- 1. one replica, deploy → running -------------------------------------------------
# From the command's start to containerd's /tasks/start event of the container (its
# own timestamp, from `ctr events`), for zlayer deploy (own network / host) and ctr run.
"${CTR[@]}" events >"$T/events.log" 2>/dev/null &
events_pid=$!
sod_ms() { date -u +%H:%M:%S.%N | awk -F: '{printf "%.1f", ($1 * 3600 + $2 * 60 + $3) * 1000}'; }
# started_after ID T0: ms from T0 (ms of the day) to the first /tasks/start of ID after it.
started_after() {
  local ms=""
  for _ in $(seq 400); do
    ms=$(awk -v id="\"container_id\":\"$1\"" -v t0="$2" '
      index($0, id) == 0 || !/\/tasks\/start/ { next }
      { split($2, hms, ":"); t = (hms[1] * 3600 + hms[2] * 60 + hms[3]) * 1000 }
      t >= t0 { printf "%.0f\n", t - t0; exit }' "$T/events.log")
    [[ -n $ms ]] && break
    sleep 0.05
  done
  echo "$ms"
}
one_spec() {  # one_spec MODE
  cat <<YAML
version: v1
deployment: one
services:
  app:
    $IMAGE
    network_mode: $1
    command: {entrypoint: ["/bin/sleep"], args: ["3600"]}
    stop_grace_period: 1s
YAML
}
one_spec default >"$T/one-default.yaml"
one_spec host >"$T/one-host.yaml"
: >"$T/own.ms"; : >"$T/host.ms"; : >"$T/ctr.ms"
for ((i = 0; i < ROUNDS; i++)); do
  for mode in default host; do
    t0=$(sod_ms); "$ZL" deploy --spec "$T/one-$mode.yaml" >/dev/null
    took=$(started_after one-app-0 "$t0")
    [[ $mode == default ]] && echo "$took" >>"$T/own.ms" || echo "$took" >>"$T/host.ms"
    "$ZL" delete one >/dev/null
  done
done
if [[ ! -e /etc/cni/net.d || -z $(ls -A /etc/cni/net.d) ]] && [[ ! -e /opt/cni/bin || -z $(ls -A /opt/cni/bin) ]]; then
  mkdir -p /etc/cni/net.d
  ctr_cni=1
  if [[ ! -e /opt/cni/bin ]]; then mkdir -p /opt/cni; ln -s /usr/lib/cni /opt/cni/bin; made_opt_cni=1; fi
  cat >"$CNI_CONF" <<JSON
{"cniVersion": "1.0.0", "name": "zlbench", "plugins": [
  {"type": "bridge", "bridge": "zlbenchctr0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.245.0.0/24"}]], "routes": [{"dst": "0.0.0.0/0"}],
            "dataDir": "$T/ctr-ipam"}},
  {"type": "firewall", "backend": "iptables"}]}
JSON
  for ((i = 0; i < ROUNDS; i++)); do
    t0=$(sod_ms)
    "${CTR[@]}" run -d --cni docker.io/zlayer/busybox:latest ctrbench /bin/sleep 3600 >/dev/null
    started_after ctrbench "$t0" >>"$T/ctr.ms"
    "${CTR[@]}" tasks kill -s KILL ctrbench >/dev/null
    until "${CTR[@]}" tasks rm ctrbench >/dev/null 2>&1; do sleep 0.05; done
    "${CTR[@]}" containers rm ctrbench >/dev/null
    rm -rf "$T/ctr-ipam"  # ctr does not run CNI DEL when its task goes: its reservation stays
  done
fi
kill "$events_pid" 2>/dev/null || true
own_ms=$(median <"$T/own.ms"); host_ms=$(median <"$T/host.ms")
ctr_ms=$( [[ -s $T/ctr.ms ]] && median <"$T/ctr.ms" || echo "")

# --- 2. REPLICAS replicas of one service -------------------------------------------------
cat >"$T/many.yaml" <<YAML
version: v1
deployment: many
services:
  web:
    $IMAGE
    command: {entrypoint: ["/bin/httpd"], args: ["-f", "-p", "8080", "-h", "/www"]}
    scale: {replicas: $REPLICAS}
    stop_grace_period: 1s
YAML
t0=$(ms); "$ZL" deploy --spec "$T/many.yaml" --wait --timeout 10m >/dev/null; t1=$(ms)
many_ms=$((t1 - t0))
t0=$(ms); "$ZL" delete many >/dev/null; t1=$(ms)
many_delete_ms=$((t1 - t0))

# --- 3. throughput: service address vs replica --------------------------------------------
cat >"$T/svc.yaml" <<YAML
version: v1
deployment: svc
services:
  web:
    $IMAGE
    command:
      entrypoint: ["/bin/sh", "-c"]
      args: ["mkdir -p /tmp/w && ip -4 -o addr show eth0 | awk '{print \$4}' >/tmp/w/index.html && exec httpd -f -p 8080 -h /tmp/w"]
    scale: {replicas: 1}
    endpoints: [{name: http, protocol: http, port: 80, target_port: 8080}]
    stop_grace_period: 1s
YAML
"$ZL" deploy --spec "$T/svc.yaml" --wait >/dev/null
vip=$(jq -r '.services["svc/web"]' "$T/data/network/services.json")
replica=$(field svc svc-web-0 address)
wait_until_answers() { for _ in $(seq 100); do curl -sf --max-time 1 "$1" >/dev/null && return 0; sleep 0.05; done; return 1; }
wait_until_answers "http://$vip/"
rps() { ab -q -k -n "$REQUESTS" -c 16 "$1" 2>/dev/null | awk '/Requests per second/ {print $4}'; }
p99() { ab -q -k -n "$REQUESTS" -c 16 "$1" 2>/dev/null | awk '$1 == "99%" {print $2}'; }
vip_rps=$(rps "http://$vip/"); direct_rps=$(rps "http://$replica:8080/")
vip_rps2=$(rps "http://$vip/"); direct_rps2=$(rps "http://$replica:8080/")
vip_p99=$(p99 "http://$vip/"); direct_p99=$(p99 "http://$replica:8080/")

# --- 4. ready → receives connections ---------------------------------------------------------
sed -i 's/replicas: 1/replicas: 2/' "$T/svc.yaml"
"$ZL" deploy --spec "$T/svc.yaml" >/dev/null
until [[ $(field svc svc-web-1 ready) == true ]]; do sleep 0.005; done
ready_at=$(ms)
second=$(field svc svc-web-1 address)
until [[ $(curl -s --max-time 1 "http://$vip/") == "$second/24" ]]; do :; done
served_at=$(ms)
ready_to_served=$((served_at - ready_at))

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}'; }
{
  echo "# Container networking"
  echo
  echo "\`bench/network.sh $ROUNDS $REPLICAS $REQUESTS\` on $(date -u +%Y-%m-%d), $(nproc) cores, load $load_before at the start."
  echo
  echo "| measure | value | compared with | ratio | goal |"
  echo "|---|---|---|---|---|"
  echo "| zlayer deploy of 1 replica on its own network → its task started (median of $ROUNDS) | ${own_ms} ms | network_mode host: ${host_ms} ms | $(ratio "$own_ms" "$host_ms")x | |"
  if [[ -n $ctr_ms ]]; then
    echo "| the same | ${own_ms} ms | ctr run -d --cni → task started, same bridge list: ${ctr_ms} ms | $(ratio "$own_ms" "$ctr_ms")x | <= 1.1x |"
  else
    echo "| ctr run -d --cni | not run: /etc/cni/net.d or /opt/cni/bin already holds files | | | |"
  fi
  echo "| deploy --wait of $REPLICAS replicas, all ready | ${many_ms} ms ($(awk -v a="$many_ms" -v n="$REPLICAS" 'BEGIN {printf "%.0f", a / n}') ms per replica) | | | |"
  echo "| delete of those $REPLICAS | ${many_delete_ms} ms | | | |"
  echo "| requests/s through the service address (ab -k -c 16, 2 runs) | ${vip_rps}, ${vip_rps2} | straight to the replica: ${direct_rps}, ${direct_rps2} | $(ratio "$vip_rps2" "$direct_rps2")x | >= 0.95x |"
  echo "| p99 latency through the service address | ${vip_p99} ms | straight: ${direct_p99} ms | | |"
  echo "| replica shown ready → first answer from it through the service address | ${ready_to_served} ms (upper bound: polled) | | | <= 50 ms |"
} >bench/results/network.md
cat bench/results/network.md
