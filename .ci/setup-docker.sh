#!/usr/bin/env bash
# Idempotent: a Docker engine on the default unix socket, and the image moonbase/busybox:1
# the JobDirector's docker runtime (target_api/director/runtimes/docker.py) runs by default.
#
# - installs docker.io and busybox-static with apt-get when missing;
# - starts dockerd in the background with no bridge and no iptables rules (containers use
#   the host network; no bridge network is ever created), log in $DOCKERD_LOG;
# - waits until `docker info` answers, at most $DOCKER_WAIT_S seconds;
# - imports the busybox image from the host's static busybox (no registry is reachable),
#   with the project's interpreter when $MOONBASE_PYTHON names it, else with the shell.
# If an engine already answers, only the image is ensured. No bare `python3` is ever run.
set -euo pipefail

DOCKERD_LOG=${DOCKERD_LOG:-/tmp/dockerd.log}
DOCKERD_PIDFILE=${DOCKERD_PIDFILE:-/var/run/docker.pid}
DOCKER_WAIT_S=${DOCKER_WAIT_S:-60}
IMAGE=${MOONBASE_DOCKER_IMAGE:-moonbase/busybox:1}
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
say() { echo "setup-docker: $*"; }
die() { echo "setup-docker: ERROR: $*" >&2; exit 1; }

engine_answers() { as_root docker info >/dev/null 2>&1; }

# $1 = "engine": the engine runs already, only what the image needs may be missing.
install_packages() {
  local missing=()
  if [ "${1:-}" != engine ]; then
    { command -v dockerd && command -v docker; } >/dev/null 2>&1 || missing+=(docker.io)
  fi
  { [ -x /bin/busybox ] && file_is_static /bin/busybox; } || missing+=(busybox-static)
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]}"
  # apt-get update only when the package lists do not know the packages yet
  if ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then as_root apt-get update -q; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
}

# A static executable has no PT_INTERP ("Requesting program interpreter") header.
file_is_static() {
  if command -v readelf >/dev/null 2>&1; then
    ! readelf -l "$1" 2>/dev/null | grep -q 'program interpreter'
  else
    ! grep -q 'ld-linux' "$1"
  fi
}

start_engine() {
  say "starting dockerd (log: $DOCKERD_LOG)"
  # vfs: works on any filesystem, also inside a container; --bridge=none/--iptables=false:
  # no docker0, no NAT rules, all traffic stays on the host network.
  as_root bash -c "nohup dockerd --storage-driver=vfs --bridge=none --iptables=false \
    --ip-masq=false --pidfile='$DOCKERD_PIDFILE' >>'$DOCKERD_LOG' 2>&1 </dev/null & echo \$!" \
    >/tmp/setup-docker.dockerd.pid
  local pid deadline
  pid=$(cat /tmp/setup-docker.dockerd.pid)
  deadline=$((SECONDS + DOCKER_WAIT_S))
  until engine_answers; do
    if ! as_root kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$DOCKERD_LOG" >&2 || true
      die "dockerd (pid $pid) exited before answering; log above and in $DOCKERD_LOG"
    fi
    if [ $SECONDS -ge $deadline ]; then
      tail -n 30 "$DOCKERD_LOG" >&2 || true
      die "the Docker engine did not answer within ${DOCKER_WAIT_S}s (dockerd pid $pid)"
    fi
    sleep 0.2
  done
  say "dockerd $pid answers"
}

# The same image target_api/director/images.py builds. That module imports the project
# (starlette, ...), so it runs only under the project's own interpreter, handed in as
# $MOONBASE_PYTHON (.ci/run passes the venv's); never the machine's python3, which may
# have `docker` but none of the project's dependencies. Without it the shell path serves.
ensure_image() {
  if as_root docker image inspect "$IMAGE" >/dev/null 2>&1; then
    say "image $IMAGE present"
    return 0
  fi
  if [ -n "${MOONBASE_PYTHON:-}" ]; then
    [ -x "$MOONBASE_PYTHON" ] || die "MOONBASE_PYTHON=$MOONBASE_PYTHON is not an executable"
    (cd "$repo_root" && as_root "$MOONBASE_PYTHON" -m target_api.director.images \
      --image "$IMAGE") || die "importing $IMAGE with $MOONBASE_PYTHON failed"
  else
    local root
    root=$(mktemp -d)
    mkdir -p "$root/bin" "$root/etc" "$root/usr/bin" "$root/tmp" "$root/proc" "$root/sys" \
      "$root/dev"
    chmod 1777 "$root/tmp"
    cp /bin/busybox "$root/bin/busybox"
    for applet in $(/bin/busybox --list); do
      [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
    done
    ln -sf /bin/busybox "$root/usr/bin/env"
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n' >"$root/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
    tar -C "$root" -cf - . | as_root docker import \
      --change 'ENV PATH=/bin:/usr/bin:/sbin:/usr/sbin' --change 'CMD ["sh"]' \
      --change 'LABEL moonbase.image=busybox' - "$IMAGE" >/dev/null || die "docker import failed"
    rm -rf "$root"
  fi
  say "image $IMAGE imported"
}

if engine_answers; then
  say "an engine already answers"
  install_packages engine
else
  install_packages
  start_engine
fi
ensure_image
say "ready: $(as_root docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')"
