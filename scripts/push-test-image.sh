#!/usr/bin/env bash
# Pushes a test image (from build-test-image.sh) to a registry with skopeo, TLS unverified.
#
#   scripts/push-test-image.sh [--format oci|v2s2] [--creds USER:PASS] SOURCE DEST
#
#   SOURCE         an OCI layout directory (DIR, or DIR:TAG when it holds several tags)
#                  or an OCI archive file (FILE or FILE:TAG)
#   DEST           HOST[:PORT]/REPO[:TAG], "docker://" optional; TAG defaults to the
#                  source's tag (its org.opencontainers.image.ref.name), else latest
#   --format oci   (default) push the manifests unchanged: the registry's digest is the
#                  layout's digest (skopeo --preserve-digests makes sure of it)
#   --format v2s2  convert to Docker schema 2 (an OCI index becomes a Docker manifest
#                  list); blobs are the same, manifest digests change
#   --creds U:P    basic-auth credentials for the registry
#
# An index (build-test-image.sh --multi-platform) is pushed with all its platforms.
# Prints the digest of the pushed manifest (or index/list) on stdout, one line of what it
# does (and skopeo's errors) on stderr.
# Exit status: 0 pushed, 1 failed, 2 usage error.
set -euo pipefail
export LC_ALL=C

prog=push-test-image
die() { echo "$prog: $*" >&2; exit 1; }
usage_error() { echo "$prog: $*" >&2; echo "usage: $0 [--format oci|v2s2] [--creds USER:PASS] SOURCE DEST" >&2; exit 2; }

format=oci
creds=
args=()
while [[ $# -gt 0 ]]; do
  opt=$1
  if [[ $opt == --*=* ]]; then
    set -- "${opt%%=*}" "${opt#*=}" "${@:2}"
    opt=$1
  fi
  case $opt in
    --format|--creds)
      [[ $# -ge 2 ]] || usage_error "$opt needs a value"
      [[ $opt == --format ]] && format=$2 || creds=$2
      shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --) shift; args+=("$@"); break ;;
    -*) usage_error "unknown option $opt" ;;
    *) args+=("$1"); shift ;;
  esac
done
[[ ${#args[@]} -eq 2 ]] || usage_error "need SOURCE and DEST"
src=${args[0]}
dest=${args[1]#docker://}
case $format in oci|v2s2) ;; *) usage_error "--format must be oci or v2s2, not '$format'" ;; esac
[[ -z $creds || $creds == *:* ]] || usage_error "--creds must be USER:PASS"
command -v skopeo >/dev/null || die "skopeo not found (scripts/install-deps.sh installs it)"
command -v jq >/dev/null || die "jq not found (scripts/install-deps.sh installs it)"

# SOURCE: a path, or path:tag when path exists and the suffix is not part of it.
src_path=$src src_tag=
if [[ ! -e $src && $src == *:* && -e ${src%:*} ]]; then
  src_path=${src%:*} src_tag=${src##*:}
fi
if [[ -d $src_path ]]; then
  [[ -f $src_path/oci-layout ]] || die "$src_path is not an OCI image layout (no oci-layout file)"
  transport=oci
  index_json=$(cat "$src_path/index.json")
elif [[ -f $src_path ]]; then
  transport=oci-archive
  index_json=$(tar -xOf "$src_path" index.json) || die "$src_path: no index.json: not an OCI archive"
else
  die "$src_path: no such layout or archive"
fi
if [[ -z $src_tag ]]; then
  mapfile -t tags < <(jq -r '.manifests[].annotations."org.opencontainers.image.ref.name" // empty' <<<"$index_json")
  [[ ${#tags[@]} -le 1 ]] || die "$src_path holds several tags (${tags[*]}): say which with SOURCE:TAG"
  src_tag=${tags[0]:-}
fi

# DEST: add the tag when the last path component has none (a port's colon doesn't count).
if [[ $dest != *@* && ${dest##*/} != *:* ]]; then
  dest=$dest:${src_tag:-latest}
fi
[[ $dest == */* ]] || usage_error "DEST must be HOST[:PORT]/REPO[:TAG], not '$dest'"

copy=(skopeo --insecure-policy copy --quiet --all --dest-tls-verify=false)
if [[ $format == oci ]]; then
  copy+=(--format oci --preserve-digests)
else
  copy+=(--format v2s2)
fi
[[ -z $creds ]] || copy+=(--dest-creds "$creds")

digest_file=$(mktemp "${TMPDIR:-/tmp}/zl-push-XXXXXX")
trap 'rm -f "$digest_file"' EXIT
src_ref=$transport:$src_path
[[ -z $src_tag ]] || src_ref+=:$src_tag
echo "$prog: $src_ref -> docker://$dest ($format)" >&2
"${copy[@]}" --digestfile "$digest_file" "$src_ref" "docker://$dest" >&2
cat "$digest_file"
echo
