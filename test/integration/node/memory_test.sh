#!/usr/bin/env bash
# End to end: the agent gives back the memory of a deployment once it is
# deleted. A deployment with large (but valid) environment values, 960 KB per
# replica over 20 replicas, is deployed and deleted; the agent's RSS must return
# within 20 MB of what it was before (after a small warm-up deployment, so that
# code paths run once are counted as idle).
# (Before the agent trimmed its heap after a delete it stayed about 44 MB above idle; after,
# 8-11 MB above on this machine, so 20 MB leaves room for noise and still catches the leak.)
# Needs root. Uses no host ports.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

start_node_or_finish
check "the test image is imported" import_test_image
agent_rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$(cat "$T/run/zlayer-agent.pid")/status"; }
export -f agent_rss_kib

cat >"$T/small.yaml" <<YAML
version: v1
deployment: small
services:
  app:
    image: {name: "zlayer/busybox:latest", pull_policy: never}
    command: {entrypoint: ["/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"]}
    env: {SMALL: "1"}
    scale: {replicas: 2}
YAML
check "a small deployment converges (warm-up)" timeout 60 "$ZL" deploy --spec "$T/small.yaml" --wait
check "and is deleted" timeout 60 "$ZL" delete small
idle=$(agent_rss_kib)
echo "# agent RSS idle: $idle KiB"

value=$(head -c 120000 /dev/zero | tr '\0' 'v')
{
  echo "version: v1"
  echo "deployment: big"
  echo "services:"
  echo "  app:"
  echo "    image: {name: \"zlayer/busybox:latest\", pull_policy: never}"
  echo "    command: {entrypoint: [\"/bin/sh\", \"-c\", \"trap 'exit 0' TERM; while true; do sleep 0.1; done\"]}"
  echo "    scale: {replicas: 20}"
  echo "    env:"
  for i in 1 2 3 4 5 6 7 8; do echo "      BIG_$i: \"$value\""; done
} >"$T/big.yaml"
check "a deployment with 960 KB of environment per replica converges" \
  timeout 120 "$ZL" deploy --spec "$T/big.yaml" --wait
echo "# agent RSS with it: $(agent_rss_kib) KiB"
check "and is deleted" timeout 60 "$ZL" delete big
check "the agent's RSS returns within 20 MB of its idle level" \
  wait_for 10 bash -c "[[ \$(agent_rss_kib) -le $((idle + 20480)) ]]"
echo "# agent RSS after the delete: $(agent_rss_kib) KiB"

finish
