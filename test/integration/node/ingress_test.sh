#!/usr/bin/env bash
# The node's ingress on a whole node (issue 13), with the real HAProxy run by
# zlayer-init: public endpoints of two deployments routed by host and path on
# one port, a wildcard host, 404 and 503, the headers a replica sees, a tcp
# endpoint, a udp endpoint (nftables), HTTPS with a certificate from the certs directory chosen by SNI and
# replaced without a restart, HTTP/2; a rolling update and a scale-down under
# load with zero failed requests; the agent killed with -9 under load, and
# HAProxy's worker (failures reported); a route
# another deployment owns refused with nothing changed; `zlayer routes`.
# Listens on its own loopback address (ZLAYER_INGRESS_ADDRESS) and its own
# network ranges, so that it never meets another node on this host.
source "$(dirname "$0")/lib.sh"
export ZLAYER_NETWORK_CIDR=${INGRESS_TEST_NETWORK:-10.248.0.0/16} ZLAYER_SERVICE_CIDR=${INGRESS_TEST_SERVICES:-10.249.0.0/16}
IP=${INGRESS_TEST_ADDRESS:-127.0.13.1}
export ZLAYER_INGRESS_ADDRESS=$IP

start_node_or_finish
check "the test image is imported" import_test_image
check "zlayer-init runs HAProxy" wait_for 20 test -S "$T/run/ingress/admin.sock"

IMAGE='image: {name: "zlayer/busybox:latest", pull_policy: never}'
# Ready as soon as httpd listens (failures during the grace do not count).
HEALTH='health: {start_grace: 30s, interval: 200ms, timeout: 2s, retries: 1, check: {type: tcp, port: 8080}}'
# A replica that answers "<deployment> <its address> <version>" on /, and its
# request headers (CGI environment) on /cgi-bin/env.
serve() {  # $1 deployment, $2 version
  echo "[\"mkdir -p /tmp/w/cgi-bin && echo $1 \$(hostname -i) $2 >/tmp/w/index.html && cp /tmp/w/index.html /tmp/w/api && printf '#!/bin/sh\\\\necho Content-Type: text/plain\\\\necho\\\\nenv\\\\n' >/tmp/w/cgi-bin/env && chmod +x /tmp/w/cgi-bin/env && exec httpd -f -p 8080 -h /tmp/w\"]"
}
write_shop() {  # $1 version, $2 replicas
  cat >"$T/shop.yaml" <<YAML
version: v1
deployment: shop
services:
  web:
    $IMAGE
    command: {entrypoint: ["/bin/sh", "-c"], args: $(serve shop "$1")}
    scale: {replicas: $2}
    stop_grace_period: 5s
    endpoints:
      - {name: http, protocol: http, port: 80, target_port: 8080, host: shop.test, expose: public}
      - {name: tls, protocol: https, port: 443, target_port: 8080, host: shop.test, expose: public}
      - {name: any, protocol: http, port: 80, target_port: 8080, host: "*.shop.test", expose: public}
    $HEALTH
  api:
    $IMAGE
    command: {entrypoint: ["/bin/sh", "-c"], args: $(serve shop-api 1)}
    endpoints: [{name: http, protocol: http, port: 80, target_port: 8080, host: shop.test, path: /api, expose: public}]
    $HEALTH
  echo:
    $IMAGE
    # Its udp server is the test's (busybox has none), run in each replica's namespace.
    command: {entrypoint: ["/bin/sleep"], args: ["3600"]}
    scale: {replicas: 2}
    endpoints: [{name: echo, protocol: udp, port: 5300, target_port: 5353, expose: public}]
  raw:
    $IMAGE
    command: {entrypoint: ["/bin/sh", "-c"], args: $(serve shop-raw 1)}
    endpoints: [{name: plain, protocol: tcp, port: 9000, target_port: 8080, expose: public}]
    $HEALTH
YAML
}
write_shop 1 3
cat >"$T/blog.yaml" <<YAML
version: v1
deployment: blog
services:
  web:
    $IMAGE
    command: {entrypoint: ["/bin/sh", "-c"], args: $(serve blog 1)}
    endpoints: [{name: http, protocol: http, port: 80, target_port: 8080, host: blog.test, expose: public}]
    $HEALTH
  down:
    $IMAGE
    command: {entrypoint: ["/bin/sh", "-c"], args: ["exec sleep 3600"]}
    endpoints: [{name: http, protocol: http, port: 80, target_port: 8080, host: down.test, expose: public}]
    health: {start_grace: 60s, interval: 1s, timeout: 1s, retries: 1, check: {type: tcp, port: 8080}}
YAML
check "a deployment with public endpoints deploys" timeout 120 "$ZL" deploy --spec "$T/shop.yaml" --wait
check "a second one on the same port deploys" timeout 120 "$ZL" deploy --spec "$T/blog.yaml"

