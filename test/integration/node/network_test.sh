#!/usr/bin/env bash
# Container networking on a whole node (issue 12), with the real CNI plugins:
# each replica of network_mode default has its own namespace and address on its
# deployment's bridge (three httpd replicas on one port), replicas of one
# deployment reach each other, none gives loopback only and host the node's
# network; the agent killed with -9 comes back to the same addresses without a
# restart; deletes and 100 create/delete cycles leave no namespace, record,
# reservation or bridge behind.
# Uses its own ranges (10.241.0.0/16 and 10.242.0.0/16) so that it never meets
# a node running on this host.
source "$(dirname "$0")/lib.sh"
export ZLAYER_NETWORK_CIDR=10.241.0.0/16 ZLAYER_SERVICE_CIDR=10.242.0.0/16
BRIDGE_PREFIX=zl0af1  # common/network_names.h: "zl" + the range's fixed hex digits

start_node_or_finish
check "the test image is imported" import_test_image

IMAGE='image: {name: "zlayer/busybox:latest", pull_policy: never}'
cat >"$T/net.yaml" <<YAML
version: v1
deployment: net
services:
  web:
    $IMAGE
    # Each replica's page is its own address (its hostname maps to it in /etc/hosts), so a
    # client can tell who answered.
    command:
      entrypoint: ["/bin/sh", "-c"]
      args: ["mkdir -p /tmp/w && hostname -i >/tmp/w/index.html && exec httpd -f -p 8080 -h /tmp/w"]
    scale: {replicas: 3}
    endpoints: [{name: http, protocol: http, port: 80, target_port: 8080}]
    health: {start_grace: 0s, interval: 300ms, timeout: 2s, retries: 1, check: {type: command, command: "test ! -f /tmp/sick"}}
  client:
    $IMAGE
    command: {entrypoint: ["/bin/sleep"], args: ["3600"]}
  alone:
    $IMAGE
    network_mode: none
    command: {entrypoint: ["/bin/sleep"], args: ["3600"]}
  shared:
    $IMAGE
    network_mode: host
    command: {entrypoint: ["/bin/sleep"], args: ["3600"]}
YAML
check "three replicas listening on one port deploy and become healthy" \
  timeout 120 "$ZL" deploy --spec "$T/net.yaml" --wait

address() {
  "$ZL" ps net -o json |
    jq -r --arg id "$1" '.deployments[].services[].replicas[] | select(.container_id == $id) | .address // ""'
}
address_in() {
  "$ZL" ps "$1" -o json |
    jq -r --arg id "$2" '.deployments[].services[].replicas[] | select(.container_id == $id) | .address // ""'
}
pid_of() {
  "$ZL" ps net -o json |
    jq -r --arg id "$1" '.deployments[].services[].replicas[] | select(.container_id == $id) | .pid'
}
export -f address address_in pid_of
A0=$(address net-web-0); A1=$(address net-web-1); A2=$(address net-web-2)
check "each replica has its own address in the deployment's subnet" bash -c "
  [[ '$A0' == 10.241.* && '$A1' == 10.241.* && '$A2' == 10.241.* ]] &&
  [[ \$(printf '%s\n' '$A0' '$A1' '$A2' | sort -u | wc -l) == 3 ]]"
check "zlayer ps shows the addresses" bash -c "'$ZL' ps net | grep net-web-1 | grep -qF '$A1'"
check "zlayer inspect shows the address" bash -c "'$ZL' inspect net-web-2 | grep -q 'address:.*$A2'"
for a in "$A0" "$A1" "$A2"; do
  check "the replica at $a answers on its own address" \
    bash -c "[[ \$(curl -sf --max-time 5 http://$a:8080/) == '$a' ]]"
