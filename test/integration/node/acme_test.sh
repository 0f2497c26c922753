#!/usr/bin/env bash
# Automatic certificates on a whole node (issue 14), against Debian's pebble (the ACME test
# CA of the Let's Encrypt team) doing real HTTP-01 validation on the node's port-80 listener
# (pebble's DNS, pebble-challtestsrv, resolves every name to the node's ingress address):
# a certificate obtained for an https host and served by SNI, verified against pebble's
# chain; a wildcard host refused (HTTP-01 cannot validate it) and kept self-signed;
# renewal within the renewal window, with the account reused after a node restart; a
# failing CA (pebble stopped) leaves the self-signed certificate serving and is retried
# later; a user certificate placed in the certs directory replaces the ACME one without a
# restart.
# Ports: pebble and its DNS on 127.0.0.1:18600-18604, lego's challenge server on
# 127.0.0.1:18610; the node listens on its own loopback address and network ranges.
source "$(dirname "$0")/lib.sh"
export ZLAYER_NETWORK_CIDR=${ACME_TEST_NETWORK:-10.246.0.0/16} ZLAYER_SERVICE_CIDR=${ACME_TEST_SERVICES:-10.247.0.0/16}
IP=${ACME_TEST_ADDRESS:-127.0.14.1}
export ZLAYER_INGRESS_ADDRESS=$IP
PEBBLE_PORT=18600 PEBBLE_MANAGEMENT=18601 DNS_PORT=18602 DNS_MANAGEMENT=18603 PEBBLE_TLS_PORT=18604
P=$T/pebble
mkdir -p "$P"

# pebble's API certificate: the node trusts it through ZLAYER_ACME_CA_BUNDLE.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$P/key.pem" -out "$P/api.pem" -days 2 \
  -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
cat >"$P/config.json" <<EOF
{"pebble": {"listenAddress": "127.0.0.1:$PEBBLE_PORT", "managementListenAddress": "127.0.0.1:$PEBBLE_MANAGEMENT",
  "certificate": "$P/api.pem", "privateKey": "$P/key.pem", "httpPort": 80, "tlsPort": $PEBBLE_TLS_PORT,
  "ocspResponderURL": "", "externalAccountBindingRequired": false}}
EOF
pebble-challtestsrv -defaultIPv4 "$IP" -defaultIPv6 "" -dns01 "127.0.0.1:$DNS_PORT" -http01 "" \
  -https01 "" -tlsalpn01 "" -management "127.0.0.1:$DNS_MANAGEMENT" >>"$P/dns.log" 2>&1 &
dns_pid=$!
pebble_pid=
start_pebble() {
  PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 pebble -config "$P/config.json" \
    -dnsserver "127.0.0.1:$DNS_PORT" >>"$P/pebble.log" 2>&1 &
  pebble_pid=$!
  wait_for 20 curl -sfk -o /dev/null "https://127.0.0.1:$PEBBLE_PORT/dir"
}
stop_pebble() { kill "$pebble_pid" 2>/dev/null; wait "$pebble_pid" 2>/dev/null; pebble_pid=; }
trap 'stop_pebble; kill $dns_pid 2>/dev/null; cleanup' EXIT
# pebble's issuing chain (new at each start of pebble), to verify what the node serves.
fetch_chain() {
  curl -sfk "https://127.0.0.1:$PEBBLE_MANAGEMENT/roots/0" >"$P/chain.pem" &&
    curl -sfk "https://127.0.0.1:$PEBBLE_MANAGEMENT/intermediates/0" >>"$P/chain.pem"
}

check "pebble (the ACME test CA) starts" start_pebble
export ZLAYER_ACME_EMAIL=ops@zlayer.test ZLAYER_ACME_DIRECTORY=https://127.0.0.1:$PEBBLE_PORT/dir \
  ZLAYER_ACME_CA_BUNDLE=$P/api.pem ZLAYER_ACME_CHALLENGE_ADDRESS=127.0.0.1:18610 ZLAYER_ACME_RETRY=2s
start_node_or_finish
check "the test image is imported" import_test_image
check "zlayer-init runs HAProxy" wait_for 20 test -S "$T/run/ingress/admin.sock"

IMAGE='image: {name: "zlayer/busybox:latest", pull_policy: never}'
HEALTH='health: {start_grace: 30s, interval: 200ms, timeout: 2s, retries: 1, check: {type: tcp, port: 8080}}'
site() {  # $1 deployment, $2 its https host: a replica answering "<deployment>" on 443
  cat >"$T/$1.yaml" <<YAML
version: v1
deployment: $1
services:
  web:
    $IMAGE
    command: {entrypoint: ["/bin/sh", "-c"], args: ["mkdir -p /tmp/w && echo $1 >/tmp/w/index.html && exec httpd -f -p 8080 -h /tmp/w"]}
    endpoints: [{name: tls, protocol: https, port: 443, target_port: 8080, host: "$2", expose: public}]
    $HEALTH
YAML
  timeout 120 "$ZL" deploy --spec "$T/$1.yaml" --wait
}
# certificate field of host $1 in `zlayer certs -o json`
cert_field() { "$ZL" certs -o json | jq -r --arg h "$1" ".certificates[] | select(.host == \$h) | $2"; }
# The certificate the node serves for SNI $1: "<serial> <issuer>".
served() {
  openssl s_client -connect "$IP:443" -servername "$1" </dev/null 2>/dev/null |
    openssl x509 -noout -serial -issuer 2>/dev/null | tr '\n' ' '
}
export -f cert_field served
export IP P