get() {  # $1 host, $2 path: prints "<status> <body>"
  curl -s -m 5 -o /tmp/body.$$ -w '%{http_code}' -H "Host: $1" "http://$IP$2"; echo " $(cat /tmp/body.$$ 2>/dev/null)"
}
export -f get
export IP
check "the port-80 listener answers for shop.test" wait_for 20 bash -c 'get shop.test / | grep -q "^200 shop "'
check "blog.test on the same port reaches the other deployment" wait_for 20 bash -c 'get blog.test / | grep -q "^200 blog "'
check "a path routes to its own service" bash -c 'get shop.test /api | grep -q "^200 shop-api "'
check "the path is a prefix on / boundaries: /apix is the web service's" bash -c 'get shop.test /apix | grep -q "^404 "'
check "a wildcard host matches one level down" bash -c 'get a.shop.test / | grep -q "^200 shop "'
check "a wildcard host matches any depth" bash -c 'get a.b.shop.test / | grep -q "^200 shop "'
check "host matching ignores case and port" bash -c 'get SHOP.Test:80 / | grep -q "^200 shop "'
check "an unknown host gets 404 with a JSON body" bash -c 'get nowhere.test / | grep -q "^404 {"'
check "a route with no ready replica gets 503 with a JSON body" bash -c 'get down.test / | grep -q "^503 {"'
check "requests reach every replica of a service" bash -c \
  'for i in $(seq 12); do get shop.test /; done | sort -u | wc -l | grep -qx 3'

headers=$(curl -s -m 5 -H "Host: shop.test" -H "X-Forwarded-For: 1.2.3.4" "http://$IP/cgi-bin/env")
check "the replica sees X-Forwarded-For appended" grep -qx "HTTP_X_FORWARDED_FOR=1.2.3.4, 127.0.0.1" <<<"$headers"
check "the replica sees X-Forwarded-Proto" grep -q "HTTP_X_FORWARDED_PROTO=http" <<<"$headers"
check "the replica sees X-Forwarded-Host" grep -q "HTTP_X_FORWARDED_HOST=shop.test" <<<"$headers"
check "the replica sees X-Real-IP" grep -q "HTTP_X_REAL_IP=127.0.0.1" <<<"$headers"

check "a tcp endpoint forwards the connection to its replica" bash -c "curl -s -m 5 http://$IP:9000/ | grep -q '^shop-raw '"

# UDP: a server in each echo replica's network namespace answers with its address.
udp_servers=()
for i in 0 1; do
  pid=$("$ZL" ps shop -o json | jq -r ".deployments[].services[].replicas[] | select(.container_id == \"shop-echo-$i\") | .pid")
  addr=$("$ZL" ps shop -o json | jq -r ".deployments[].services[].replicas[] | select(.container_id == \"shop-echo-$i\") | .address")
  nsenter -t "$pid" -n python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 5353))
while True:
    data, peer = s.recvfrom(512)
    s.sendto(sys.argv[1].encode(), peer)' "$addr" &
  udp_servers+=($!)
done
ask_udp() {
  python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.sendto(b"who", (sys.argv[1], 5300))
print(s.recvfrom(512)[0].decode())' "$IP"
}
export -f ask_udp
check "a udp endpoint forwards datagrams to its replicas, both of them" wait_for 20 bash -c \
  'for i in $(seq 20); do ask_udp; done | sort -u | wc -l | grep -qx 2'
kill "${udp_servers[@]}" 2>/dev/null

# HTTPS: no certificate yet, so the node's self-signed one; then the user's, chosen by SNI.
check "HTTPS completes with a self-signed certificate when the host has none" bash -c \
  "curl -sk -m 5 --resolve shop.test:443:$IP https://shop.test/ | grep -q '^shop '"
mkdir -p "$T/ca" "$ZLAYER_DATA_DIR/certs"
make_cert() {  # $1 host, $2 file base; signed by the test CA
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$1" -addext "subjectAltName=DNS:$1" \
    -CA "$T/ca/ca.crt" -CAkey "$T/ca/ca.key" -keyout "$2.key.tmp" -out "$2.crt.tmp" 2>/dev/null &&
    mv "$2.key.tmp" "$2.key" && mv "$2.crt.tmp" "$2.crt"
}
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=zlayer test CA" \
  -keyout "$T/ca/ca.key" -out "$T/ca/ca.crt" 2>/dev/null
check "a certificate put in the certs directory" make_cert shop.test "$ZLAYER_DATA_DIR/certs/shop.test"
check "is served for its host by SNI without a restart, verified against its CA" wait_for 20 bash -c \
  "curl -s -m 5 --cacert '$T/ca/ca.crt' --resolve shop.test:443:$IP https://shop.test/ | grep -q '^shop '"
