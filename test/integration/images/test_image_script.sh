#!/usr/bin/env bash
# Integration test of scripts/build-test-image.sh and scripts/push-test-image.sh against the
# real things: umoci/skopeo read the images, a private containerd imports and runs them, and
# Debian's docker-registry (anonymous and htpasswd) receives the pushes.
#
#   bash test/integration/images/test_image_script.sh      (as root; ctest runs it)
#
# Everything lives under one /tmp/zl-XXXX directory (short: containerd's socket path must
# stay under 108 bytes) and a containerd namespace of its own (runc shims keep state under
# /run/containerd/runc/<namespace> whatever containerd's --state is). The EXIT trap stops
# what the test started, unmounts and removes it, even when a check fails.
# Prints one line per check and closes with "N passed, M failed"; exit 0 only if M is 0.
# Exit 77 (ctest: skipped) when not root or a tool is missing.
set -uo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
build_image=$repo/scripts/build-test-image.sh
push_image=$repo/scripts/push-test-image.sh

# scripts/test.sh runs as root after installing every tool: a missing one is
# an install step to fix, so it fails the test instead of skipping it.
if [[ $(id -u) -ne 0 ]]; then
  echo "FAIL: needs root (starts containerd, mounts overlayfs)"
  exit 1
fi
for tool in umoci skopeo jq openssl containerd ctr runc docker-registry htpasswd curl ss flock; do
  if ! command -v "$tool" >/dev/null; then
    echo "FAIL: $tool missing (scripts/install-deps.sh installs it)"
    exit 1
  fi
done

passed=0 failed=0
pass() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
# check DESCRIPTION COMMAND...: passes when COMMAND succeeds.
check() {
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}
# expect DESCRIPTION GOT WANT
expect() {
  if [[ $2 == "$3" ]]; then pass "$1"; else fail "$1: got '$2', want '$3'"; fi
}
# fatal DESCRIPTION: a failure the rest cannot go on without.
fatal() {
  fail "$1"
  exit 1
}

