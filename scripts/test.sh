#!/usr/bin/env bash
# Runs every test: installs what is missing, builds, runs ctest, then the end-to-end test of
# the node image with a real Docker engine (scripts/e2e-docker.sh).
# Needs root (tests start containerd and dockerd, enter PID namespaces, mount).
#   scripts/test.sh                 everything
#   scripts/test.sh -L unit         only tests labelled "unit" (ctest arguments pass through;
#                                   with arguments the Docker end-to-end test is not run)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
(cd "${BUILD_DIR:-build}" && ctest --output-on-failure --timeout 600 "$@")
if [[ $# -eq 0 ]]; then
  scripts/e2e-docker.sh
fi
