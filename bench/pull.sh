#!/usr/bin/env bash
# Benchmark: `zlayer pull` next to `ctr images pull --plain-http` of the same multi-layer
# image (5 layers, >= 50 MiB compressed, scripts/build-test-image.sh --layers 4
# --filler-mb 50) from a local docker-registry, each into a fresh containerd namespace,
# in one run.
#
#   bench/pull.sh [RUNS]      (default 5; needs root and a build)
#
# One containerd (content_sharing_policy "isolated", so a fresh namespace really fetches
# every blob) serves both. Each zlayer run starts a zlayer-agent on a new namespace and
# times `zlayer pull` (resolve, fetch with ZLAYER_PULL_CONCURRENCY, verify, unpack,
# name); each ctr run times `ctr -n <new namespace> images pull --plain-http` (which
# also unpacks). Writes bench/results/pull.md.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
BIN=${BIN:-build/bin}
T=$(mktemp -d /tmp/zl-bp-XXXX)
chmod 0755 "$T"
SOCK=$T/c.sock
containerd_pid= registry_pid= agent_pid=
cleanup() {
  for pid in $agent_pid $registry_pid $containerd_pid; do
    kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  done
  grep " $T/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
now_ms() { date +%s%3N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

mkdir -p "$T/root" "$T/state" "$T/reg"
cat >"$T/containerd.toml" <<EOF2
version = 2
root = "$T/root"
state = "$T/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[plugins."io.containerd.metadata.v1.bolt"]
  content_sharing_policy = "isolated"
EOF2
containerd --config "$T/containerd.toml" >"$T/containerd.log" 2>&1 &
containerd_pid=$!
until ctr --address "$SOCK" version >/dev/null 2>&1; do sleep 0.1; done

PORT=$((20000 + RANDOM % 40000))
cat >"$T/reg.yml" <<EOF2
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $T/reg}}
http: {addr: "127.0.0.1:$PORT", secret: bench}
EOF2
docker-registry serve "$T/reg.yml" >"$T/reg.log" 2>&1 &
registry_pid=$!
until curl -sf "http://127.0.0.1:$PORT/v2/" >/dev/null; do sleep 0.1; done
R=127.0.0.1:$PORT

scripts/build-test-image.sh --layers 4 --filler-mb 50 --tag big "$T/big" >/dev/null 2>"$T/build.err"
scripts/push-test-image.sh "$T/big" "$R/zlayer/big" >/dev/null 2>"$T/push.err"
IMAGE=$R/zlayer/big:big
bytes=$(skopeo inspect --tls-verify=false --raw "docker://$IMAGE" | jq '[.layers[].size] | add')

zl=() ct=()
for i in $(seq "$RUNS"); do
  # zlayer: a new agent on a new namespace.
  rm -f "$T/agent.sock"
  CONTAINERD_SOCKET=$SOCK ZLAYER_NAMESPACE=zlbench$$-$i ZLAYER_SOCKET=$T/agent.sock \
    ZLAYER_DATA_DIR=$T/data$i ZLAYER_STATE_DIR=$T/data$i/containers ZLAYER_RUN_DIR=$T/run$i \
    ZLAYER_CONTAINERD_ROOT=$T/root ZLAYER_CONTAINERD_STATE=$T/state \
    "$BIN/zlayer-agent" >"$T/agent$i.log" 2>&1 &
  agent_pid=$!
  until ZLAYER_SOCKET=$T/agent.sock "$BIN/zlayer" status >/dev/null 2>&1; do sleep 0.05; done
  t0=$(now_ms)
  ZLAYER_SOCKET=$T/agent.sock "$BIN/zlayer" pull "$IMAGE" >"$T/zl$i.out"
  zl+=($(( $(now_ms) - t0 )))
  # A fresh namespace must fetch every blob (config + 5 layers + manifest verified).
  if [[ $(grep -c ': verified' "$T/zl$i.out") -lt 7 ]]; then
    echo "bench: zlayer run $i did not fetch every blob:" >&2; cat "$T/zl$i.out" >&2; exit 1
  fi
  kill -TERM "$agent_pid"; wait "$agent_pid" 2>/dev/null || true; agent_pid=

  t0=$(now_ms)
  ctr --address "$SOCK" -n ctrbench$$-$i images pull --plain-http "$IMAGE" >"$T/ctr$i.out" 2>&1
  ct+=($(( $(now_ms) - t0 )))
done
zm=$(printf '%s\n' "${zl[@]}" | median); cm=$(printf '%s\n' "${ct[@]}" | median)
mkdir -p bench/results
{
  echo "# pull of a 5-layer, $((bytes / 1048576)) MiB image from a local registry ($(date -u +%Y-%m-%d), $(nproc) cores, $RUNS runs, medians)"
  echo
  echo "Command: \`bench/pull.sh $RUNS\`"
  echo
  echo "| measure | zlayer pull | ctr images pull --plain-http | ratio |"
  echo "|---|---|---|---|"
  echo "| fresh namespace to image stored and unpacked (ms) | $zm | $cm | $(awk "BEGIN {printf \"%.2f\", $zm/$cm}") |"
  echo
  echo "All runs (ms): zlayer ${zl[*]}; ctr ${ct[*]}."
  echo "Both fetch every blob (containerd's content_sharing_policy is \"isolated\") and unpack"
  echo "into overlayfs. zlayer fetches ${ZLAYER_PULL_CONCURRENCY:-3} layers at once and unpacks"
  echo "each as soon as the layers below it are in; its time includes the CLI's connection"
  echo "to the agent and the progress stream."
} | tee bench/results/pull.md
