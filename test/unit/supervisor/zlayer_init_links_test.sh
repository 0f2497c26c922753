#!/usr/bin/env bash
# zlayer-init is PID 1 of every node and must stay small (issue 10, "zlayer-init's
# footprint"): one static executable, no shared library to load, and no gRPC or
# protobuf code in it.
#   zlayer_init_links_test.sh PATH-TO-zlayer-init
set -uo pipefail
init=${1:?usage: zlayer_init_links_test.sh PATH-TO-zlayer-init}
source "$(dirname "$0")/../../support/checks.sh"

check "zlayer-init exists" test -x "$init"
check "zlayer-init needs no shared library (no NEEDED entry)" \
  bash -c "! readelf -d '$init' | grep -q NEEDED"
check "zlayer-init asks for no program interpreter (no ld.so)" \
  bash -c "! readelf -l '$init' | grep -q 'program interpreter'"
check "zlayer-init contains no gRPC or protobuf code" \
  bash -c "! nm -C '$init' | grep -qiE 'grpc|google::protobuf'"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
