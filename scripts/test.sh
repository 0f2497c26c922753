#!/usr/bin/env bash
# Runs every test: installs what is missing, builds, and runs ctest.
# Needs root (tests start containerd, enter PID namespaces, mount).
#   scripts/test.sh                 everything
#   scripts/test.sh -L unit         only tests labelled "unit" (ctest arguments pass through)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure --timeout 600 "$@"
