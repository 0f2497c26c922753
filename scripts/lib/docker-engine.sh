# shellcheck shell=bash
# A private Docker engine for the image tests and the benchmark (sourced, not run).
#
#   source scripts/lib/docker-engine.sh
#   engine_start            # dockerd under a new /tmp/zl-dk-XXXX, exports DOCKER_HOST
#   engine_base_image       # makes debian:bookworm-slim without a registry (cached)
#   engine_stop             # stops dockerd, unmounts and removes everything it made
#
# The engine has its own socket, data root, exec root and pid file, so a Docker already
# running on the host is left alone. Runs are serialised with a lock (one docker0 bridge,
# one host port 80). When the host's capability bounding set lacks CAP_SYS_RESOURCE (this
# VM's does), `docker run --privileged` cannot work under plain runc ("unable to apply
# caps"): the engine then gets a runc wrapper as its default runtime that removes that one
# capability from each container and exec process, and says so. The node image itself does
# not depend on this.
#
# Variables: ENGINE_DIR (set by engine_start), ZLAYER_E2E_CACHE (default
# /var/cache/zlayer-e2e: the debootstrapped base rootfs tarball), ENGINE_LOCK.

ENGINE_DIR=
ENGINE_PID=
ENGINE_FORWARD_POLICY=
ENGINE_MADE_BRIDGE=0
ZLAYER_E2E_CACHE=${ZLAYER_E2E_CACHE:-/var/cache/zlayer-e2e}
ENGINE_LOCK=${ENGINE_LOCK:-/run/lock/zlayer-docker-engine.lock}

engine_log() { echo "docker-engine: $*" >&2; }

