# What the node benchmarks share: a node's environment, starting and stopping it, the
# test image, a spec of health-checked web servers, medians. Sourced by bench/*.sh after
# they `cd` to the repository root and set BIN (the programs) and NS (containerd namespace).
source test/support/node_network.sh
# Address ranges of the benchmark's node, apart from a node of the defaults on this host.
export ZLAYER_NETWORK_CIDR=${ZLAYER_NETWORK_CIDR:-10.246.0.0/16}
export ZLAYER_SERVICE_CIDR=${ZLAYER_SERVICE_CIDR:-10.247.0.0/16}

# The variables that put a node's files under directory $1 and its containers in $NS.
node_vars() {
  printf '%s\n' "ZLAYER_RUN_DIR=$1/run" "ZLAYER_DATA_DIR=$1/data" \
    "ZLAYER_STATE_DIR=$1/data/containers" "ZLAYER_CONTAINERD_ROOT=$1/root" \
    "ZLAYER_CONTAINERD_STATE=$1/state" "CONTAINERD_SOCKET=$1/c.sock" \
    "ZLAYER_SOCKET=$1/run/agent.sock" "ZLAYER_NAMESPACE=$NS"
}
# node_env DIR CMD...: runs CMD in the environment of the node under DIR.
node_env() {
  local vars
  mapfile -t vars < <(node_vars "$1")
  env "${vars[@]}" "${@:2}"
}
# export_node_env DIR: the node under DIR becomes this script's node (zlayer, ctr use it).
export_node_env() {
  local var
  while read -r var; do export "${var?}"; done < <(node_vars "$1")
}

# wait_line FILE TEXT [POLL]: returns once FILE has a line with TEXT (polled every POLL
# seconds, default 0.05); fails the benchmark if zlayer-init ($init_pid) exits first.
wait_line() {
  until grep -q "$2" "$1" 2>/dev/null; do
    if [[ -n ${init_pid:-} ]] && ! kill -0 "$init_pid" 2>/dev/null; then
      echo "bench: zlayer-init exited before \"$2\"; its log ($1):" >&2
      tail -n 20 "$1" >&2
      exit 1
    fi
    sleep "${3:-0.05}"
  done
}
# start_node DIR: `zlayer-init serve` for the node under DIR in the background (output
# in DIR/init.out and DIR/init.err); sets init_pid and returns once the node is ready.
start_node() {
  local vars
  mkdir -p "$1"
  mapfile -t vars < <(node_vars "$1")
  # env execs zlayer-init: $! is its pid, so stop_node's SIGTERM reaches it (through
  # node_env, a function, it would reach a subshell and orphan the node).
  env "${vars[@]}" "$BIN/zlayer-init" serve >"$1/init.out" 2>"$1/init.err" &
  init_pid=$!
  wait_line "$1/init.err" "node is ready"
}
# stop_node: SIGTERM to zlayer-init (it stops the agent and containerd), and waits for it.
stop_node() {
  if [[ -n ${init_pid:-} ]] && kill -0 "$init_pid" 2>/dev/null; then
    kill -TERM "$init_pid"
    wait "$init_pid" 2>/dev/null || true
  fi
  init_pid=
}
# cleanup_node DIR: stops the node, kills a containerd left on DIR/c.sock, unmounts
# what is mounted below DIR and removes DIR and the namespace's runc state. For traps.
cleanup_node() {
  stop_node
  pkill -KILL -f "$1/c.sock" 2>/dev/null || true
  grep " $1/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "/run/containerd/runc/$NS" "$1"
  remove_node_network "$ZLAYER_NETWORK_CIDR"
}

# import_busybox DIR: builds the test image (scripts/build-test-image.sh, cached) into
# DIR/bb.tar and imports it into the node as zlayer/busybox:latest.
import_busybox() {
  scripts/build-test-image.sh --format oci-archive "$1/bb.tar" >/dev/null 2>&1
  node_env "$1" "$BIN/zlayer" image import "$1/bb.tar" >/dev/null
}

# http_checks_spec REPLICAS BASE_PORT: deployment "checks", REPLICAS services (busybox
# httpd on ports BASE_PORT...), each with an http health check every 1s.
http_checks_spec() {
  local i port
  echo "version: v1"
  echo "deployment: checks"
  echo "services:"
  for ((i = 0; i < $1; i++)); do
    port=$(($2 + i))
    cat <<YAML
  web$i:
    image: {name: zlayer/busybox:latest, pull_policy: never}
    command: {entrypoint: ["/bin/httpd"], args: ["-f", "-p", "$port", "-h", "/www"]}
    stop_grace_period: 1s
    health:
      start_grace: 1s
      interval: 1s
      timeout: 1s
      check: {type: http, url: "http://127.0.0.1:$port/"}
YAML
  done
}

# The median of the numbers on stdin, one a line.
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
