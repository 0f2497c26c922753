#!/usr/bin/env bash
# Formats every C++ source with clang-format (Google style, .clang-format).
#   scripts/format.sh          rewrite files in place
#   scripts/format.sh --check  exit 1 if any file would change
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files -co --exclude-standard '*.cc' '*.h' | grep -v '^build')
if [[ "${1:-}" == "--check" ]]; then
  clang-format --dry-run --Werror "${files[@]}"
else
  clang-format -i "${files[@]}"
fi
