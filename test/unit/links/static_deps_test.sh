#!/usr/bin/env bash
# `zlayer` and `zlayer-agent` start fast (issue 11, "Start-up, measured side by side"):
# gRPC, protobuf, abseil and yaml-cpp are linked in, so the dynamic loader neither loads
# them nor resolves their symbols at every start (bench/results/startup.md).
#   static_deps_test.sh PROGRAM...
set -uo pipefail
[[ $# -gt 0 ]] || { echo "usage: static_deps_test.sh PROGRAM..." >&2; exit 2; }
source "$(dirname "$0")/../../support/checks.sh"

for program in "$@"; do
  name=$(basename "$program")
  check "$name exists" test -x "$program"
  for lib in libgrpc libgpr libprotobuf libabsl libupb libre2 libyaml-cpp; do
    check "$name needs no $lib*.so (no NEEDED entry)" \
      bash -c "! readelf -d '$program' | grep NEEDED | grep -qF '[$lib'"
  done
  check "$name loads no gRPC, protobuf or abseil library at run time (ldd)" \
    bash -c "! ldd '$program' | grep -qE 'lib(grpc|gpr|protobuf|absl|upb|re2|yaml-cpp)'"
  check "$name contains gRPC's and protobuf's code" \
    bash -c "nm -C '$program' | grep -q 'grpc::CreateCustomChannel' &&
             nm -C '$program' | grep -q 'google::protobuf::MessageLite'"
done
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
