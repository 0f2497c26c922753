#!/usr/bin/env bash
# End-to-end test of the zlayer-node image with a real Docker engine: every command of
# docker/README.md, typed as a user types them, and what each must show.
#
#   scripts/e2e-docker.sh        (root; run by scripts/test.sh after the unit/integration tests)
#
# What it needs and does by itself:
#   - Debian's docker.io and debootstrap (installed when missing), a private dockerd under
#     /tmp/zl-dk-XXXX (own socket via DOCKER_HOST, data and exec roots), stopped and removed
#     at the end, also on failure; see scripts/lib/docker-engine.sh (it also explains the
#     runc wrapper used on hosts without CAP_SYS_RESOURCE).
#   - No registry: debian:bookworm-slim is made with debootstrap (cached in
#     /var/cache/zlayer-e2e); the workload image is scripts/build-test-image.sh's busybox,
#     loaded with `zlayer image import`.
#   - The release build (build-release/bin: `BUILD_TYPE=Release BUILD_DIR=build-release
#     scripts/build.sh`) for the default image and the development build (build/bin:
#     scripts/build.sh) for :dev; it runs both (incremental, the three programs only).
#   - Host port 80 and 443 must be free (the published ports of the node).
# Prints "ok N - ..." / "not ok N - ..." per check; exits 1 when any check failed.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
export LC_ALL=C

[[ $(id -u) -eq 0 ]] || { echo "e2e-docker: run as root (it starts dockerd)" >&2; exit 1; }
if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null || ! command -v script >/dev/null; then
  echo "e2e-docker: installing docker.io, debootstrap" >&2
  ZLAYER_DEPS_EXTRA="docker.io debootstrap bsdutils" scripts/install-deps.sh >&2
fi

# --- checks ------------------------------------------------------------------------------
checks=0 failures=0
ok() { checks=$((checks + 1)); echo "ok $checks - $*"; }
not_ok() { checks=$((checks + 1)) failures=$((failures + 1)); echo "not ok $checks - $*"; }
# check DESCRIPTION COMMAND...: one check; the command's output is shown when it fails.
check() {
  local what=$1 out
  shift
  if out=$("$@" 2>&1); then ok "$what"; else not_ok "$what"; sed 's/^/    | /' <<<"$out" | tail -20; fi
}
# wait_for SECONDS COMMAND...: polls every 0.2 s until COMMAND succeeds; false at the limit.
# (A limit only so a broken run ends; nothing is asserted about the time taken.)
wait_for() {
  local limit=$1 end
  shift
  end=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < end)) || return 1
    sleep 0.2
  done
}
# fatal MESSAGE: a step later checks depend on failed; show the node's log and stop.
fatal() {
  not_ok "$*"
  [[ -n ${node:-} ]] && docker logs "$node" 2>&1 | grep -v '^containerd: ' | tail -30 | sed 's/^/    | /'
  echo "e2e-docker: stopping after a failed step ($checks checks, $failures failed)"
  exit 1
}
now_ms() { date +%s%3N; }

