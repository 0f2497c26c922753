#!/usr/bin/env bash
# Builds a small container image from Debian's static busybox with umoci, offline.
#
#   scripts/build-test-image.sh [options] OUT
#
#   --name NAME        repository name (default zlayer/busybox); the full name is
#                      normalised like Docker does: docker.io/zlayer/busybox
#   --tag TAG          tag (default latest)
#   --layers N         N extra layers on top of the base, layer i adds /layers/<i>.txt (default 0)
#   --filler-mb M      spread M MiB of incompressible data over the extra layers as
#                      /filler/<i>.bin (needs --layers >= 1; pseudo-random from --seed)
#   --seed S           seed of the filler data (default zlayer)
#   --arch A           amd64 (default) or arm64: the config's architecture (the binary is
#                      always the host's busybox; nobody runs the arm64 one)
#   --multi-platform   an OCI index with a linux/amd64 and a linux/arm64 (variant v8) manifest
#   --format F         oci-layout (default, a directory), oci-archive (a tar of the layout)
#                      or docker-archive (`docker save` style, one platform only)
#   --stop-signal SIG  the config's StopSignal (e.g. SIGQUIT; default none, so SIGTERM)
#   --no-cache         build from scratch, neither read nor write the cache
#
# Prints the digest of the image's manifest (of the index with --multi-platform) on stdout;
# for docker-archive, of the OCI manifest it was converted from. Progress goes to stderr.
#
# The image: /bin/busybox with every applet symlinked in /bin, /etc/passwd and /etc/group
# (root, www uid/gid 1000, nobody 65534), /www/index.html saying "hello from zlayer";
# config Cmd ["/bin/sh"], Env PATH, WorkingDir /, ExposedPorts 80/tcp, labels.
# index.json names the image like `ctr images export` does: org.opencontainers.image.ref.name
# is the tag, io.containerd.image.name the full name (what `ctr images import` uses).
#
# Reproducible: timestamps are SOURCE_DATE_EPOCH (default 0), tars are sorted with numeric
# root owners, so the same inputs (this script, the busybox binary, options, tool versions)
# give the same digests. Results are cached by a hash of exactly those inputs under
# $ZLAYER_TEST_IMAGE_CACHE (default ~/.cache/zlayer/test-images); a cached build is reused
# in milliseconds. Concurrent runs are safe (flock per cache entry).
#
# Exit status: 0 built, 1 failed, 2 usage error.
set -euo pipefail
export LC_ALL=C  # sort orders and tool messages must not depend on the locale

prog=build-test-image
die() { echo "$prog: $*" >&2; exit 1; }
usage_error() { echo "$prog: $*" >&2; echo "usage: $0 [--name NAME] [--tag TAG] [--layers N] [--filler-mb M] [--seed S] [--arch amd64|arm64] [--multi-platform] [--format oci-layout|oci-archive|docker-archive] [--stop-signal SIG] [--no-cache] OUT" >&2; exit 2; }
log() { echo "$prog: $*" >&2; }

name=zlayer/busybox
tag=latest
layers=0
filler_mb=0
seed=zlayer
arch=
multi=0
format=oci-layout
stop_signal=
use_cache=1
out=

while [[ $# -gt 0 ]]; do
  opt=$1
  # Accept both "--opt value" and "--opt=value".
  if [[ $opt == --*=* ]]; then
    set -- "${opt%%=*}" "${opt#*=}" "${@:2}"
    opt=$1
  fi
  case $opt in
    --name|--tag|--layers|--filler-mb|--seed|--arch|--format|--stop-signal)
      [[ $# -ge 2 ]] || usage_error "$opt needs a value"
      val=$2
      shift 2
      case $opt in
        --name) name=$val ;;
        --tag) tag=$val ;;
        --layers) layers=$val ;;
        --filler-mb) filler_mb=$val ;;
        --seed) seed=$val ;;
        --arch) arch=$val ;;
        --format) format=$val ;;
        --stop-signal) stop_signal=$val ;;
      esac ;;
    --multi-platform) multi=1; shift ;;
    --no-cache) use_cache=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --) shift; break ;;
    -*) usage_error "unknown option $opt" ;;
    *) [[ -z $out ]] || usage_error "more than one OUT ($out, $opt)"; out=$opt; shift ;;
  esac
