#!/usr/bin/env bash
# `zlayer pull` end to end: a node (zlayer-init with the real containerd and agent) pulls
# test images from Debian's docker-registry on loopback ports - anonymous and with
# htpasswd basic auth - pushed with skopeo: a multi-layer OCI image, an OCI index with two
# platforms, a Docker schema 2 manifest. Checks what a user would: the digest containerd
# records is the one `skopeo inspect` reports, `ctr run` runs the image, a second pull
# fetches nothing, a pull cut off by the registry dying resumes, wrong credentials and
# unknown tags fail naming the registry, a corrupted blob is rejected and nothing is
# stored, and a deployment's pull_policy pulls (or refuses to).
# Prints one line per check and "N passed, M failed"; exit 0 only if M is 0. Needs root.
set -uo pipefail
export LC_ALL=C
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
BIN=${ZLAYER_BIN_DIR:-$ROOT/build/bin}
ZL=$BIN/zlayer

source "$ROOT/test/support/checks.sh"
expect() {  # expect DESCRIPTION GOT WANT
  if [[ $2 == "$3" ]]; then pass "$1"; else fail "$1: got '$2', want '$3'"; fi
}
fatal() { fail "$1"; exit 1; }

if [[ $(id -u) -ne 0 ]]; then echo "FAIL: needs root"; exit 1; fi
for tool in umoci skopeo jq containerd ctr runc docker-registry htpasswd curl ss busybox openssl; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool missing (scripts/install-deps.sh installs it)"; exit 1; }
done

T=$(mktemp -d /tmp/zl-XXXX)
chmod 0755 "$T"
NS=pull$$
export ZLAYER_RUN_DIR=$T/run ZLAYER_DATA_DIR=$T/data ZLAYER_STATE_DIR=$T/data/containers \
  ZLAYER_CONTAINERD_ROOT=$T/root ZLAYER_CONTAINERD_STATE=$T/state CONTAINERD_SOCKET=$T/c.sock \
  ZLAYER_SOCKET=$T/run/agent.sock ZLAYER_NAMESPACE=$NS ZLAYER_WATCHDOG_TIMEOUT=10s \
  ZLAYER_PULL_CONCURRENCY=2
export ZLAYER_TEST_IMAGE_CACHE=${ZLAYER_TEST_IMAGE_CACHE:-$HOME/.cache/zlayer/test-images}
CTR=(timeout 60 ctr --address "$T/c.sock" -n "$NS")
init_pid=
registry_pids=()
container_ids=()

stop_pid() {  # TERM, up to 5 s, then KILL
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}

cleanup() {
  local rc=$? id pid
  trap - EXIT INT TERM
  for id in "${container_ids[@]}"; do
    "${CTR[@]}" tasks kill -s SIGKILL "$id" >/dev/null 2>&1
    "${CTR[@]}" tasks delete -f "$id" >/dev/null 2>&1
    "${CTR[@]}" containers delete "$id" >/dev/null 2>&1
  done
  [[ -n $init_pid ]] && stop_pid "$init_pid"
  for pid in "${registry_pids[@]}"; do stop_pid "$pid"; done
  for pid in $(grep -lazE -- "^$T/c[.]soc[k]\$" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3); do
    kill -KILL "$pid" 2>/dev/null
  done
  awk -v t="$T/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    xargs -r -n1 umount -l 2>/dev/null
  rm -rf "/run/containerd/runc/$NS" "$T"
  find /sys/fs/cgroup -maxdepth 3 -type d -name "$NS" -exec rmdir {} + 2>/dev/null
  echo "$passed passed, $failed failed"
  if ((failed > 0 || rc != 0)); then exit 1; fi
  exit 0
}
trap cleanup EXIT
trap 'fail "interrupted by a signal"; exit 130' INT TERM