# --- the engine, the work directory, cleanup ---------------------------------------------
source scripts/lib/docker-engine.sh
WORK=$(mktemp -d /tmp/zl-e2e-XXXX)
node=
bg_pid=
cleanup() {
  [[ -z $bg_pid ]] || kill "$bg_pid" 2>/dev/null || true
  engine_stop
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for port in 80 443; do
  if ss -Htln "sport = :$port" | grep -q .; then
    echo "e2e-docker: host port $port is in use; the node publishes 80 and 443" >&2; exit 1
  fi
done

# Both builds are incremental; only the three programs the image holds are built.
PROGRAMS=(zlayer zlayer-init zlayer-agent)
echo "e2e-docker: release build (build-release/bin) and development build (build/bin) of ${PROGRAMS[*]}"
BUILD_TYPE=Release BUILD_DIR=build-release scripts/build.sh "${PROGRAMS[@]}" >"$WORK/build-release.log" 2>&1 \
  || { tail -30 "$WORK/build-release.log"; fatal "release build"; }
BUILD_DIR=build scripts/build.sh "${PROGRAMS[@]}" >"$WORK/build.log" 2>&1 \
  || { tail -30 "$WORK/build.log"; fatal "development build"; }

engine_start
engine_base_image
# Docker clients before 23.0 refuse relative bind-mount sources (`-v ./specs:...`); with
# one of those the same commands run with absolute paths, and the log says so.
client=$(docker version -f '{{.Client.Version}}')
# here_dir: "." for clients that take relative paths, else the absolute current directory.
if [[ ${client%%.*} =~ ^[0-9]+$ ]] && ((${client%%.*} >= 23)); then
  relative=1
else
  relative=0
  echo "e2e-docker: docker client $client takes no relative -v paths: the -v ./x mounts use \$PWD/x"
fi
here_dir() { ((relative)) && echo . || pwd; }
echo "e2e-docker: docker client $client, server $(docker version -f '{{.Server.Version}}')"

# --- the image ---------------------------------------------------------------------------
t0=$(now_ms)
if docker build -f docker/Dockerfile.zlayer-node -t zlayer-node . >"$WORK/build-image.log" 2>&1; then
  ok "docker build -f docker/Dockerfile.zlayer-node -t zlayer-node . ($(($(now_ms) - t0)) ms)"
else
  tail -30 "$WORK/build-image.log"; fatal "docker build -f docker/Dockerfile.zlayer-node -t zlayer-node ."
fi
size=$(docker image inspect -f '{{.Size}}' zlayer-node)
echo "e2e-docker: zlayer-node is $((size / 1000000)) MB"
in_image() { docker run --rm --entrypoint /bin/sh zlayer-node -c "$1"; }
same_binaries() {
  local tag=$1 dir=$2 p
  for p in zlayer zlayer-init zlayer-agent; do
    [[ $(docker run --rm --entrypoint sha256sum "$tag" "/usr/local/bin/$p" | cut -c1-64) == \
       $(sha256sum <"$dir/$p" | cut -c1-64) ]] || { echo "$tag: /usr/local/bin/$p differs from $dir/$p"; return 1; }
  done
}
check "the default image holds the release build (build-release/bin)" same_binaries zlayer-node build-release/bin
check "the image has no compiler and no -dev package" in_image \
  '! command -v cc && ! command -v gcc && ! command -v c++ && ! command -v g++ && ! command -v clang &&
   ! dpkg-query -W -f "\${Package}\n" | grep -E -- "-dev(:|\$)"'
check "containerd, runc, ctr and bash are in the image" in_image \
  'command -v containerd && command -v runc && command -v ctr && command -v bash'
image_config() {
  local got
  got=$(docker image inspect -f '{{json .Config.Entrypoint}} {{json .Config.Cmd}} {{json .Config.ExposedPorts}} {{json .Config.Volumes}} {{.Config.StopSignal}} {{json .Config.Healthcheck.Test}}' zlayer-node)
  [[ $got == '["/usr/local/bin/zlayer-init"] ["serve"] {"443/tcp":{},"80/tcp":{}} {"/var/lib/containerd":{},"/var/lib/zlayer":{}} SIGTERM ["CMD","zlayer","health"]' ]] \
    || { echo "image config: $got"; return 1; }
  local env
  env=$(docker image inspect -f '{{range .Config.Env}}{{println .}}{{end}}' zlayer-node)
  for v in CONTAINERD_SOCKET=/run/containerd/containerd.sock ZLAYER_NAMESPACE=zlayer \
           ZLAYER_STATE_DIR=/var/lib/zlayer/containers ZLAYER_SNAPSHOTTER=overlayfs \
           ZLAYER_RUNTIME=io.containerd.runc.v2 CONTAINERD_NAMESPACE=zlayer; do
    grep -qx "$v" <<<"$env" || { echo "ENV lacks $v"; return 1; }
  done
}
check "image config: entrypoint zlayer-init, cmd serve, ports 80/443, volumes, SIGTERM, health check, ENV" image_config

t0=$(now_ms)
if docker build -f docker/Dockerfile.zlayer-node --build-arg BINARY_PATH=build/bin -t zlayer-node:dev . \
     >"$WORK/build-dev.log" 2>&1; then
  ok "docker build ... --build-arg BINARY_PATH=build/bin -t zlayer-node:dev . ($(($(now_ms) - t0)) ms)"
else
  not_ok "docker build ... --build-arg BINARY_PATH=build/bin -t zlayer-node:dev ."; tail -20 "$WORK/build-dev.log"
fi
check "zlayer-node:dev holds the development build (build/bin)" same_binaries zlayer-node:dev build/bin

# --- version, and without --privileged -----------------------------------------------------
cd "$WORK"
version_out=$(docker run --privileged zlayer-node version 2>&1) && rc=0 || rc=$?
if ((rc == 0)) && grep -q '^client: [0-9]' <<<"$version_out"; then
  ok "docker run --privileged zlayer-node version: $(head -1 <<<"$version_out"), exit 0"
else
  not_ok "docker run --privileged zlayer-node version (exit $rc)"; sed 's/^/    | /' <<<"$version_out"
fi

unpriv_out=$(timeout 120 docker run zlayer-node 2>&1) && rc=0 || rc=$?
if ((rc != 0)) && [[ $(wc -l <<<"$unpriv_out") -eq 1 ]] && grep -q 'CAP_SYS_ADMIN' <<<"$unpriv_out" \
   && grep -q -- '--privileged' <<<"$unpriv_out"; then
  ok "without --privileged: exit $rc and one line: $unpriv_out"
else
  not_ok "without --privileged: one clear line and a non-zero exit (exit $rc)"; sed 's/^/    | /' <<<"$unpriv_out"
fi

# --- serve, deploy, reach the workload (docker/README.md's quick start) ------------------
cd "$REPO"
# examples/web.yaml: busybox httpd on port 80 of the node (see the file).
"$REPO/scripts/build-test-image.sh" --format oci-archive "$WORK/busybox.tar" >/dev/null 2>"$WORK/test-image.log" \
  || { cat "$WORK/test-image.log"; fatal "build the busybox test image"; }

t0=$(now_ms)
docker run --privileged -d --name zlayer -p 80:80 -p 443:443 -v "$(here_dir)/examples:/specs:ro" \
  -v zlayer-state:/var/lib/zlayer zlayer-node serve >/dev/null \
  || fatal "docker run --privileged -d --name zlayer -p 80:80 -p 443:443 ... zlayer-node serve"
node=zlayer
# logs_have CONTAINER PATTERN: the container's log has a line matching PATTERN. (grep -c
# reads the whole log: with grep -q, a long log would end in SIGPIPE and fail the pipe.)
logs_have() { docker logs "$1" 2>&1 | grep -c -- "$2" >/dev/null; }
ready_count() { docker logs "$1" 2>&1 | grep -c 'zlayer-init: info: node is ready' || true; }
node_ready() { [[ $(ready_count "$1") -ge $2 ]]; }
wait_for 120 node_ready zlayer 1 || fatal "the node reports ready"
ok "docker run ... zlayer-node serve: node ready after $(($(now_ms) - t0)) ms"
logs=$(docker logs zlayer 2>&1)
check "docker logs: the supervisor, containerd and the agent starting" bash -c '
  grep -q "^zlayer-init: info: started containerd" <<<"$1" &&
  grep -q "^containerd: .*starting containerd" <<<"$1" &&
  grep -q "^zlayer-init: info: containerd is ready" <<<"$1" &&
  grep -q "^zlayer-agent: info: ready" <<<"$1" &&
  grep -q "^zlayer-init: info: zlayer-agent is ready" <<<"$1"' _ "$logs"

check "docker cp + docker exec zlayer zlayer image import" bash -c \
  'docker cp "$1" zlayer:/tmp/busybox.tar && docker exec zlayer zlayer image import /tmp/busybox.tar'  _ "$WORK/busybox.tar"
check "docker exec zlayer zlayer deploy --spec /specs/web.yaml" docker exec zlayer zlayer deploy --spec /specs/web.yaml
served() { [[ $(curl -s --max-time 2 http://localhost:80/) == "hello from zlayer" ]]; }
if wait_for 60 served; then
  ok "curl http://localhost:80/ from the host: hello from zlayer (through -p 80:80)"
else
  not_ok "curl http://localhost:80/ from the host"; docker exec zlayer zlayer ps | sed 's/^/    | /'
fi
check "docker exec zlayer zlayer ps: web-site-0 running" bash -c \
  'docker exec zlayer zlayer ps | grep -E "^web-site-0 +web/site +running"'
check "docker exec zlayer ctr -n zlayer containers ls: web-site-0" bash -c \
  'docker exec zlayer ctr -n zlayer containers ls | grep -E "^web-site-0 +docker.io/zlayer/busybox:latest"'
check "docker exec zlayer ctr -n zlayer images ls: docker.io/zlayer/busybox:latest" bash -c \
  'docker exec zlayer ctr -n zlayer images ls | grep -q "^docker.io/zlayer/busybox:latest "'
check "docker exec zlayer ctr version / ctr containers ls (no flags): the node's containerd and namespace" bash -c \
  'docker exec zlayer ctr version | grep -q "^Server:" && docker exec zlayer ctr containers ls | grep -q "^web-site-0 "'
# `-it` needs a terminal: script(1) gives the command one and types into it.
interactive=$(printf 'echo answer=$((6*7)); exit\n' | timeout 60 script -qec "docker exec -it zlayer bash" /dev/null 2>&1 | tr -d '\r') || true
if grep -q 'answer=42' <<<"$interactive"; then ok "docker exec -it zlayer bash"; else
  not_ok "docker exec -it zlayer bash"; sed 's/^/    | /' <<<"$interactive" | tail -10; fi
# examples/talk.yaml: two services on their deployment's own network, talking by name.
check "docker exec zlayer zlayer deploy --spec /specs/talk.yaml --wait (own network, 2+1 replicas)" \
  timeout 120 docker exec zlayer zlayer deploy --spec /specs/talk.yaml --wait
talks() {
  [[ $(docker exec zlayer zlayer exec talk-client-0 -- wget -qO- http://api/ 2>/dev/null) == "hello from zlayer" ]]
}
check "inside the node: talk-client-0 reaches api by name (DNS + service address)" wait_for 30 talks
check "inside the node: each api replica has its own address" bash -c '
  [[ $(docker exec zlayer zlayer ps talk -o json |
       jq -r "[.deployments[].services[] | select(.name == \"api\") | .replicas[].address] | unique | length") == 2 ]]'
check "the client's log shows the answers it got by name" wait_for 20 bash -c \
  'docker exec zlayer zlayer logs talk/client 2>/dev/null | grep -q "hello from zlayer"'
# examples/sites.yaml: two public services on the node's ports 80 and 443, by host name.
check "docker exec zlayer zlayer deploy --spec /specs/sites.yaml --wait (two public services)" \
  timeout 120 docker exec zlayer zlayer deploy --spec /specs/sites.yaml --wait
site_says() {  # $1 host, $2 answer: through -p 80:80 and the node's ingress
  [[ $(curl -s --max-time 2 -H "Host: $1" http://localhost:80/) == "$2" ]]
}
check "curl -H 'Host: alpha.localhost' http://localhost/ from the host: alpha" wait_for 30 site_says alpha.localhost alpha
check "curl -H 'Host: beta.localhost' http://localhost/ from the host: beta" wait_for 30 site_says beta.localhost beta
check "https://beta.localhost/ through -p 443:443 with the node's self-signed certificate" bash -c \
  '[[ $(curl -sk --max-time 5 --resolve beta.localhost:443:127.0.0.1 https://beta.localhost/) == beta ]]'
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=e2e CA" -keyout "$WORK/ca.key" \
  -out "$WORK/ca.crt" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=alpha.localhost" \
  -addext "subjectAltName=DNS:alpha.localhost" -CA "$WORK/ca.crt" -CAkey "$WORK/ca.key" \
  -keyout "$WORK/alpha.localhost.key" -out "$WORK/alpha.localhost.crt" 2>/dev/null
check "a certificate copied into the state volume's certs directory" bash -c '
  docker exec zlayer mkdir -p /var/lib/zlayer/certs &&
  docker cp "$1/alpha.localhost.key" zlayer:/var/lib/zlayer/certs/ &&
  docker cp "$1/alpha.localhost.crt" zlayer:/var/lib/zlayer/certs/' _ "$WORK"
alpha_verified() {
  [[ $(curl -s --max-time 5 --cacert "$WORK/ca.crt" --resolve alpha.localhost:443:127.0.0.1 https://alpha.localhost/) == alpha ]]
}
check "https://alpha.localhost/ from the host is served with it, verified against its CA" wait_for 30 alpha_verified
check "docker exec zlayer zlayer routes: both hosts on 80 and 443" bash -c '
  routes=$(docker exec zlayer zlayer routes) &&
  grep -qE "^80 +http +alpha.localhost" <<<"$routes" && grep -qE "^443 +https +beta.localhost" <<<"$routes"'
check "docker exec zlayer zlayer certs: alpha.localhost is the user's, beta.localhost self-signed" bash -c '
  certs=$(docker exec zlayer zlayer certs) &&
  grep -qE "^alpha.localhost +user " <<<"$certs" && grep -qE "^beta.localhost +self-signed " <<<"$certs"'
healthy() { [[ $(docker inspect -f '{{.State.Health.Status}}' zlayer) == healthy ]]; }
check "docker inspect: health check (zlayer health) reports healthy" wait_for 90 healthy

# --- docker stop / docker start ------------------------------------------------------------
t0=$(now_ms)
if docker stop zlayer >/dev/null; then stop_ms=$(($(now_ms) - t0)); else stop_ms=failed; fi
state=$(docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' zlayer)
if [[ $state == "exited 0" ]]; then
  ok "docker stop zlayer: exit code 0, so no SIGKILL from docker (took $stop_ms ms)"
else
  not_ok "docker stop zlayer: exited with 0 ($state, $stop_ms ms)"
fi
ordered_shutdown() {
  logs_have zlayer 'zlayer-init: info: shutting down (SIGTERM)' && logs_have zlayer 'zlayer-init: info: shutdown complete'
}
check "the supervisor logged an ordered shutdown" ordered_shutdown
check "after docker stop nothing answers on localhost:80" bash -c '! curl -s --max-time 2 http://localhost:80/'

docker start zlayer >/dev/null || fatal "docker start zlayer"
wait_for 120 node_ready zlayer 2 || fatal "the node is ready again after docker start"
if wait_for 60 served; then
  ok "docker start zlayer: deployment web is back (localhost:80 serves again, state in zlayer-state)"
else
  not_ok "docker start zlayer: deployment web is back"; docker exec zlayer zlayer ps | sed 's/^/    | /'
fi
check "after docker start: web-site-0 running" bash -c \
  'docker exec zlayer zlayer ps | grep -E "^web-site-0 +web/site +running"'

# --- docker rm -f leaves nothing running ---------------------------------------------------
mapfile -t pids < <(docker top zlayer -eo pid | tail -n +2)
check "docker top: the node's processes include the workload (httpd)" bash -c \
  'docker top zlayer -eo pid,comm | grep -qE " httpd$"'
docker rm -f zlayer >/dev/null || not_ok "docker rm -f zlayer"
gone() { local p; for p in "${pids[@]}"; do [[ ! -d /proc/$p ]] || return 1; done; }
if wait_for 30 gone && [[ -z $(docker ps -aq --filter name='^zlayer$') ]]; then
  ok "docker rm -f zlayer: none of its ${#pids[@]} processes is left (supervisor, containerd, agent, shim, workload)"
else
  not_ok "docker rm -f zlayer leaves nothing running"; for p in "${pids[@]}"; do ps -o pid,comm -p "$p" | tail -n +2; done
fi
check "after docker rm -f nothing answers on localhost:80" bash -c '! curl -s --max-time 2 http://localhost:80/'
node=

# --- docker run ... deploy --spec ------------------------------------------------------------
cd "$WORK"
sed 's/^deployment: web$/deployment: oneshot/' "$REPO/examples/web.yaml" >myspec.yaml
# In the foreground, as typed; it runs until the node is stopped.
docker run --privileged -v "$(here_dir)/myspec.yaml:/spec.yaml:ro" zlayer-node deploy --spec /spec.yaml \
  >"$WORK/deploy.out" 2>&1 &
bg_pid=$!
deploy_node() { node=$(docker ps -q --filter ancestor=zlayer-node --filter status=running); [[ -n $node ]]; }
wait_for 60 deploy_node || fatal "docker run --privileged -v ./myspec.yaml:/spec.yaml:ro zlayer-node deploy --spec /spec.yaml starts"
wait_for 120 node_ready "$node" 1 || fatal "the deploy node reports ready"
deployed() { logs_have "$node" 'zlayer-init: info: deployed /spec.yaml'; }
check "deploy --spec: the supervisor deployed /spec.yaml once the agent was ready" wait_for 60 deployed
# The image is loaded after the deployment: the agent retries until it is there.
check "image import into the deploy node" bash -c \
  'docker cp "$1" "$2":/tmp/busybox.tar && docker exec "$2" zlayer image import /tmp/busybox.tar' _ "$WORK/busybox.tar" "$node"
oneshot_running() { docker exec "$node" zlayer ps | grep -qE '^oneshot-site-0 +oneshot/site +running'; }
check "deploy --spec: deployment oneshot running" wait_for 60 oneshot_running
docker stop "$node" >/dev/null
rc=0
wait "$bg_pid" || rc=$?
bg_pid=
if ((rc == 0)); then ok "the foreground docker run ... deploy returned 0 after docker stop"; else
  not_ok "the foreground docker run ... deploy returned 0 after docker stop (got $rc)"; grep -v '^containerd: ' "$WORK/deploy.out" | tail -15 | sed 's/^/    | /'; fi
node=

echo "e2e-docker: $checks checks, $failures failed"
((failures == 0))
