#!/usr/bin/env bash
# Benchmark: the zlayer-node image in a real Docker engine, next to a bare containerd
# started from the same image with the same containerd config.
#
#   bench/docker.sh [RUNS]      (default 5; needs root and the release build in
#                               build-release/bin; starts its own dockerd like
#                               scripts/e2e-docker.sh and removes it afterwards)
#
# Measures:
#   - the image's size (`docker image inspect .Size`);
#   - `docker run -d` -> ready: from launching `docker run` until the node's log says
#     "node is ready" (containerd ready, then the agent ready); for bare containerd until
#     its log says it booted (`docker logs -f` into a file, checked every 10 ms);
#   - idle memory 5 s after ready: RSS of zlayer-init, zlayer-agent and containerd
#     (`docker top ... -eo rss`), and the container's memory as `docker stats` shows it.
# Medians over RUNS fresh containers. Writes bench/results/docker.md (and prints it).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "bench: RUNS must be a positive number" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "bench: run as root (it starts dockerd)" >&2; exit 1; }
[[ -x build-release/bin/zlayer-init ]] \
  || { echo "bench: build-release/bin missing (BUILD_TYPE=Release BUILD_DIR=build-release scripts/build.sh)" >&2; exit 1; }

source scripts/lib/docker-engine.sh
trap engine_stop EXIT
engine_start
engine_base_image
docker build -q -f docker/Dockerfile.zlayer-node -t zlayer-node . >/dev/null

now_ms() { date +%s%3N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# rss_of CONTAINER COMMAND: summed RSS (KiB) of the container's processes named COMMAND.
rss_of() { docker top "$1" -eo pid,rss,comm | awk -v c="$2" '$3 == c {s += $2} END {print s + 0}'; }
# mem_of CONTAINER: the container's memory use in KiB, from `docker stats`.
mem_of() {
  docker stats --no-stream --format '{{.MemUsage}}' "$1" | awk '{
    v = $1; u = v; gsub(/[0-9.]/, "", u); sub(/[A-Za-z]+$/, "", v)
    f = (u == "GiB") ? 1048576 : (u == "MiB") ? 1024 : (u == "KiB") ? 1 : (u == "kB") ? 1 : 1/1024
    printf "%d\n", v * f }'
}
# ready_after CONTAINER PATTERN T0: ms from T0 until PATTERN is in the container's log
# (followed into a file with `docker logs -f`, the file checked every 10 ms).
ready_after() {
  local log=$ENGINE_DIR/follow.log follower end t
  docker logs -f "$1" >"$log" 2>&1 &
  follower=$!
  end=$((SECONDS + 120))
  until grep -q -- "$2" "$log"; do
    if ((SECONDS > end)); then
      kill "$follower" 2>/dev/null; echo "bench: $1 never logged '$2'" >&2; tail -20 "$log" >&2; return 1
    fi
    sleep 0.01
  done
  t=$(now_ms)
  kill "$follower" 2>/dev/null; wait "$follower" 2>/dev/null || true
  echo $((t - $3))
}

size=$(docker image inspect -f '{{.Size}}' zlayer-node)
z_ready=() z_init=() z_agent=() z_ctrd=() z_mem=() c_ready=() c_ctrd=() c_mem=()
config=$(mktemp /tmp/zl-bench-ctrd-XXXX.toml)
trap 'rm -f "$config"; engine_stop' EXIT
for run in $(seq "$RUNS"); do
  t0=$(now_ms)
  docker run --privileged -d --name zl-bench zlayer-node serve >/dev/null
  z_ready+=("$(ready_after zl-bench "zlayer-init: info: node is ready" "$t0")")
  sleep 5
  z_init+=("$(rss_of zl-bench zlayer-init)")
  z_agent+=("$(rss_of zl-bench zlayer-agent)")
  z_ctrd+=("$(rss_of zl-bench containerd)")
  z_mem+=("$(mem_of zl-bench)")
  docker exec zl-bench cat /run/zlayer/containerd.toml >"$config"
  docker rm -f -v zl-bench >/dev/null

  # Bare containerd: the same image and the config zlayer-init rendered, no supervisor.
  t0=$(now_ms)
  docker run --privileged -d --name zl-bench-bare -v "$config:/etc/containerd/bench.toml:ro" \
    --entrypoint containerd zlayer-node --config /etc/containerd/bench.toml >/dev/null
  c_ready+=("$(ready_after zl-bench-bare "containerd successfully booted" "$t0")")
  sleep 5
  c_ctrd+=("$(rss_of zl-bench-bare containerd)")
  c_mem+=("$(mem_of zl-bench-bare)")
  docker rm -f -v zl-bench-bare >/dev/null
done

m() { printf '%s\n' "$@" | median; }
zr=$(m "${z_ready[@]}") cr=$(m "${c_ready[@]}")
zi=$(m "${z_init[@]}") za=$(m "${z_agent[@]}") zc=$(m "${z_ctrd[@]}") zm=$(m "${z_mem[@]}")
cc=$(m "${c_ctrd[@]}") cm=$(m "${c_mem[@]}")
zsum=$(awk "BEGIN {print $zi + $za + $zc}")
mib() { awk "BEGIN {printf \"%.1f\", $1 / 1024}"; }
mkdir -p bench/results
{
  echo "# zlayer-node in Docker vs bare containerd in the same image ($(date -u +%Y-%m-%d), $(nproc) cores, $RUNS runs, medians)"
  echo
  echo "Command: \`bench/docker.sh $RUNS\` (release build; Docker $(docker version -f '{{.Server.Version}}'), storage $(docker info -f '{{.Driver}}'))"
  echo
  echo "Image \`zlayer-node\` (release build): **$(awk "BEGIN {printf \"%.0f\", $size / 1000000}") MB** ($size bytes)."
  echo
  echo "| measure | zlayer-node | bare containerd | ratio |"
  echo "|---|---|---|---|"
  echo "| \`docker run -d\` -> ready (ms) | $zr | $cr | $(awk "BEGIN {printf \"%.2f\", $zr/$cr}") |"
  echo "| zlayer-init RSS (MiB) | $(mib "$zi") | - | |"
  echo "| zlayer-agent RSS (MiB) | $(mib "$za") | - | |"
  echo "| containerd RSS (MiB) | $(mib "$zc") | $(mib "$cc") | $(awk "BEGIN {printf \"%.2f\", $zc/$cc}") |"
  echo "| supervisor + agent + containerd RSS (MiB) | $(mib "$zsum") | $(mib "$cc") | $(awk "BEGIN {printf \"%.2f\", $zsum/$cc}") |"
  echo "| container memory, \`docker stats\` (MiB) | $(mib "$zm") | $(mib "$cm") | $(awk "BEGIN {printf \"%.2f\", $zm/$cm}") |"
  echo
  echo "Ready is \"node is ready\" in the node's log (preflight, containerd's READY=1, then the"
  echo "agent connected to containerd and serving its API) and \"containerd successfully booted\""
  echo "for bare containerd, both timed from launching \`docker run -d\` (which itself includes"
  echo "creating the container and its volumes). Memory is measured 5 s after ready, with no"
  echo "workloads. RSS counts the mapped program files too (containerd's 46 MB binary, the agent's"
  echo "libraries); \`docker stats\` is the cgroup's usage without page cache, so it leaves those out."
} | tee bench/results/docker.md
