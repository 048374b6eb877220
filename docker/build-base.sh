#!/usr/bin/env bash
# Builds a minimal Debian base image with no container registry: debootstrap from the Debian mirror,
# then `docker import`. lem uses it as BASE for docker/Dockerfile.pytorch on hosts without an NVIDIA
# GPU, where `docker pull` may be impossible but the Debian mirror is reachable.
#
#   docker/build-base.sh [TAG] [SUITE]      (defaults: lem-debian:bookworm-minbase, bookworm)
#
# bookworm is the default because its python3 is 3.11, the Python lem's pytorch image fetches wheels for.
# Idempotent: an existing TAG is kept (set LEM_REBUILD=1 to replace it). Needs root (debootstrap).
# Env: LEM_DEBIAN_MIRROR (default http://deb.debian.org/debian); LEM_DOCKER, the docker CLI to call.
set -euo pipefail

DOCKER="${LEM_DOCKER:-docker}"
docker() { command "$DOCKER" "$@"; }

tag="${1:-lem-debian:bookworm-minbase}"
suite="${2:-bookworm}"
mirror="${LEM_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
security_mirror="${mirror%/debian}/debian-security"

die() { echo "build-base: $*" >&2; exit 1; }

if [[ "${LEM_REBUILD:-0}" != 1 ]] && docker image inspect "$tag" >/dev/null 2>&1; then
  echo "build-base: $tag already exists (LEM_REBUILD=1 to rebuild)"
  exit 0
fi

[[ $(id -u) == 0 ]] || die "debootstrap needs root: run as root (or build on a machine where you are)"
docker info >/dev/null 2>&1 || die "the Docker daemon does not answer: start dockerd and retry"

if ! command -v debootstrap >/dev/null 2>&1; then
  echo "build-base: installing debootstrap"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

# /var/tmp rather than /tmp: /tmp may be a tmpfs that is small or mounted nodev.
work="$(mktemp -d /var/tmp/lem-base.XXXXXX)"
dir="$work/root"
cleanup() {
  # debootstrap mounts /proc and /sys inside the target and may leave them on failure: unmount
  # first, and never let rm cross into another filesystem.
  awk -v d="$dir" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
# Without these, a shell killed by a signal skips its EXIT trap. (lem signals the whole process
# group, so debootstrap or docker import stops too, and then the shell exits through cleanup.)
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP

echo "build-base: debootstrap $suite from $mirror"
debootstrap --variant=minbase "$suite" "$dir" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 20 "$work/debootstrap.log" >&2
  die "debootstrap failed: check network access to $mirror"
}

# Updates and security exist for releases only, not for sid/unstable.
{
  echo "deb $mirror $suite main"
  if [[ "$suite" != sid && "$suite" != unstable ]]; then
    echo "deb $mirror $suite-updates main"
    echo "deb $security_mirror $suite-security main"
  fi
} >"$dir/etc/apt/sources.list"
rm -f "$dir/etc/apt/sources.list.d/debian.sources"
# Images install only what they name: recommends would pull in hundreds of MB with python3-torch.
echo 'APT::Install-Recommends "false";' >"$dir/etc/apt/apt.conf.d/99lem-no-recommends"

# Package lists and caches are stale the moment the image is made: every build runs apt-get update.
chroot "$dir" apt-get clean
rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/var/log/*.log "$dir"/var/log/apt/*

echo "build-base: importing as $tag"
tar --numeric-owner -C "$dir" -c . | docker import \
  -c 'ENV LANG=C.UTF-8' \
  -c 'CMD ["/bin/bash"]' \
  -c "LABEL org.llenergymeasure.base=$suite" \
  - "$tag" >/dev/null
echo "build-base: built $tag"
