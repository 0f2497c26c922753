#!/usr/bin/env bash
# Configures and builds into build/ (override with BUILD_DIR).
#   scripts/build.sh                 RelWithDebInfo build of everything
#   BUILD_TYPE=Release BUILD_DIR=build-release scripts/build.sh     the release build
#   scripts/build.sh zlayer zlayer-init zlayer-agent                only these targets
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo}
GENERATOR=()
command -v ninja >/dev/null && GENERATOR=(-G Ninja)
if [[ ! -f "$BUILD_DIR/CMakeCache.txt" ]]; then
  cmake -S . -B "$BUILD_DIR" "${GENERATOR[@]}" -DCMAKE_BUILD_TYPE="$BUILD_TYPE"
fi
TARGETS=()
[[ $# -eq 0 ]] || TARGETS=(--target "$@")
cmake --build "$BUILD_DIR" --parallel "$(nproc)" "${TARGETS[@]}"