done
if [[ $# -gt 0 ]]; then
  [[ -z $out && $# -eq 1 ]] || usage_error "more than one OUT"
  out=$1
fi

[[ -n $out ]] || usage_error "OUT is missing"
[[ $layers =~ ^[0-9]{1,3}$ ]] && ((10#$layers <= 200)) || usage_error "--layers must be 0..200, not '$layers'"
[[ $filler_mb =~ ^[0-9]{1,5}$ ]] && ((10#$filler_mb <= 4096)) || usage_error "--filler-mb must be 0..4096, not '$filler_mb'"
layers=$((10#$layers)) filler_mb=$((10#$filler_mb))
((filler_mb == 0 || layers >= 1)) || usage_error "--filler-mb needs --layers >= 1 (the filler goes into the extra layers)"
[[ -z $stop_signal || $stop_signal =~ ^(SIG[A-Z0-9+]+|[0-9]{1,2})$ ]] \
  || usage_error "--stop-signal must be a signal name (SIGQUIT) or number, not '$stop_signal'"
case $format in oci-layout|oci-archive|docker-archive) ;; *) usage_error "unknown --format '$format'" ;; esac
if ((multi)); then
  [[ -z $arch ]] || usage_error "--arch and --multi-platform exclude each other"
  [[ $format != docker-archive ]] || usage_error "a docker-archive holds one platform: no --multi-platform"
fi
arch=${arch:-amd64}
case $arch in amd64|arm64) ;; *) usage_error "--arch must be amd64 or arm64, not '$arch'" ;; esac
# Tag and name grammar of the distribution reference (docker/distribution/reference).
[[ $tag =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || usage_error "invalid tag '$tag'"
[[ $name =~ ^([A-Za-z0-9.-]+(:[0-9]+)?/)?[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*(/[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*)*$ ]] \
  || usage_error "invalid name '$name'"

# docker.io/library/x for "x", docker.io/a/b for "a/b", unchanged when the first part is a
# host (has a dot or a port, or is localhost).
first=${name%%/*}
if [[ $name == */* && ($first == *.* || $first == *:* || $first == localhost) ]]; then
  full_name=$name
elif [[ $name == */* ]]; then
  full_name=docker.io/$name
else
  full_name=docker.io/library/$name
fi
full_ref=$full_name:$tag

epoch=${SOURCE_DATE_EPOCH:-0}
[[ $epoch =~ ^[0-9]+$ ]] || die "SOURCE_DATE_EPOCH must be a number of seconds"
created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)

busybox=/bin/busybox
for tool in umoci skopeo jq openssl flock tar sha256sum; do
  command -v "$tool" >/dev/null || die "$tool not found (scripts/install-deps.sh installs it)"
done
[[ -x $busybox ]] || die "$busybox not found (apt-get install busybox-static)"
# Debian's "busybox" package (it conflicts with busybox-static) is dynamically linked and
# would not run in an image without libc.
{ ldd "$busybox" 2>&1 || true; } | grep -q "not a dynamic executable" \
  || die "$busybox is dynamically linked: install busybox-static instead of busybox"

# --- the cache key: every input that can change a byte of the output ---------------------
self=$(readlink -f "${BASH_SOURCE[0]}")
key_input=$(cat <<EOF
script $(sha256sum <"$self" | cut -c1-64)
busybox $(sha256sum <"$busybox" | cut -c1-64)
umoci $(umoci --version)
skopeo $(skopeo --version)
tar $(tar --version | head -1)
jq $(jq --version)
name $full_name
tag $tag
layers $layers
filler_mb $filler_mb
seed $seed
arch $arch
multi $multi
stop_signal $stop_signal
created $created
EOF
)
key=$(sha256sum <<<"$key_input" | cut -c1-32)

# tarc DIR OUT.tar PATH...: a reproducible tar (sorted, fixed times, numeric root owners).
tarc() {
  local dir=$1 dest=$2
  shift 2
  tar -C "$dir" --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner \
      --format=ustar -cf "$dest" "$@"
}

# add_layer LAYOUT:TAG STAGE-DIR WHAT: one layer with everything under STAGE-DIR.
add_layer() {
  local image=$1 stage=$2 what=$3 tarfile
  local -a entries
  tarfile=$stage.tar
  mapfile -d '' -t entries < <(cd "$stage" && find . -mindepth 1 -maxdepth 1 -printf '%P\0' | sort -z)
  tarc "$stage" "$tarfile" "${entries[@]}"
  umoci raw add-layer --image "$image" --history.created "$created" \
    --history.created_by "build-test-image.sh: $what" "$tarfile"
  rm -rf "$stage" "$tarfile"
}

# filler FILE BYTES SALT: BYTES of AES-CTR keystream keyed by the seed, reproducible.
filler() {
  local file=$1 bytes=$2 salt=$3 k iv
  k=$(printf '%s/%s/key' "$seed" "$salt" | sha256sum | cut -c1-64)
  iv=$(printf '%s/%s/iv' "$seed" "$salt" | sha256sum | cut -c1-32)
  head -c "$bytes" /dev/zero | openssl enc -aes-256-ctr -K "$k" -iv "$iv" >"$file"
}

stage_base() {
  local root=$1
  mkdir -p "$root"/{bin,dev,etc,proc,root,sys,tmp,www}
  chmod 0755 "$root" "$root"/{bin,dev,etc,proc,sys,www}
  chmod 0700 "$root/root"
  chmod 1777 "$root/tmp"
  install -m 0755 "$busybox" "$root/bin/busybox"
  # One perl process instead of ~270 ln processes (0.6 s).
  "$busybox" --list | grep -vx busybox | (cd "$root/bin" && xargs perl -e 'symlink("busybox", $_) or die "$_: $!\n" for @ARGV')
  [[ -L $root/bin/sh && -L $root/bin/httpd ]] || die "busybox --list lacks sh or httpd"
  cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
www:x:1000:1000:www:/www:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
  cat >"$root/etc/group" <<'EOF'
root:x:0:
www:x:1000:
nobody:x:65534:
EOF
  echo "hello from zlayer" >"$root/www/index.html"
  chmod 0644 "$root"/etc/{passwd,group} "$root/www/index.html"
}

# build_layout DIR: the OCI image layout DIR/layout, tagged $tag, with the index.json name.
build_layout() {
  local dir=$1 L=$1/layout i per last bytes stage
  umoci init --layout "$L"
  umoci new --image "$L:build"

  stage_base "$dir/stage-base"
  add_layer "$L:build" "$dir/stage-base" "busybox base"

  if ((layers > 0)); then
    per=$((filler_mb * 1048576 / layers))
    last=$((filler_mb * 1048576 - per * (layers - 1)))
    for ((i = 1; i <= layers; i++)); do
      stage=$dir/stage-$i
      mkdir -p "$stage/layers"
      chmod 0755 "$stage" "$stage/layers"
      printf 'zlayer test layer %d of %d\n' "$i" "$layers" >"$stage/layers/$i.txt"
      chmod 0644 "$stage/layers/$i.txt"
      bytes=$per
      ((i == layers)) && bytes=$last
      if ((bytes > 0)); then
        mkdir -m 0755 "$stage/filler"
        filler "$stage/filler/$i.bin" "$bytes" "$i"
        chmod 0644 "$stage/filler/$i.bin"
      fi
      add_layer "$L:build" "$stage" "layer $i of $layers"
    done
  fi

  umoci config --image "$L:build" --created "$created" --author "zlayer build-test-image.sh" \
    --os linux --architecture "$arch" \
    --config.cmd /bin/sh \
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --config.workingdir / \
    --config.exposedports 80/tcp \
    --config.label org.opencontainers.image.title=zlayer-test-busybox \
    --config.label "org.opencontainers.image.description=zlayer test image: busybox + $layers extra layers + $filler_mb MiB filler" \
    --config.label zlayer.test-image.layers="$((layers + 1))" \
    ${stop_signal:+--config.stopsignal "$stop_signal"} \
    --history.created "$created" --history.created_by "build-test-image.sh: config"

  if ((multi)); then
    umoci config --image "$L:build" --architecture arm64 --no-history --tag build-arm64
    umoci gc --layout "$L"
    local amd arm idx idx_digest
    amd=$(jq -c '.manifests[] | select(.annotations."org.opencontainers.image.ref.name" == "build")
                 | {mediaType, digest, size, platform: {architecture: "amd64", os: "linux"}}' "$L/index.json")
    arm=$(jq -c '.manifests[] | select(.annotations."org.opencontainers.image.ref.name" == "build-arm64")
                 | {mediaType, digest, size, platform: {architecture: "arm64", os: "linux", variant: "v8"}}' "$L/index.json")
    idx=$(jq -cn --argjson a "$amd" --argjson b "$arm" \
      '{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [$a, $b]}')
    printf '%s' "$idx" >"$dir/idx.json"
    idx_digest=$(sha256sum <"$dir/idx.json" | cut -c1-64)
    mv "$dir/idx.json" "$L/blobs/sha256/$idx_digest"
    jq -cn --arg d "sha256:$idx_digest" --argjson s "$(stat -c %s "$L/blobs/sha256/$idx_digest")" --arg tag "$tag" --arg name "$full_ref" \
      '{schemaVersion: 2, manifests: [{mediaType: "application/vnd.oci.image.index.v1+json",
        digest: $d, size: $s, annotations: {"io.containerd.image.name": $name,
        "org.opencontainers.image.ref.name": $tag}}]}' >"$L/index.json"
  else
    umoci tag --image "$L:build" "$tag"
    umoci rm --image "$L:build"
    umoci gc --layout "$L"
    jq -c --arg name "$full_ref" \
      '.manifests[0].annotations["io.containerd.image.name"] = $name' "$L/index.json" >"$dir/index.json"
    mv "$dir/index.json" "$L/index.json"
  fi
  chmod -R a+rX "$L"
}

# derive FILE: makes $entry/FILE (oci.tar or docker.tar) from the layout, once.
derive() {
  local file=$1 tmp
  [[ -f $entry/$file ]] && return 0
  tmp=$entry/.$file.tmp
  rm -f "$tmp"
  case $file in
    oci.tar) tarc "$entry/layout" "$tmp" oci-layout index.json blobs ;;
    docker.tar)
      skopeo --insecure-policy copy -q "oci:$entry/layout:$tag" "docker-archive:$tmp:$full_ref" >&2 ;;
  esac
  mv "$tmp" "$entry/$file"
}

# check_out: fails unless $out is free or an earlier output of this script (before building).
check_out() {
  if [[ $format == oci-layout ]]; then
    if [[ -e $out || -L $out ]]; then
      [[ -d $out && ! -L $out ]] || die "refusing to replace $out with a directory"
      [[ -f $out/oci-layout || -z $(ls -A -- "$out") ]] \
        || die "refusing to replace $out: it is neither an OCI layout nor empty"
    fi
  else
    [[ ! -d $out ]] || die "refusing to replace directory $out with a file"
  fi
}

# place SRC: copies SRC (the layout directory or an archive) to $out (see check_out).
place() {
  local src=$1 tmp
  mkdir -p -- "$(dirname -- "$out")"
  tmp=$(dirname -- "$out")/.$(basename -- "$out").tmp.$$
  rm -rf -- "$tmp"
  if [[ -d $src ]]; then
    cp -a --reflink=auto -- "$src" "$tmp"
    rm -rf -- "$out"
    mv -T -- "$tmp" "$out"
  else
    cp --reflink=auto -- "$src" "$tmp"
    mv -f -- "$tmp" "$out"
  fi
}

check_out
cleanup_paths=()
cleanup() { ((${#cleanup_paths[@]} == 0)) || rm -rf -- "${cleanup_paths[@]}"; }
trap cleanup EXIT

if ((use_cache)); then
  cache_root=${ZLAYER_TEST_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/zlayer/test-images}
  mkdir -p "$cache_root"
else
  cache_root=$(mktemp -d "${TMPDIR:-/tmp}/zl-img-XXXXXX")
  cleanup_paths+=("$cache_root")
fi
entry=$cache_root/$key
exec 9>"$entry.lock"
flock 9

started=$(date +%s%N)
what="$full_ref ($((layers + 1)) layer(s), $filler_mb MiB filler, $( ((multi)) && echo amd64+arm64 || echo "$arch"))"
if [[ -f $entry/digest ]]; then
  log "reusing $what from $entry"
else
  # Build next to the entry and rename it into place: an entry is complete or absent.
  work=$(mktemp -d "$cache_root/.build-XXXXXX")
  cleanup_paths+=("$work")
  build_layout "$work" >&2
  jq -r '.manifests[0].digest' "$work/layout/index.json" >"$work/digest"
  printf '%s\n' "$key_input" >"$work/inputs"
  rm -rf -- "$entry"
  mv -T "$work" "$entry"
  log "built $what in $(( ($(date +%s%N) - started) / 1000000 )) ms"
fi

case $format in
  oci-layout) place "$entry/layout" ;;
  oci-archive) derive oci.tar; place "$entry/oci.tar" ;;
  docker-archive) derive docker.tar; place "$entry/docker.tar" ;;
esac
cat "$entry/digest"