check "an https deployment with a host deploys" site shop shop.test
check "a wildcard https host deploys" site wild '*.wild.test'
check "the node obtains a certificate for shop.test from the CA (zlayer certs: acme)" \
  wait_for 90 bash -c '[[ $(cert_field shop.test .source) == acme ]]'
check "pebble validated the challenge on the node's port 80" grep -q "set VALID by completed challenge" "$P/pebble.log"
check "pebble's chain is fetched" fetch_chain
check "https://shop.test/ is served with it by SNI, verified against pebble's chain" \
  wait_for 20 bash -c 'curl -sf -m 5 --cacert "$P/chain.pem" --resolve shop.test:443:$IP https://shop.test/ | grep -qx shop'
check "its issuer is pebble's intermediate" bash -c 'served shop.test | grep -q "Pebble Intermediate"'
check "zlayer certs shows its expiry" bash -c '[[ $(cert_field shop.test .not_after) == 20* ]]'
check "the wildcard host is refused by ACME and says why" \
  bash -c 'cert_field "*.wild.test" .acme.last_error | grep -qi wildcard'
check "the wildcard host keeps a self-signed certificate" \
  bash -c '[[ $(cert_field "*.wild.test" .source) == self-signed ]]'
check "https to the wildcard host completes (self-signed)" \
  bash -c 'curl -sfk -m 5 --resolve a.wild.test:443:$IP https://a.wild.test/ | grep -qx wild'
check "zlayer routes says why the wildcard has no real certificate" \
  bash -c '"$ZL" routes | grep -i "note" | grep -q "wild.test"'
check "the challenge path answers before any route (no route's 404)" \
  bash -c '[[ $(curl -s -m 5 -o /dev/null -w "%{http_code}" -H "Host: shop.test" http://$IP/.well-known/acme-challenge/x) != 404 ]]'

# Renewal and the account: a restarted node whose renewal window covers the whole
# certificate renews it with the account it already has.
serial_before=$(served shop.test | awk '{print $1}')
accounts_before=$(find "$T/data/acme/accounts" -name account.json -exec sha256sum {} + | sort)
check "the node stops" stop_node
export ZLAYER_ACME_RENEW_BEFORE=87600h  # pebble's certificates are valid 5 years
check "the node starts again with a 10-year renewal window" start_node
check "the certificate is renewed: a new one is served" \
  wait_for 90 bash -c "served shop.test | grep -v '$serial_before' | grep -q 'Pebble Intermediate'"
check "the account was reused: the same single account file" \
  bash -c "[[ \"\$(find '$T/data/acme/accounts' -name account.json -exec sha256sum {} + | sort)\" == '$accounts_before' ]] && [[ \$(find '$T/data/acme/accounts' -name account.json | wc -l) == 1 ]]"
unset ZLAYER_ACME_RENEW_BEFORE

# A failing CA: the new host serves self-signed, the error is shown, and a retry later
# succeeds once the CA is back.
check "pebble stops (the CA fails)" stop_pebble
check "a second https host deploys while the CA is down" site blog blog.test
check "its failure is shown by zlayer certs" \
  wait_for 60 bash -c '[[ -n $(cert_field blog.test .acme.last_error) ]]'
check "it serves a self-signed certificate meanwhile" \
  bash -c '[[ $(cert_field blog.test .source) == self-signed ]] && curl -sfk -m 5 --resolve blog.test:443:$IP https://blog.test/ | grep -qx blog'
check "pebble starts again" start_pebble
check "a later retry obtains the certificate" wait_for 120 bash -c '[[ $(cert_field blog.test .source) == acme ]]'
check "and it is served" wait_for 20 bash -c 'served blog.test | grep -q "Pebble Intermediate"'
# pebble keeps its accounts in memory: the restarted one no longer knows the node's.
check "the CA's lost account was noticed and a new one registered" \
  grep -q "does not know the account of ops@zlayer.test" "$T/init.err"

# The user's certificate wins, picked up without a restart.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=Test User CA" \
  -keyout "$T/ca.key" -out "$T/ca.crt" -addext basicConstraints=critical,CA:TRUE 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=shop.test \
  -keyout "$T/shop.key" -out "$T/shop.csr" 2>/dev/null
openssl x509 -req -in "$T/shop.csr" -CA "$T/ca.crt" -CAkey "$T/ca.key" -CAcreateserial -days 2 \
  -extfile <(echo "subjectAltName=DNS:shop.test") -out "$T/shop.crt" 2>/dev/null
mkdir -p "$T/data/certs"
cp "$T/shop.key" "$T/data/certs/shop.test.key" && cp "$T/shop.crt" "$T/data/certs/shop.test.crt"
check "a user certificate put in the certs directory replaces the ACME one, without a restart" \
  wait_for 20 bash -c 'curl -sf -m 5 --cacert "$T/ca.crt" --resolve shop.test:443:$IP https://shop.test/ | grep -qx shop'
# The new worker may serve before the agent has seen its reload end: wait for it.
check "zlayer certs shows it as the user's" wait_for 10 bash -c '[[ $(cert_field shop.test .source) == user ]]'

check "the node stops cleanly" stop_node
finish