# start_registry NAME PORT [AUTH-LINES]: docker-registry on 127.0.0.1:PORT storing in $T/NAME.
start_registry() {
  local name=$1 p=$2 auth=${3:-} i pid
  mkdir -p "$T/$name"
  cat >"$T/$name.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $T/$name
http:
  addr: 127.0.0.1:$p
  secret: zlayer-test
$auth
YML
  docker-registry serve "$T/$name.yml" >>"$T/$name.log" 2>&1 &
  pid=$!
  registry_pids+=("$pid")
  eval "${name}_pid=$pid"
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || return 1
    [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$p/v2/") =~ ^(200|401)$ ]] && return 0
    sleep 0.1
  done
  return 1
}
free_port() {
  local p
  while true; do
    p=$((20000 + RANDOM % 40000))
    [[ -z $(ss -Hltn "sport = :$p") ]] && { echo "$p"; return; }
  done
}
build() { "$ROOT/scripts/build-test-image.sh" "$@" 2>>"$T/build.err"; }
push() { timeout 300 "$ROOT/scripts/push-test-image.sh" "$@" 2>>"$T/push.err"; }
inspect_digest() { timeout 60 skopeo inspect --tls-verify=false "$@" | jq -r .Digest; }
image_digest() { "${CTR[@]}" images ls | awk -v r="$1" '$1 == r { print $3 }'; }
run_in() {  # run_in IMAGE ARGS...: ctr run --rm, output on stdout
  local image=$1 id=t${#container_ids[@]}
  shift
  container_ids+=("$id")
  mkdir -p "$T/fifo"
  "${CTR[@]}" run --rm --fifo-dir "$T/fifo" "$image" "$id" "$@" </dev/null 2>&1
}
zpull() { timeout 300 "$ZL" pull "$@" 2>&1; }
has() { grep -q -- "$2" <<<"$1"; }     # has TEXT PATTERN
lacks() { ! grep -q -- "$2" <<<"$1"; }  # lacks TEXT PATTERN
failed_with() {  # failed_with RC TEXT PATTERN...: RC is non-zero and TEXT has every PATTERN
  local rc=$1 text=$2 p
  shift 2
  [[ $rc -ne 0 ]] || return 1
  for p in "$@"; do has "$text" "$p" || return 1; done
}

# --- images and registries --------------------------------------------------------------
O=$T/out
mkdir -p "$O"
build --layers 3 --filler-mb 3 --tag layered "$O/layered" >/dev/null || fatal "build the multi-layer image"
build --multi-platform --tag multi "$O/multi" >/dev/null || fatal "build the two-platform image"
build "$O/base" >/dev/null || fatal "build the base image"
build --layers 1 --filler-mb 1 --seed corrupt --tag bad "$O/bad" >/dev/null || fatal "build the image to corrupt"
build --layers 4 --filler-mb 40 --seed resume --tag big "$O/big" >/dev/null || fatal "build the big image"

PORT=$(free_port)
start_registry reg "$PORT" || fatal "docker-registry starts"
R=127.0.0.1:$PORT
push "$O/layered" "$R/zlayer/layered" >/dev/null || fatal "push the multi-layer image"
push "$O/multi" "$R/zlayer/multi" >/dev/null || fatal "push the index"
push --format v2s2 "$O/base" "$R/zlayer/busybox:v2s2" >/dev/null || fatal "push a Docker schema 2 image"
push "$O/bad" "$R/zlayer/bad" >/dev/null || fatal "push the image to corrupt"
push "$O/big" "$R/zlayer/big" >/dev/null || fatal "push the big image"
pass "docker-registry on $R holds the test images"

# --- the node ---------------------------------------------------------------------------
"$BIN/zlayer-init" serve >"$T/init.out" 2>"$T/init.err" &
init_pid=$!
for ((i = 0; i < 600; i++)); do grep -q "node is ready" "$T/init.err" && break; sleep 0.1; done
grep -q "node is ready" "$T/init.err" || { tail -20 "$T/init.err"; fatal "the node starts"; }
pass "the node starts"

# --- anonymous pulls --------------------------------------------------------------------
out=$(zpull "$R/zlayer/layered:layered"); rc=$?
expect "zlayer pull of a 4-layer OCI image succeeds" "$rc" 0
want=$(inspect_digest "docker://$R/zlayer/layered:layered")
expect "containerd records the digest skopeo inspect reports" "$(image_digest "$R/zlayer/layered:layered")" "$want"
check "without a terminal, progress is plain lines: verified" has "$out" 'layer .*: verified'
check "... and unpacked" has "$out" 'layer .*: unpacked'
check "... with no terminal escapes" lacks "$out" $'\x1b'
check "the output ends with the pulled image" has "$(tail -1 <<<"$out")" "^pulled $R/zlayer/layered:layered"
expect "ctr runs the pulled image (every layer is there)" \
  "$(run_in "$R/zlayer/layered:layered" /bin/sh -c 'cat /layers/3.txt; cat /filler/*.bin | wc -c' | tr '\n' '|')" \
  "zlayer test layer 3 of 3|$((3 * 1048576))|"
check "zlayer images lists it" bash -c "'$ZL' images | grep -q '$R/zlayer/layered:layered'"

out=$(zpull "$R/zlayer/layered:layered"); rc=$?
expect "a second pull succeeds" "$rc" 0
check "a second pull fetches nothing" lacks "$out" fetching
check "... every blob is already present" test "$(grep -c 'already present' <<<"$out")" -ge 5

out=$(zpull "$R/zlayer/multi:multi"); rc=$?
expect "zlayer pull of a two-platform OCI index succeeds" "$rc" 0
expect "the record points at the index skopeo reports" "$(image_digest "$R/zlayer/multi:multi")" \
  "$(inspect_digest "docker://$R/zlayer/multi:multi")"
check "the amd64 manifest was chosen" has "$out" 'for linux/amd64'
expect "ctr runs the index's image" "$(run_in "$R/zlayer/multi:multi" /bin/echo hello)" hello

out=$(zpull "$R/zlayer/busybox:v2s2"); rc=$?
expect "zlayer pull of a Docker schema 2 manifest succeeds" "$rc" 0
expect "its digest is the one skopeo reports" "$(image_digest "$R/zlayer/busybox:v2s2")" \
  "$(inspect_digest "docker://$R/zlayer/busybox:v2s2")"
expect "ctr runs it" "$(run_in "$R/zlayer/busybox:v2s2" /bin/echo hello)" hello

out=$(zpull "$R/zlayer/layered:nope"); rc=$?
check "an unknown tag fails naming the registry and saying unknown tag" \
  failed_with "$rc" "$out" "registry $R" 'unknown tag'
out=$(zpull "$R/zlayer/nothing:1"); rc=$?
check "an unknown repository fails saying so" failed_with "$rc" "$out" 'unknown repository'
out=$(zpull "127.0.0.1:1/zlayer/x:1"); rc=$?
check "an unreachable registry fails naming it" failed_with "$rc" "$out" 'registry 127.0.0.1:1'

# --- a corrupted blob -----------------------------------------------------------------
bad_layer=$(skopeo inspect --tls-verify=false --raw "docker://$R/zlayer/bad:bad" | jq -r '.layers[1].digest')
blob_file=$T/reg/docker/registry/v2/blobs/sha256/${bad_layer:7:2}/${bad_layer:7}/data
if [[ -f $blob_file ]]; then
  printf '\x00\x01\x02\x03' | dd of="$blob_file" bs=1 seek=100000 conv=notrunc 2>/dev/null
  out=$(zpull "$R/zlayer/bad:bad"); rc=$?
  check "a pull with a corrupted blob fails saying mismatch and naming the blob" \
    failed_with "$rc" "$out" mismatch "$bad_layer"
  expect "... and no image is stored under the name" "$(image_digest "$R/zlayer/bad:bad")" ""
  check "... and the corrupted blob is not in the content store" \
    bash -c "! ${CTR[*]} content ls | grep -q '${bad_layer}'"
else
  fail "the registry stores blobs where the test expects ($blob_file)"
fi

# --- an interrupted pull resumes -------------------------------------------------------
# Freeze the registry (SIGSTOP) once a layer's bytes arrive in an ingest; when, after the
# bytes already in flight have landed, a partial ingest remains, kill it (else let it go on
# and try again); restart it; pull again.
ingest_dir=$T/root/io.containerd.content.v1.content/ingest
partial_ingest() {  # an ingest holding some bytes, not yet committed
  local d
  for d in "$ingest_dir"/*/; do
    [[ -s $d/data ]] && return 0
  done
  return 1
}
"$ZL" pull "$R/zlayer/big:big" >"$T/big1.out" 2>&1 &
pull_pid=$!
cut=
while kill -0 "$pull_pid" 2>/dev/null; do
  partial_ingest || continue
  kill -STOP "$reg_pid"
  sleep 0.5
  if partial_ingest; then cut=1; break; fi
  kill -CONT "$reg_pid"
done
kill -KILL "$reg_pid" 2>/dev/null
kill -CONT "$reg_pid" 2>/dev/null
wait "$reg_pid" 2>/dev/null
wait "$pull_pid"; rc=$?
if [[ -n $cut ]]; then
  check "a pull whose registry dies mid-layer fails" test "$rc" -ne 0
  check "... naming the registry" grep -q "registry $R" "$T/big1.out"
  expect "... and names no image" "$(image_digest "$R/zlayer/big:big")" ""
  start_registry reg "$PORT" || fatal "docker-registry restarts"
  out=$(zpull "$R/zlayer/big:big"); rc=$?
  expect "pulling again succeeds" "$rc" 0
  check "... resuming the partial layer" has "$out" 'resuming at'
  expect "... with the registry's digest" "$(image_digest "$R/zlayer/big:big")" \
    "$(inspect_digest "docker://$R/zlayer/big:big")"
else
  fail "the test could not catch the big pull mid-layer (no partial ingest seen)"
  start_registry reg "$PORT" || fatal "docker-registry restarts"
fi

# --- basic auth --------------------------------------------------------------------------
htpasswd -Bbn zl s3cret >"$T/htpasswd" 2>/dev/null
APORT=$(free_port)
start_registry authreg "$APORT" "auth:
  htpasswd:
    realm: zlayer-test
    path: $T/htpasswd" || fatal "docker-registry with htpasswd starts"
A=127.0.0.1:$APORT
push --creds zl:s3cret "$O/base" "$A/zlayer/private" >/dev/null || fatal "push to the auth registry"
out=$(zpull "$A/zlayer/private:latest"); rc=$?
check "without credentials the pull is refused, saying so" \
  failed_with "$rc" "$out" "registry $A" 'no credentials'
printf '{"auths": {"%s": {"auth": "%s"}}}\n' "$A" "$(printf zl:wrong | base64)" >"$ZLAYER_DATA_DIR/config.json"
out=$(zpull "$A/zlayer/private:latest"); rc=$?
check "wrong credentials from config.json are refused" failed_with "$rc" "$out" "registry $A" unauthorised
printf '{"auths": {"%s": {"auth": "%s"}}}\n' "$A" "$(printf zl:s3cret | base64)" >"$ZLAYER_DATA_DIR/config.json"
out=$(zpull "$A/zlayer/private:latest"); rc=$?
expect "the right credentials from config.json pull the image" "$rc" 0
expect "... with the registry's digest" "$(image_digest "$A/zlayer/private:latest")" \
  "$(inspect_digest --creds zl:s3cret "docker://$A/zlayer/private:latest")"

# --- bearer token auth ---------------------------------------------------------------------
# docker-registry with `auth: token`; the tokens come from a CGI script under busybox httpd
# that signs a JWT (RS256, its certificate in the x5c header) for whatever scope is asked.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/token.key" -out "$T/token.crt" -days 1 \
  -subj /CN=zlayer-test-token >/dev/null 2>&1 || fatal "make the token signing key"
openssl x509 -in "$T/token.crt" -outform DER | base64 -w0 >"$T/token.der.b64"
mkdir -p "$T/www/cgi-bin"
cat >"$T/www/cgi-bin/token" <<CGI
#!/bin/sh
b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
echo "\$QUERY_STRING" >>"$T/token-requests.log"
q=\$(printf '%s' "\$QUERY_STRING" | sed 's/%3[Aa]/:/g; s/%2[Ff]/\//g; s/%2[Cc]/,/g')
access=
for part in \$(printf '%s' "\$q" | tr '&' ' '); do
  case \$part in scope=repository:*)
    s=\${part#scope=repository:}; name=\${s%:*}
    acts=\$(printf '%s' "\${s##*:}" | sed 's/[^,][^,]*/"&"/g')
    access="\$access\${access:+,}{\"type\":\"repository\",\"name\":\"\$name\",\"actions\":[\$acts]}";;
  esac
done
now=\$(date +%s)
header=\$(printf '{"typ":"JWT","alg":"RS256","x5c":["%s"]}' "\$(cat $T/token.der.b64)" | b64url)
claims=\$(printf '{"iss":"zlayer-test-issuer","sub":"anonymous","aud":"zlayer-test","exp":%d,"nbf":%d,"iat":%d,"jti":"j%s","access":[%s]}' \$((now + 60)) \$((now - 10)) \$now "\$now\$\$" "\$access" | b64url)
sig=\$(printf '%s.%s' "\$header" "\$claims" | openssl dgst -sha256 -sign $T/token.key | b64url)
printf 'Content-Type: application/json\r\n\r\n{"token":"%s.%s.%s","expires_in":60}' "\$header" "\$claims" "\$sig"
CGI
chmod 0755 "$T/www/cgi-bin/token"
TPORT=$(free_port)
busybox httpd -f -p "127.0.0.1:$TPORT" -h "$T/www" &
registry_pids+=("$!")
KPORT=$(free_port)
start_registry tokreg "$KPORT" "auth:
  token:
    realm: http://127.0.0.1:$TPORT/cgi-bin/token
    service: zlayer-test
    issuer: zlayer-test-issuer
    rootcertbundle: $T/token.crt" || fatal "docker-registry with token auth starts"
K=127.0.0.1:$KPORT
if push "$O/base" "$K/zlayer/tokened" >/dev/null; then
  out=$(zpull "$K/zlayer/tokened:latest"); rc=$?
  expect "a registry with bearer tokens: the pull succeeds" "$rc" 0
  expect "... with the registry's digest" "$(image_digest "$K/zlayer/tokened:latest")" \
    "$(inspect_digest "docker://$K/zlayer/tokened:latest")"
  check "... the agent asked the token server for pull access to the repository" \
    grep -q 'scope=repository%3Azlayer%2Ftokened%3Apull' "$T/token-requests.log"
else
  fail "push to the token-auth registry (see $T/push.err)"; tail -3 "$T/push.err"
fi

# --- pull policies ------------------------------------------------------------------------
check "zlayer image rm removes a pulled image" "$ZL" image rm "$R/zlayer/busybox:v2s2"
expect "... containerd no longer lists it" "$(image_digest "$R/zlayer/busybox:v2s2")" ""
cat >"$T/never.yaml" <<YAML
version: v1
deployment: never
services:
  app:
    image: {name: "$R/zlayer/busybox:v2s2", pull_policy: never}
    command: {entrypoint: ["/bin/sleep", "1000"]}
YAML
timeout 30 "$ZL" deploy --spec "$T/never.yaml" >"$T/never.out" 2>&1
said=
for ((i = 0; i < 150; i++)); do  # the reconciler tries (and fails) to create the replica
  if "$ZL" ps -o json 2>/dev/null | grep -q 'pull_policy is never' ||
     grep -q 'pull_policy is never' "$T/init.err" "$T/never.out"; then said=1; break; fi
  sleep 0.2
done
check "pull_policy never does not pull a missing image, and says why" test -n "$said"
check "... the image is still not on the node" test -z "$(image_digest "$R/zlayer/busybox:v2s2")"
timeout 60 "$ZL" delete never >/dev/null 2>&1
cat >"$T/ifnp.yaml" <<YAML
version: v1
deployment: ifnp
services:
  app:
    image: {name: "$R/zlayer/busybox:v2s2", pull_policy: if_not_present}
    command: {entrypoint: ["/bin/sleep", "1000"]}
YAML
check "pull_policy if_not_present pulls the missing image and the replica runs" \
  timeout 120 "$ZL" deploy --spec "$T/ifnp.yaml" --wait
expect "... the image is now on the node" "$(image_digest "$R/zlayer/busybox:v2s2")" \
  "$(inspect_digest "docker://$R/zlayer/busybox:v2s2")"
timeout 60 "$ZL" delete ifnp >/dev/null 2>&1
