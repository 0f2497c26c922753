#!/usr/bin/env bash
# Sets up and runs a zlayer node on this host with the example deployment:
# installs packages, builds, builds the busybox test image, starts zlayer-init
# (containerd + zlayer-agent) in the background, imports the image, deploys
# examples/hello.yaml and shows the page it serves. Needs root.
#
#   scripts/run-example.sh            start (or reuse) the node, deploy, curl
#   scripts/run-example.sh stop       stop the node (SIGTERM to zlayer-init)
#
# State lives under the normal paths (/var/lib/zlayer, /run/zlayer, containerd
# under /var/lib/zlayer-containerd and /run/zlayer-containerd, so a containerd
# the host already runs is left alone). Log: /run/zlayer/node.log.
set -euo pipefail
cd "$(dirname "$0")/.."

export CONTAINERD_SOCKET=/run/zlayer-containerd/containerd.sock
export ZLAYER_CONTAINERD_ROOT=/var/lib/zlayer-containerd
export ZLAYER_CONTAINERD_STATE=/run/zlayer-containerd
export ZLAYER_RUN_DIR=/run/zlayer
BIN=$PWD/build/bin
LOG=$ZLAYER_RUN_DIR/node.log
PIDFILE=$ZLAYER_RUN_DIR/zlayer-init.pid

if [[ ${1:-} == stop ]]; then
  if [[ -f $PIDFILE ]] && kill -TERM "$(cat "$PIDFILE")" 2>/dev/null; then
    echo "run-example: stopping the node (pid $(cat "$PIDFILE"))"
    while [[ -f $PIDFILE ]]; do sleep 0.2; done
  else
    echo "run-example: no node running"
  fi
  exit 0
fi

[[ $(id -u) -eq 0 ]] || { echo "run-example: run as root (containers need it)" >&2; exit 1; }
scripts/install-deps.sh
# Only the three programs: the tests are built by scripts/test.sh.
scripts/build.sh zlayer zlayer-init zlayer-agent

if [[ -f $PIDFILE ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  echo "run-example: a node is already running (pid $(cat "$PIDFILE"))"
else
  mkdir -p "$ZLAYER_RUN_DIR"
  echo "run-example: starting zlayer-init; log in $LOG"
  setsid "$BIN/zlayer-init" serve >"$LOG" 2>&1 < /dev/null &
  for _ in $(seq 300); do
    grep -q "node is ready" "$LOG" 2>/dev/null && break
    if grep -q "zlayer-init: error" "$LOG" 2>/dev/null; then cat "$LOG" >&2; exit 1; fi
    sleep 0.2
  done
  grep -q "node is ready" "$LOG" || { echo "run-example: the node did not come up:" >&2; cat "$LOG" >&2; exit 1; }
fi

image=$(mktemp -d /tmp/zl-example-XXXX)/busybox.tar
scripts/build-test-image.sh --format oci-archive "$image" >/dev/null
"$BIN/zlayer" image import "$image"
"$BIN/zlayer" deploy --spec examples/hello.yaml --wait
"$BIN/zlayer" ps
echo
echo "run-example: the page served by each replica, at its own address:"
for id in hello-web-0 hello-web-1; do
  address=$("$BIN/zlayer" ps hello -o json |
    jq -r --arg id "$id" '.deployments[].services[].replicas[] | select(.container_id == $id) | .address')
  echo -n "$id at $address: "
  for _ in $(seq 50); do curl -sf "http://$address:8080/" && break; sleep 0.1; done
done
cat <<TXT

The node runs in the background (zlayer-init pid $(cat "$PIDFILE")). Try:
  export ZLAYER_SOCKET=$ZLAYER_RUN_DIR/agent.sock
  $BIN/zlayer ps
  $BIN/zlayer logs hello/web
  ctr --address $CONTAINERD_SOCKET -n zlayer containers ls
Stop it with: scripts/run-example.sh stop
TXT