# True when CAP_SYS_RESOURCE (bit 24) is in this process's bounding set.
engine_host_has_sys_resource() {
  local bnd
  bnd=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
  (( (16#$bnd >> 24) & 1 ))
}

# The runc wrapper: filters CAP_SYS_RESOURCE out of config.json (create/run) and out of
# the process file (exec --process), then runs the real runc with the same arguments.
engine_write_runc_wrapper() {
  local path=$1 runc
  runc=$(command -v runc) || { engine_log "runc not found"; return 1; }
  cat >"$path" <<WRAPPER
#!/bin/bash
# Written by scripts/lib/docker-engine.sh: this host cannot grant CAP_SYS_RESOURCE.
set -e
files=()
cmd=
args=("\$@")
for ((i = 0; i < \${#args[@]}; i++)); do
  a=\${args[i]}
  case \$a in
    create|run|exec) [[ -z \$cmd ]] && cmd=\$a ;;
    --bundle|-b) files+=("\${args[i+1]}/config.json") ;;
    --bundle=*) files+=("\${a#--bundle=}/config.json") ;;
    --process|-p) [[ \$cmd == exec ]] && files+=("\${args[i+1]}") ;;
    --process=*) files+=("\${a#--process=}") ;;
  esac
done
if [[ \$cmd == create || \$cmd == run || \$cmd == exec ]]; then
  [[ \$cmd != exec && \${#files[@]} -eq 0 ]] && files+=("\$PWD/config.json")
  for f in "\${files[@]}"; do
    [[ -f \$f ]] || continue
    jq -c 'def drop: if type == "array" then map(select(. != "CAP_SYS_RESOURCE")) else . end;
           if .process then .process.capabilities |= (if . then with_entries(.value |= drop) else . end)
           else .capabilities |= (if . then with_entries(.value |= drop) else . end) end' \
      "\$f" >"\$f.zl-tmp" && mv "\$f.zl-tmp" "\$f"
  done
fi
exec $runc "\$@"
WRAPPER
  chmod 0755 "$path"
}

engine_start() {
  command -v dockerd >/dev/null || { engine_log "dockerd missing (scripts/install-deps.sh installs docker.io)"; return 1; }
  mkdir -p "$(dirname "$ENGINE_LOCK")"
  exec 8>"$ENGINE_LOCK"
  if ! flock -n 8; then
    engine_log "waiting for another run that holds $ENGINE_LOCK"
    flock 8
  fi
  ENGINE_DIR=$(mktemp -d /tmp/zl-dk-XXXX)
  ip link show docker0 >/dev/null 2>&1 || ENGINE_MADE_BRIDGE=1
  ENGINE_FORWARD_POLICY=$(iptables -S FORWARD 2>/dev/null | awk '$1 == "-P" {print $3; exit}')
  local runtime_json=
  if ! engine_host_has_sys_resource; then
    engine_write_runc_wrapper "$ENGINE_DIR/runc-nosysres"
    runtime_json=", \"runtimes\": {\"runc-nosysres\": {\"path\": \"$ENGINE_DIR/runc-nosysres\"}},
  \"default-runtime\": \"runc-nosysres\""
    engine_log "this host lacks CAP_SYS_RESOURCE: the test engine's default runtime is a runc" \
      "wrapper that drops it (so --privileged works here; the image does not need this)"
  fi
  cat >"$ENGINE_DIR/daemon.json" <<JSON
{
  "storage-driver": "overlay2",
  "log-level": "warn"$runtime_json
}
JSON
  dockerd --config-file "$ENGINE_DIR/daemon.json" --data-root "$ENGINE_DIR/data" \
    --exec-root "$ENGINE_DIR/exec" --pidfile "$ENGINE_DIR/dockerd.pid" \
    -H "unix://$ENGINE_DIR/docker.sock" >"$ENGINE_DIR/dockerd.log" 2>&1 </dev/null &
  ENGINE_PID=$!
  export DOCKER_HOST=unix://$ENGINE_DIR/docker.sock
  local i
  for ((i = 0; i < 300; i++)); do
    docker version >/dev/null 2>&1 && break
    if ! kill -0 "$ENGINE_PID" 2>/dev/null; then
      engine_log "dockerd exited at start:"; tail -20 "$ENGINE_DIR/dockerd.log" >&2; return 1
    fi
    sleep 0.1
  done
  docker version >/dev/null || { engine_log "dockerd did not answer in 30 s"; tail -20 "$ENGINE_DIR/dockerd.log" >&2; return 1; }
  engine_log "dockerd $(docker version -f '{{.Server.Version}}') (pid $ENGINE_PID) at $DOCKER_HOST," \
    "storage $(docker info -f '{{.Driver}}'), default runtime $(docker info -f '{{.DefaultRuntime}}')"
}

engine_stop() {
  [[ -n $ENGINE_DIR ]] || return 0
  if [[ -n $ENGINE_PID ]] && kill -0 "$ENGINE_PID" 2>/dev/null; then
    # Containers first (their volumes and mounts go with them), then the daemon.
    local ids
    ids=$(docker ps -aq 2>/dev/null || true)
    [[ -z $ids ]] || docker rm -f -v $ids >/dev/null 2>&1 || true
    kill -TERM "$ENGINE_PID" 2>/dev/null || true
    local i
    for ((i = 0; i < 200; i++)); do kill -0 "$ENGINE_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$ENGINE_PID" 2>/dev/null || true
    wait "$ENGINE_PID" 2>/dev/null || true
  fi
  # dockerd's own containerd and shims run under the exec root.
  local pids
  pids=$(pgrep -f "$ENGINE_DIR/" || true)
  [[ -z $pids ]] || kill -KILL $pids 2>/dev/null || true
  grep " $ENGINE_DIR/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$ENGINE_DIR"
  if ((ENGINE_MADE_BRIDGE)); then ip link del docker0 2>/dev/null || true; fi
  if [[ -n $ENGINE_FORWARD_POLICY ]]; then iptables -P FORWARD "$ENGINE_FORWARD_POLICY" 2>/dev/null || true; fi
  ENGINE_DIR= ENGINE_PID=
  unset DOCKER_HOST
}

# debian:bookworm-slim for the engine, without a registry: a debootstrap --variant=minbase
# root (cached as a tarball) trimmed the way Debian's Docker images are, then `docker import`.
engine_base_image() {
  docker image inspect debian:bookworm-slim >/dev/null 2>&1 && return 0
  local tarball=$ZLAYER_E2E_CACHE/debian-bookworm-minbase.tar
  if [[ ! -s $tarball ]]; then
    command -v debootstrap >/dev/null || { engine_log "debootstrap missing (scripts/install-deps.sh)"; return 1; }
    mkdir -p "$ZLAYER_E2E_CACHE"
    local root t0=$SECONDS
    root=$(mktemp -d /tmp/zl-deb-XXXX)
    engine_log "debootstrap --variant=minbase bookworm (cached in $tarball afterwards)"
    if ! debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >"$root.log" 2>&1; then
      engine_log "debootstrap failed:"; tail -20 "$root.log" >&2
      grep " $root/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l || true
      rm -rf "$root" "$root.log"; return 1
    fi
    engine_trim_rootfs "$root"
    tar --numeric-owner -C "$root" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$root" "$root.log"
    engine_log "base rootfs ready in $((SECONDS - t0)) s"
  fi
  docker import --change 'CMD ["bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "$tarball" debian:bookworm-slim >/dev/null
  engine_log "imported debian:bookworm-slim from $tarball"
}

# What Debian's official slim images do to a debootstrapped root: apt sources with updates
# and security, no package caches or lists, no docs/man pages/translations from later
# installs, no translated package lists.
engine_trim_rootfs() {
  local root=$1
  rm -f "$root/etc/apt/sources.list"
  cat >"$root/etc/apt/sources.list.d/debian.sources" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  cat >"$root/etc/apt/apt.conf.d/docker-slim" <<'APT'
// Image builds: keep no package caches, fetch no translations, keep lists compressed.
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
Acquire::GzipIndexes "true";
APT::Install-Recommends "false";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb || true"; };
APT
  cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'DPKG'
# Image builds: no documentation, man pages or translations (copyright files stay).
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
force-unsafe-io
DPKG
  echo "debian" >"$root/etc/hostname"
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
    "$root"/var/log/*.log "$root"/var/log/apt/* "$root"/usr/share/man/* \
    "$root"/usr/share/locale/* "$root"/usr/share/info/*
  find "$root/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
}