done
check "a replica of the same deployment reaches another by its address" bash -c "
  [[ \$('$ZL' exec net-client-0 -- timeout 5 wget -qO- http://$A1:8080/) == '$A1' ]]"

# --- the service's address and names ----------------------------------------------------
VIP=$(jq -r '.services["net/web"] // ""' "$T/data/network/services.json" 2>/dev/null)
check "the service has a stable address from ZLAYER_SERVICE_CIDR" bash -c "[[ '$VIP' == 10.242.* ]]"
# answers_from N URL: the distinct answers of N requests from the client replica.
answers_from() {
  "$ZL" exec net-client-0 -- sh -c "for i in \$(seq $1); do timeout 3 wget -qO- $2; echo; done" |
    grep . | sort -u | tr '\n' ' '
}
export -f answers_from
check "from a replica, the service name on the endpoint's port reaches all three replicas" bash -c "
  [[ \$(answers_from 40 http://web.net.zlayer.internal/) == \"\$(printf '%s\n' $A0 $A1 $A2 | sort | tr '\n' ' ')\" ]]"
check "the short name works through the search domain" bash -c "
  [[ \$('$ZL' exec net-client-0 -- timeout 5 wget -qO- http://web/) == 10.241.* ]]"
check "nslookup of the service gives its address, of 1.web replica 1's" bash -c "
  '$ZL' exec net-client-0 -- nslookup web.net.zlayer.internal | grep -q 'Address: $VIP' &&
  '$ZL' exec net-client-0 -- nslookup 1.web.net.zlayer.internal | grep -q 'Address: $A1'"
check "a replica reaches its own service (hairpin)" bash -c "
  [[ \$('$ZL' exec net-web-0 -- sh -c 'for i in 1 2 3 4 5 6 7 8; do timeout 3 wget -qO- http://$VIP/; echo; done' | grep -c .) == 8 ]]"
check "other names are forwarded to the node's resolvers" bash -c "
  '$ZL' exec net-client-0 -- nslookup localhost | grep -q 'Address: 127.0.0.1' ||
  '$ZL' exec net-client-0 -- nslookup $(hostname) | grep -q Address"
"$ZL" exec net-web-2 -- touch /tmp/sick
check "a replica made unhealthy stops receiving connections through the service address" \
  wait_for 20 bash -c "[[ \$('$ZL' ps net -o json | jq -r '.deployments[].services[].replicas[] | select(.container_id == \"net-web-2\") | .ready') != true ]]"
check "and 30 requests through the service never reach it" bash -c "
  ! answers_from 30 http://$VIP/ | grep -qw '$A2'"

# --- isolation between deployments --------------------------------------------------------
cat >"$T/other.yaml" <<YAML
version: v1
deployment: other
services:
  client:
    $IMAGE
    command: {entrypoint: ["/bin/sleep"], args: ["3600"]}
YAML
check "a second deployment deploys" timeout 60 "$ZL" deploy --spec "$T/other.yaml" --wait
check "its replica cannot connect to the first deployment's replicas" bash -c "
  ! '$ZL' exec other-client-0 -- timeout 3 wget -qO- http://$A0:8080/ >/dev/null 2>&1"
check "nor to its service address" bash -c "
  ! '$ZL' exec other-client-0 -- timeout 3 wget -qO- http://$VIP/ >/dev/null 2>&1"
NODE_IP=$(ip -4 route get 1.1.1.1 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "src") print $(i + 1)}')
check "but reaches the node's own network through NAT ($NODE_IP)" bash -c "
  '$ZL' exec other-client-0 -- ping -c 1 -W 2 $NODE_IP >/dev/null"
"$ZL" delete other >/dev/null
check "a replica's eth0 has its address and a default route through the bridge" bash -c "
  '$ZL' exec net-web-0 -- ip -4 addr show eth0 | grep -q '$A0/24' &&
  '$ZL' exec net-web-0 -- ip route | grep -q 'default via 10.241.'"
check "its resolv.conf names the bridge's DNS and the deployment's search domain" bash -c "
  '$ZL' exec net-web-0 -- cat /etc/resolv.conf | grep -q '^nameserver 10.241.' &&
  '$ZL' exec net-web-0 -- cat /etc/resolv.conf | grep -q '^search net.zlayer.internal'"
check "network_mode none: loopback only, no address" bash -c "
  [[ -z \$(address net-alone-0) ]] && [[ \$('$ZL' exec net-alone-0 -- ls /sys/class/net) == lo ]]"
check "network_mode host: the node's interfaces, no address of its own" bash -c "
  [[ -z \$(address net-shared-0) ]] &&
  [[ \$('$ZL' exec net-shared-0 -- ls /sys/class/net | wc -l) -gt 1 ]]"

# --- the agent killed with -9: adopted, same addresses, nothing restarted -------
P1=$(pid_of net-web-1)
agent_pid=$(pgrep -f "zlayer-agent" -P "$init_pid" | head -1)
check "the agent is found" test -n "$agent_pid"
# Requests through the service address from the node the whole time.
(end=$((SECONDS + 6)); fails=0; n=0
 while ((SECONDS < end)); do curl -sf --max-time 2 "http://$VIP/" >/dev/null || fails=$((fails + 1)); n=$((n + 1)); done
 echo "$n $fails" >"$T/during-kill") &
traffic=$!
sleep 1
kill -9 "$agent_pid"
check "the agent comes back" wait_for 60 bash -c "'$ZL' ps net >/dev/null 2>&1"
wait "$traffic"
read -r sent failed <"$T/during-kill"
echo "# requests through the service address across kill -9 of the agent: $sent sent, $failed failed"
check "no request through the service address failed across kill -9 of the agent" test "$failed" == 0
check "after the restart every replica has the same address and pid" wait_for 30 bash -c "
  [[ \$(address net-web-0) == '$A0' && \$(address net-web-1) == '$A1' && \$(address net-web-2) == '$A2' ]] &&
  [[ \$(pid_of net-web-1) == '$P1' ]]"
check "and still answers" bash -c "[[ \$(curl -sf --max-time 5 http://$A1:8080/) == '$A1' ]]"
check "no attachment is doubled" bash -c "[[ \$(ls '$T/data/network/attachments' | wc -l) == 5 ]]"

# --- nothing leaks -----------------------------------------------------------------
leftovers() {
  local n=0
  n=$((n + $(ls "$T/run/netns" 2>/dev/null | wc -l)))
  n=$((n + $(ls "$T/data/network/attachments" 2>/dev/null | wc -l)))
  n=$((n + $(find "$T/data/network/ipam" -type f -name '10.*' 2>/dev/null | wc -l)))
  n=$((n + $(ip -o link show type bridge | grep -c " $BRIDGE_PREFIX")))
  echo "$n"
}
export -f leftovers
export BRIDGE_PREFIX
check "deleting the deployment removes its namespaces, records, reservations and bridge" bash -c "
  '$ZL' delete net >/dev/null && [[ \$($(declare -f leftovers); BRIDGE_PREFIX=$BRIDGE_PREFIX T=$T leftovers) == 0 ]]"
check "and its subnet is released" wait_for 10 bash -c "! grep -q '\"net\"' '$T/data/network/subnets.json'"

cat >"$T/cycle.yaml" <<YAML
version: v1
deployment: cycle
services:
  web:
    $IMAGE
    # Ends at SIGTERM (httpd alone, as PID 1, ignores it), so a cycle does not wait out a grace.
    command: {entrypoint: ["/bin/sh", "-c"], args: ["trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait"]}
    scale: {replicas: 2}
    stop_grace_period: 1s
YAML
cycles_ok=1
for i in $(seq 1 100); do
  "$ZL" deploy --spec "$T/cycle.yaml" --wait >/dev/null 2>&1 || { cycles_ok=0; break; }
  "$ZL" delete cycle >/dev/null 2>&1 || { cycles_ok=0; break; }
done
check "100 create/delete cycles of two replicas succeed" test "$cycles_ok" == 1
check "and leave nothing behind" bash -c "[[ \$(leftovers) == 0 ]]"

# --- node stop and start: the network comes back; a crash's leftovers go --------------
check "a deployment runs again" timeout 60 "$ZL" deploy --spec "$T/cycle.yaml" --wait
C0=$(address_in cycle cycle-web-0)
stop_node
# What a crash can leave of a container that is gone: its record, its namespace, a
# host-local reservation, and a bridge of this node's range that no subnet names.
cat >"$T/data/network/attachments/ghost-web-0.json" <<JSON
{"container_id": "ghost-web-0", "deployment": "ghost", "mode": "loopback", "netns": "$T/run/netns/ghost-web-0"}
JSON
touch "$T/run/netns/ghost-web-0" && unshare -n mount --bind /proc/self/ns/net "$T/run/netns/ghost-web-0"
ipam=$(ls -d "$T"/data/network/ipam/*/ | head -1)
printf 'ghost-web-0\r\neth0' >"$ipam/10.241.0.250"
ip link add zl0af1fe00 type bridge
start_node_or_finish
check "after zlayer-init stop and start the replica has its address again and answers" \
  wait_for 60 bash -c "[[ \$('$ZL' ps cycle -o json | jq -r '.deployments[].services[].replicas[] | select(.container_id == \"cycle-web-0\") | .address') == '$C0' ]] &&
    curl -sf --max-time 5 http://$C0:8080/ | grep -q hello"
check "the leftovers of a container that is gone are removed at start" wait_for 20 bash -c "
  [[ ! -e '$T/data/network/attachments/ghost-web-0.json' && ! -e '$T/run/netns/ghost-web-0' &&
     ! -e '$ipam/10.241.0.250' ]] && ! ip link show zl0af1fe00 >/dev/null 2>&1"
check "and what belongs to running replicas is kept" bash -c "
  [[ -e '$T/data/network/attachments/cycle-web-0.json' ]] && curl -sf --max-time 5 http://$C0:8080/ | grep -q hello"
ip link delete zl0af1fe00 2>/dev/null

finish