serial() { openssl s_client -connect "$IP:443" -servername shop.test </dev/null 2>/dev/null | openssl x509 -noout -serial; }
first_serial=$(serial)
check "a replaced certificate" make_cert shop.test "$ZLAYER_DATA_DIR/certs/shop.test"
check "is served without a restart" wait_for 20 bash -c "[[ \$(openssl s_client -connect '$IP:443' -servername shop.test </dev/null 2>/dev/null | openssl x509 -noout -serial) != '$first_serial' ]]"
check "HTTP/2 is negotiated over TLS" bash -c \
  "curl -s -m 5 --http2 -o /dev/null -w '%{http_version}' --cacert '$T/ca/ca.crt' --resolve shop.test:443:$IP https://shop.test/ | grep -qx 2"

# Under load: a rolling update, a scale-down, the agent killed with -9.
load() {  # $1 seconds, $2 output file. A slow answer is not a failed one: wrk's 2 s
  # timeout would count the stalls of this shared machine, so 10 s.
  wrk -t2 -c16 -d"$1"s --timeout 10s -H "Host: shop.test" "http://$IP/" >"$2" 2>&1
}
no_errors() {  # $1 wrk output: requests made, none failed
  grep -q "requests in" "$1" && ! grep -qE "Socket errors|Non-2xx" "$1"
}
load 25 "$T/wrk-rollout.txt" &
wrk_pid=$!
sleep 2
write_shop 2 3
check "a rolling update of three replicas under load completes" timeout 120 "$ZL" deploy --spec "$T/shop.yaml" --wait
write_shop 2 1
check "a scale-down from three to one under load completes" timeout 60 "$ZL" deploy --spec "$T/shop.yaml" --wait
wait $wrk_pid
check "the rolling update and scale-down failed no request (wrk: $(grep -E 'requests in|errors|Non-2xx' "$T/wrk-rollout.txt" | tr -s ' ' | tr '\n' ';'))" no_errors "$T/wrk-rollout.txt"
check "every answer now comes from the new version" bash -c 'for i in 1 2 3; do get shop.test /; done | grep -v " 2$" | wc -l | grep -qx 0'

load 10 "$T/wrk-kill.txt" &
wrk_pid=$!
sleep 2
pkill -KILL -x zlayer-agent -P "$init_pid"
wait $wrk_pid
check "the agent killed with -9 under load failed no request (wrk: $(grep -E 'requests in|errors|Non-2xx' "$T/wrk-kill.txt" | tr -s ' ' | tr '\n' ';'))" no_errors "$T/wrk-kill.txt"
check "the agent is back" wait_for 30 "$ZL" ps

# HAProxy's worker killed with -9 under load: its master exits too and zlayer-init starts
# HAProxy again from the agent's files. Connections in flight at that moment fail, and
# new ones are refused until it listens again: counted and reported, not asserted.
load 10 "$T/wrk-haproxy.txt" &
wrk_pid=$!
sleep 2
master=$(pgrep -f -o "haproxy -Ws -f $T/run/ingress/haproxy.cfg")
worker=$(pgrep -P "$master" -n haproxy)
kill -KILL "$worker"
wait $wrk_pid
check "HAProxy's worker killed with -9 under load: served again from the files (wrk: $(grep -E 'requests in|errors|Non-2xx' "$T/wrk-haproxy.txt" | tr -s ' ' | tr '\n' ';'))" \
  wait_for 20 bash -c 'get shop.test / | grep -q "^200 shop " && get blog.test / | grep -q "^200 blog "'
check "zlayer-init restarted HAProxy" bash -c "[[ \$(pgrep -f -o 'haproxy -Ws -f $T/run/ingress/haproxy.cfg') != '$master' ]]"

# A route another deployment owns.
cat >"$T/thief.yaml" <<YAML
version: v1
deployment: thief
services:
  web:
    $IMAGE
    command: {entrypoint: ["/bin/sh", "-c"], args: $(serve thief 1)}
    endpoints: [{name: http, protocol: http, port: 80, target_port: 8080, host: blog.test, expose: public}]
YAML
out=$("$ZL" deploy --spec "$T/thief.yaml" 2>&1)
check "a deploy claiming another deployment's host and path is refused, naming it" grep -q "blog" <<<"$out"
check "and nothing of it was created" bash -c "! '$ZL' ps thief 2>/dev/null | grep -q thief-web"
check "blog.test still reaches blog" bash -c 'get blog.test / | grep -q "^200 blog "'

routes=$("$ZL" routes)
check "zlayer routes lists the listeners and routes (table)" bash -c \
  "grep -E '^80 +http +shop.test +/api +shop/api:8080' <<<'$routes' >/dev/null && grep -E '^443 +https +shop.test' <<<'$routes' >/dev/null && grep -E '^9000 +tcp' <<<'$routes' >/dev/null"
# Not hidden: jq -e's exit status is the assertion (1 when the count is not 1);
# only its printed "true" goes to /dev/null.
check "zlayer routes -o json shows the replicas in rotation" bash -c \
  "'$ZL' routes -o json | jq -e '[.listeners[] | select(.port == 80) | .routes[] | select(.host == \"blog.test\") | .replicas[] | select(.in_rotation == true)] | length == 1' >/dev/null"

check "the node stops cleanly" stop_node
finish
