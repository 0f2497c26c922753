#!/usr/bin/env bash
# End to end: twenty `zlayer deploy` of one deployment at once, each with a different replica
# count. Generations are taken in the order the agent accepts the deploys and saved in that
# order, so afterwards the stored file, `zlayer ps` and `zlayer inspect` agree on the last
# accepted generation and its replica count, and still do after a kill -9 of the agent.
# Needs root.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

start_node_or_finish
check "the test image is imported" import_test_image

spec_with() {  # spec_with REPLICAS: a deployment "race" whose one service has REPLICAS replicas
  cat <<YAML
version: v1
deployment: race
services:
  idle:
    image: {name: "zlayer/busybox:latest", pull_policy: never}
    command: {entrypoint: ["/bin/sleep", "3600"]}
    stop_grace_period: 1s
    scale: {replicas: $1}
YAML
}

for n in $(seq 1 20); do spec_with $(((n % 5) + 1)) >"$T/race-$n.yaml"; done
deploys=()
for n in $(seq 1 20); do
  "$ZL" deploy --spec "$T/race-$n.yaml" >"$T/deploy-$n.out" 2>&1 &
  deploys+=($!)
done
wait "${deploys[@]}"  # not a bare `wait`: zlayer-init runs in the background too

accepted=0
for n in $(seq 1 20); do grep -q "generation" "$T/deploy-$n.out" && accepted=$((accepted + 1)); done
check "every one of the 20 deploys is answered with a generation" [ "$accepted" -eq 20 ]

# The last accepted generation: the highest one any deploy printed, and the spec it came from.
last_generation=0 last_file=
for n in $(seq 1 20); do
  g=$(grep -oE "generation [0-9]+" "$T/deploy-$n.out" | head -1 | awk '{print $2}')
  if [[ -n $g && $g -gt $last_generation ]]; then last_generation=$g; last_file=$n; fi
done
want=$(((last_file % 5) + 1))
echo "# last accepted: generation $last_generation from deploy $last_file ($want replicas)"
duplicates=$(cat "$T"/deploy-*.out | grep -oE "generation [0-9]+ accepted" | sort | uniq -d)
check "no two deploys were accepted as the same generation" [ -z "$duplicates" ]

stored_file=$ZLAYER_DATA_DIR/deployments/race.json
agrees() {
  [[ $(jq -r '.generation' "$stored_file") == "$last_generation" ]] || return 1
  jq -r '.spec_yaml' "$stored_file" | grep -q "replicas: $want}" || return 1
  [[ $("$ZL" ps -o json | jq '[.deployments[] | select(.name == "race") | .generation | tonumber] | first') \
    == "$last_generation" ]] || return 1
  [[ $("$ZL" ps -o json | jq '[.deployments[] | select(.name == "race") | .services[].replicas[]
        | select(.state | ascii_downcase | test("running"))] | length') == "$want" ]] || return 1
  [[ $("$ZL" inspect race -o json | jq '.replicas | length') == "$want" ]] || return 1
}
export -f agrees
export stored_file last_generation want
check "the stored file, zlayer ps and zlayer inspect agree on the last accepted generation" \
  wait_for 60 agrees

agent_pid=$(pgrep -f "zlayer-agent" -P "$init_pid" | head -1)
kill -9 "$agent_pid"
check "after a kill -9 of the agent they still agree" \
  wait_for 60 bash -c "'$ZL' status >/dev/null 2>&1 && agrees"

"$ZL" delete race >/dev/null 2>&1
stop_node
finish
