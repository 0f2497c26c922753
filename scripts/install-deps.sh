#!/usr/bin/env bash
# Installs every Debian package that building, testing and running a zlayer node needs.
# Idempotent: when everything is already installed it changes nothing and touches no network.
#
#   scripts/install-deps.sh            build + test + node packages
#   ZLAYER_DEPS_EXTRA="docker.io" scripts/install-deps.sh   ...plus extra packages
set -euo pipefail

# Building: compiler, CMake, and the chosen libraries (see DEVELOPERS guide / README).
BUILD_PACKAGES=(
  build-essential cmake pkg-config ninja-build
  protobuf-compiler libprotobuf-dev protobuf-compiler-grpc libgrpc++-dev
  libboost-dev libboost-filesystem-dev
  libyaml-cpp-dev libfmt-dev catch2 nlohmann-json3-dev
  libcurl4-openssl-dev libssl-dev libarchive-dev
  # containerd's API .proto files (and gogoproto / google.rpc they import).
  golang-github-containerd-containerd-dev golang-github-gogo-protobuf-dev
  clang-format
)

# Running a node and its tests: containerd + runc, helpers the tests drive.
RUNTIME_PACKAGES=(
  containerd runc
  util-linux procps psmisc iproute2 curl ca-certificates
  systemd          # systemd-notify, used by the supervisor tests' stand-in children
  tini             # the benchmark compares zlayer-init against it
  busybox-static umoci skopeo docker-registry apache2-utils
  jq openssl       # build-test-image.sh: JSON of OCI layouts; deterministic filler data
  zstd             # the puller's unit test makes a zstd layer
  docker.io debootstrap   # scripts/e2e-docker.sh, bench/docker.sh: the node image in Docker
  # Replica networks (agent/network): CNI plugins in /usr/lib/cni (bridge, host-local,
  # loopback, firewall), nftables; bridge's ipMasq and the firewall plugin run iptables.
  containernetworking-plugins nftables iptables
  # The containers' DNS server, run by zlayer-init (supervisor/dnsmasq_command.h):
  # dnsmasq-base is the program alone, without the dnsmasq package's own service.
  dnsmasq-base
  # The ingress on the spec's public ports, run by zlayer-init (supervisor/haproxy_command.h)
  # with the node's own configuration; the package's service and /etc/haproxy/haproxy.cfg
  # are never used by a node.
  haproxy
  # Load generators of the ingress tests and benchmarks: wrk (HTTP/1.1), h2load (HTTP/2,
  # in nghttp2-client).
  wrk nghttp2-client
  # Certificates by ACME (agent/acme, issue 14): Debian's lego is the client the agent
  # runs; pebble (with pebble-challtestsrv) is the Let's Encrypt team's test CA the
  # tests run it against.
  lego pebble
)

packages=("${BUILD_PACKAGES[@]}" "${RUNTIME_PACKAGES[@]}")
if [[ -n "${ZLAYER_DEPS_EXTRA:-}" ]]; then
  read -r -a extra <<<"${ZLAYER_DEPS_EXTRA}"
  packages+=("${extra[@]}")
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing packages (${missing[*]}); run as root to install them" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# --no-install-recommends keeps docker-registry etc. from pulling in services we don't use.
apt-get install -y -qq --no-install-recommends "${missing[@]}"