T=$(mktemp -d /tmp/zl-XXXX)
chmod 0755 "$T"
NS=imgtest-${T##*-}-$$
SOCK=$T/c.sock
export ZLAYER_TEST_IMAGE_CACHE=$T/cache
containerd_pid=
registry_pids=()
container_ids=()

stop_pid() {  # stop_pid PID: TERM, up to 5 s, then KILL
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}

# Pids of processes whose command line names our socket: our containerd's shims. One grep
# over all cmdlines (-z: one argument a line); the brackets keep grep from matching its own.
our_shims() {
  grep -lazE -- "^$T/c[.]soc[k]\$" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3
}

our_mounts() { awk -v t="$T/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r; }

cleanup() {
  local rc=$? id pid m
  trap - EXIT INT TERM
  if [[ -n $containerd_pid ]]; then
    for id in "${container_ids[@]}"; do
      timeout 10 ctr --address "$SOCK" -n "$NS" tasks kill -s SIGKILL "$id" >/dev/null 2>&1
      timeout 10 ctr --address "$SOCK" -n "$NS" tasks delete -f "$id" >/dev/null 2>&1
      timeout 10 ctr --address "$SOCK" -n "$NS" containers delete "$id" >/dev/null 2>&1
    done
    stop_pid "$containerd_pid"
  fi
  for pid in $(our_shims); do kill -KILL "$pid" 2>/dev/null; done
  for pid in "${registry_pids[@]}"; do stop_pid "$pid"; done
  for m in $(our_mounts); do umount "$m" 2>/dev/null || umount -l "$m"; done
  for id in "${container_ids[@]}"; do
    # The shim's socket, named like containerd's shim.SocketAddress does.
    rm -f "/run/containerd/s/$(printf '%s' "$SOCK/$NS/$id" | sha256sum | cut -c1-64)"
  done
  rm -rf "/run/containerd/runc/$NS"
  # runc leaves the (empty) cgroup parents named after the namespace.
  find /sys/fs/cgroup -maxdepth 3 -type d -name "$NS" -exec rmdir {} + 2>/dev/null

  check "cleanup: no shim of ours left" test -z "$(our_shims)"
  check "cleanup: nothing mounted under $T" test -z "$(our_mounts)"
  rm -rf "$T"
  check "cleanup: $T removed" test ! -e "$T"
  echo "$passed passed, $failed failed"
  if ((failed > 0 || rc != 0)); then exit 1; fi
  exit 0
}
trap cleanup EXIT
trap 'fail "interrupted by a signal"; exit 130' INT TERM

mkdir -p "$T/out"
O=$T/out

# build ARGS... : runs the build script, stdout = digest, stderr kept in $T/build.err.
build() { "$build_image" "$@" 2>"$T/build.err"; }
layer_count() { umoci stat --image "$1" --json | jq '[.history[] | select(.layer != null)] | length'; }
first_layer_blob() { echo "$1/blobs/sha256/$(skopeo inspect "oci:$1:$2" | jq -r '.Layers[0]' | cut -d: -f2)"; }

echo "# building images (cache $ZLAYER_TEST_IMAGE_CACHE)"
start=$(date +%s%N)
base_digest=$(build "$O/base") || { cat "$T/build.err"; fatal "build the default image"; }
pass "build the default image: $base_digest"
echo "#   first build took $(( ($(date +%s%N) - start) / 1000000 )) ms"

expect "default image has one layer" "$(layer_count "$O/base:latest")" 1
cfg=$(skopeo inspect --config "oci:$O/base:latest")
expect "config Cmd is /bin/sh" "$(jq -c .config.Cmd <<<"$cfg")" '["/bin/sh"]'
expect "config Env is PATH" "$(jq -r '.config.Env[0]' <<<"$cfg")" \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
expect "config WorkingDir is /" "$(jq -r .config.WorkingDir <<<"$cfg")" /
expect "config exposes 80/tcp" "$(jq -c '.config.ExposedPorts | keys' <<<"$cfg")" '["80/tcp"]'
expect "config has the title label" "$(jq -r '.config.Labels."org.opencontainers.image.title"' <<<"$cfg")" \
  zlayer-test-busybox
expect "config platform is linux/amd64" "$(jq -r '.os + "/" + .architecture' <<<"$cfg")" linux/amd64
expect "index.json ref.name is the tag" \
  "$(jq -r '.manifests[0].annotations."org.opencontainers.image.ref.name"' "$O/base/index.json")" latest
expect "index.json names the image for containerd" \
  "$(jq -r '.manifests[0].annotations."io.containerd.image.name"' "$O/base/index.json")" \
  docker.io/zlayer/busybox:latest

blob=$(first_layer_blob "$O/base" latest)
listing=$(tar -tzf "$blob")
missing=
for f in bin/busybox bin/sh bin/httpd bin/sleep bin/cat bin/echo bin/wget bin/nc bin/id \
         etc/passwd etc/group www/index.html tmp/; do
  grep -qx "$f" <<<"$listing" || missing+=" $f"
done
expect "base layer has busybox, applets, /etc and /www" "${missing:-none missing}" "none missing"
expect "/www/index.html says hello" "$(tar -xzOf "$blob" www/index.html)" "hello from zlayer"
expect "/etc/passwd has root, www (1000) and nobody" \
  "$(tar -xzOf "$blob" etc/passwd | cut -d: -f1,3,4 | tr '\n' ' ')" "root:0:0 www:1000:1000 nobody:65534:65534 "
expect "/etc/group has root, www and nobody" \
  "$(tar -xzOf "$blob" etc/group | cut -d: -f1,3 | tr '\n' ' ')" "root:0 www:1000 nobody:65534 "
expect "layer entries are owned by root with fixed times" \
  "$(tar -tvzf "$blob" | awk '$2 != "0/0" || $4 != "1970-01-01" { n++ } END { print n + 0 }')" 0

start=$(date +%s%N)
again=$(build "$O/base2")
ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect "a second build reuses the cache (${ms} ms)" "$(grep -c reusing "$T/build.err")" 1
expect "the cached build has the same digest" "$again" "$base_digest"
fresh=$(build --no-cache "$O/base3")
expect "a --no-cache rebuild has the same digest (reproducible)" "$fresh" "$base_digest"
check "the rebuilt layout has identical blobs" diff -r "$O/base" "$O/base3"

layered_digest=$(build --layers 3 --filler-mb 3 --tag layered --format oci-archive "$O/layered.tar") \
  || { cat "$T/build.err"; fatal "build --layers 3 --filler-mb 3"; }
pass "build --layers 3 --filler-mb 3 as an oci-archive"
mkdir -p "$O/layered" && tar -C "$O/layered" -xf "$O/layered.tar"
expect "--layers 3 gives four layers" "$(layer_count "$O/layered:layered")" 4
expect "the layer digests are distinct" \
  "$(skopeo inspect "oci:$O/layered:layered" | jq '.Layers | unique | length')" 4
again=$(build --no-cache --layers 3 --filler-mb 3 --tag layered --format oci-archive "$O/layered2.tar")
check "a --no-cache rebuild of the filler layers gives the same archive bytes" \
  cmp -s "$O/layered.tar" "$O/layered2.tar"

big_digest=$(build --layers 4 --filler-mb 50 --tag big "$O/big") \
  || { cat "$T/build.err"; fatal "build --layers 4 --filler-mb 50"; }
pass "build the pull-benchmark image (--layers 4 --filler-mb 50)"
expect "the benchmark image has five layers" "$(layer_count "$O/big:big")" 5
big_bytes=$(skopeo inspect --raw "oci:$O/big:big" | jq '[.layers[].size] | add')
check "the benchmark image's layers hold >= 50 MiB compressed ($big_bytes bytes)" \
  test "$big_bytes" -ge $((50 * 1048576))

archive_digest=$(build --format oci-archive "$O/base.tar")
expect "the oci-archive holds the same image" "$archive_digest" "$base_digest"
expect "the oci-archive's index.json names the tag" \
  "$(tar -xOf "$O/base.tar" index.json | jq -r '.manifests[0].annotations."org.opencontainers.image.ref.name"')" latest

build --format docker-archive --tag docker "$O/docker.tar" >/dev/null \
  || { cat "$T/build.err"; fatal "build a docker-archive"; }
dm=$(tar -xOf "$O/docker.tar" manifest.json)
expect "docker-archive manifest.json names the image" "$(jq -c '.[0].RepoTags' <<<"$dm")" \
  '["docker.io/zlayer/busybox:docker"]'
expect "docker-archive has one layer tar" "$(jq '.[0].Layers | length' <<<"$dm")" 1
# grep reads to the end: with pipefail, `grep -q` quitting early could kill tar with SIGPIPE.
tar_has() { tar -tf "$1" | grep -xF -- "$2" >/dev/null; }
check "docker-archive holds its config" tar_has "$O/docker.tar" "$(jq -r '.[0].Config' <<<"$dm")"

multi_digest=$(build --multi-platform --tag multi "$O/multi") \
  || { cat "$T/build.err"; fatal "build --multi-platform"; }
build --multi-platform --tag multi --format oci-archive "$O/multi.tar" >/dev/null
raw=$(skopeo inspect --raw "oci:$O/multi:multi")
expect "--multi-platform gives an OCI index" "$(jq -r .mediaType <<<"$raw")" \
  application/vnd.oci.image.index.v1+json
expect "the index lists amd64 and arm64" \
  "$(jq -r '[.manifests[].platform | [.os, .architecture, .variant // empty] | join("/")] | join(" ")' <<<"$raw")" \
  "linux/amd64 linux/arm64/v8"
expect "skopeo picks the arm64 manifest for arm64" \
  "$(skopeo inspect --override-arch arm64 "oci:$O/multi:multi" | jq -r .Architecture)" arm64
arm_digest=$(build --arch arm64 "$O/arm")
expect "--arch arm64 sets the config's architecture" \
  "$(skopeo inspect --config "oci:$O/arm:latest" | jq -r .architecture)" arm64
check "--arch arm64 changes the digest" test "$arm_digest" != "$base_digest"

"$build_image" --format zip "$O/x" >/dev/null 2>&1
expect "an unknown --format is a usage error" $? 2
"$build_image" --layers many "$O/x" >/dev/null 2>&1
expect "a non-numeric --layers is a usage error" $? 2
"$build_image" --multi-platform --format docker-archive "$O/x" >/dev/null 2>&1
expect "--multi-platform with docker-archive is a usage error" $? 2
"$build_image" --filler-mb 5 "$O/x" >/dev/null 2>&1
expect "--filler-mb without --layers is a usage error" $? 2
mkdir -p "$O/precious" && echo keep >"$O/precious/file"
"$build_image" "$O/precious" >/dev/null 2>&1
rc=$?
expect "a directory that is not a layout is not replaced" "$rc:$(cat "$O/precious/file")" 1:keep

# --- containerd -----------------------------------------------------------------------------
echo "# containerd (namespace $NS, socket $SOCK)"
mkdir -p "$T/root" "$T/state" "$T/fifo"
cat >"$T/containerd.toml" <<EOF
version = 2
root = "$T/root"
state = "$T/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$T/opt"
EOF
containerd --config "$T/containerd.toml" >"$T/containerd.log" 2>&1 &
containerd_pid=$!
ctr=(timeout 60 ctr --address "$SOCK" -n "$NS")
for ((i = 0; i < 100; i++)); do
  "${ctr[@]}" version >/dev/null 2>&1 && break
  kill -0 "$containerd_pid" 2>/dev/null || break
  sleep 0.1
done
"${ctr[@]}" version >/dev/null 2>&1 || { tail -20 "$T/containerd.log"; fatal "containerd starts"; }
pass "containerd starts ($(containerd --version | awk '{print $3}'))"

image_digest() { "${ctr[@]}" images ls | awk -v r="$1" '$1 == r { print $3 }'; }
# run_in IMAGE ARGS...: ctr run --rm, output on stdout.
run_in() {
  local image=$1 id
  shift
  id=t${#container_ids[@]}
  container_ids+=("$id")
  "${ctr[@]}" run --rm --fifo-dir "$T/fifo" "$image" "$id" "$@" </dev/null 2>&1
}

check "ctr imports the oci-archive" "${ctr[@]}" images import "$O/base.tar"
expect "containerd names it and has the layout's digest" \
  "$(image_digest docker.io/zlayer/busybox:latest)" "$base_digest"
expect "ctr run /bin/echo hello" "$(run_in docker.io/zlayer/busybox:latest /bin/echo hello)" hello
expect "the container sees /www, the users and the image's PATH and WorkingDir" \
  "$(run_in docker.io/zlayer/busybox:latest /bin/sh -c 'cat /www/index.html; id -u www; echo "$PATH"; pwd' | tr '\n' '|')" \
  "hello from zlayer|1000|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin|/|"

check "ctr imports the docker-archive" "${ctr[@]}" images import "$O/docker.tar"
check "the docker-archive image is listed under its name" test -n "$(image_digest docker.io/zlayer/busybox:docker)"
expect "ctr run the docker-archive image" "$(run_in docker.io/zlayer/busybox:docker /bin/echo hello)" hello

check "ctr imports the multi-layer archive" "${ctr[@]}" images import "$O/layered.tar"
expect "the multi-layer image has the built digest" \
  "$(image_digest docker.io/zlayer/busybox:layered)" "$layered_digest"
expect "every layer is unpacked (files of layers 1..3, filler sizes)" \
  "$(run_in docker.io/zlayer/busybox:layered /bin/sh -c 'cat /layers/1.txt /layers/3.txt; cat /filler/*.bin | wc -c' | tr '\n' '|')" \
  "zlayer test layer 1 of 3|zlayer test layer 3 of 3|$((3 * 1048576))|"

check "ctr imports the two-platform archive" "${ctr[@]}" images import "$O/multi.tar"
expect "the two-platform image's digest is the index's" \
  "$(image_digest docker.io/zlayer/busybox:multi)" "$multi_digest"
expect "ctr run picks the amd64 manifest of the index" \
  "$(run_in docker.io/zlayer/busybox:multi /bin/echo hello)" hello

# --- registries -----------------------------------------------------------------------------
# start_registry NAME [AUTH-LINES]: a docker-registry on a free loopback port; sets $port.
start_registry() {
  local name=$1 auth=${2:-} try i pid
  for ((try = 0; try < 5; try++)); do
    port=$((20000 + RANDOM % 40000))
    [[ -z $(ss -Hltn "sport = :$port") ]] || continue
    mkdir -p "$T/$name"
    cat >"$T/$name.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $T/$name
http:
  addr: 127.0.0.1:$port
  secret: zlayer-test
$auth
EOF
    docker-registry serve "$T/$name.yml" >"$T/$name.log" 2>&1 &
    pid=$!
    registry_pids+=("$pid")
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v2/") =~ ^(200|401)$ ]] && return 0
      sleep 0.1
    done
    stop_pid "$pid"
  done
  tail -5 "$T/$name.log"
  return 1
}

start_registry reg || fatal "docker-registry starts"
R=127.0.0.1:$port
pass "docker-registry listens on $R"
inspect() { timeout 60 skopeo inspect --tls-verify=false "$@"; }
push() { timeout 120 "$push_image" "$@" 2>"$T/push.err" || { cat "$T/push.err" >&2; return 1; }; }

expect "push the OCI layout: the pushed digest is the layout's" "$(push "$O/base" "$R/zlayer/busybox")" "$base_digest"
expect "the registry serves that digest" "$(inspect "docker://$R/zlayer/busybox:latest" | jq -r .Digest)" "$base_digest"
# umoci writes manifests without the optional "mediaType" field: the type is the Content-Type.
expect "the registry serves it as an OCI manifest" \
  "$(curl -s -o /dev/null -w "%{content_type}" -H "Accept: application/vnd.oci.image.manifest.v1+json" \
     "http://$R/v2/zlayer/busybox/manifests/latest")" application/vnd.oci.image.manifest.v1+json

# What v2s2 must be, computed without the registry: skopeo's conversion into a dir.
timeout 60 skopeo --insecure-policy copy -q --format v2s2 "oci:$O/base:latest" "dir:$T/v2s2"
v2s2_digest=sha256:$(sha256sum <"$T/v2s2/manifest.json" | cut -c1-64)
expect "push --format v2s2: the pushed digest is the converted manifest's" \
  "$(push --format v2s2 "$O/base" "$R/zlayer/busybox:v2s2")" "$v2s2_digest"
expect "the registry serves that digest" "$(inspect "docker://$R/zlayer/busybox:v2s2" | jq -r .Digest)" "$v2s2_digest"
expect "the registry serves a Docker schema 2 manifest" \
  "$(inspect --raw "docker://$R/zlayer/busybox:v2s2" | jq -r .mediaType)" \
  application/vnd.docker.distribution.manifest.v2+json

expect "push the two-platform index: digest preserved" "$(push "$O/multi" "$R/zlayer/multi")" "$multi_digest"
expect "the registry serves the index" "$(inspect "docker://$R/zlayer/multi:multi" | jq -r .Digest)" "$multi_digest"
expect "the registry's index lists both platforms" \
  "$(inspect --raw "docker://$R/zlayer/multi:multi" | jq -r '[.manifests[].platform.architecture] | join(" ")')" \
  "amd64 arm64"
expect "the registry serves the arm64 manifest for arm64" \
  "$(inspect --override-arch arm64 "docker://$R/zlayer/multi:multi" | jq -r .Architecture)" arm64
push --format v2s2 "$O/multi" "$R/zlayer/multi:v2s2" >/dev/null
expect "push --format v2s2 of the index gives a Docker manifest list" \
  "$(inspect --raw "docker://$R/zlayer/multi:v2s2" | jq -r '.mediaType + " " + (.manifests | length | tostring)')" \
  "application/vnd.docker.distribution.manifest.list.v2+json 2"

start=$(date +%s%N)
expect "push the 50 MiB benchmark image: digest preserved" "$(push "$O/big" "$R/zlayer/big")" "$big_digest"
echo "#   pushing 50 MiB took $(( ($(date +%s%N) - start) / 1000000 )) ms"
expect "the registry serves it with five layers" \
  "$(inspect "docker://$R/zlayer/big:big" | jq -r '.Digest + " " + (.Layers | length | tostring)')" "$big_digest 5"

htpasswd -Bbn zl s3cret >"$T/htpasswd" 2>/dev/null
start_registry authreg "auth:
  htpasswd:
    realm: zlayer-test
    path: $T/htpasswd" || fatal "docker-registry with htpasswd starts"
A=127.0.0.1:$port
pass "docker-registry with basic auth listens on $A"
check "push without credentials is refused" bash -c "! '$push_image' '$O/base' '$A/zlayer/busybox' >/dev/null 2>&1"
expect "push --creds: digest preserved" "$(push --creds zl:s3cret "$O/base" "$A/zlayer/busybox")" "$base_digest"
expect "the registry serves it to the right credentials" \
  "$(inspect --creds zl:s3cret "docker://$A/zlayer/busybox:latest" | jq -r .Digest)" "$base_digest"
check "the registry refuses wrong credentials" bash -c "! timeout 60 skopeo inspect --tls-verify=false --creds zl:wrong 'docker://$A/zlayer/busybox:latest' >/dev/null 2>&1"
