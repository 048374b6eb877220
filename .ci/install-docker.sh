#!/usr/bin/env bash
# Docker for lem's tests on a bare Debian (bookworm) machine, from Debian's packages only:
# docker.io (started by hand: no systemd), debootstrap (offline base images), busybox-static
# (a tiny no-op image for dispatch tests), and Compose v2: trixie's docker-compose deb runs on
# bookworm as a CLI plugin (bookworm itself only has v1, whose exec takes ~1 s; installed too,
# since lem supports both).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
# LEM_DOCKER, as everywhere in lem, names the docker CLI (a wrapper, another path).
docker() { command "${LEM_DOCKER:-docker}" "$@"; }
pkgs=()
command -v dockerd >/dev/null || pkgs+=(docker.io)
command -v debootstrap >/dev/null || pkgs+=(debootstrap)
[ -x /bin/busybox ] || pkgs+=(busybox-static)
command -v docker-compose >/dev/null || pkgs+=(docker-compose)   # Compose v1, tested beside v2
if [ ${#pkgs[@]} -gt 0 ]; then apt-get update -qq && apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null; fi

if ! docker info >/dev/null 2>&1; then
  (setsid dockerd >/tmp/lem-dockerd.log 2>&1 &)
  for _ in $(seq 150); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start:"; tail -20 /tmp/lem-dockerd.log; exit 1; }
fi

if ! docker compose version >/dev/null 2>&1; then
  w=$(mktemp -d); trap 'rm -rf "$w"' EXIT
  echo "deb http://deb.debian.org/debian trixie main" > "$w/sources.list"
  mkdir -p "$w/lists/partial" "$w/cache/archives/partial"
  O=(-o Dir::Etc::SourceList="$w/sources.list" -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists="$w/lists" -o Dir::Cache="$w/cache")
  apt-get "${O[@]}" update -qq
  (cd "$w" && apt-get "${O[@]}" download docker-compose >/dev/null 2>&1)
  dpkg-deb -x "$w"/docker-compose_*.deb "$w/x"
  install -D -m 755 "$w/x/usr/libexec/docker/cli-plugins/docker-compose" /usr/libexec/docker/cli-plugins/docker-compose
fi

# The no-op image: a static busybox, imported (no registry needed).
if ! docker image inspect lem-test/busybox:latest >/dev/null 2>&1; then
  b=$(mktemp -d); mkdir -p "$b/bin"; cp /bin/busybox "$b/bin/"
  for c in sh true sleep cat echo kill env head dd ls rm mkdir; do ln -s busybox "$b/bin/$c"; done
  tar -C "$b" -c . | docker import -c 'ENV PATH=/bin' - lem-test/busybox:latest >/dev/null; rm -rf "$b"
fi
docker version --format 'docker client {{.Client.Version}}, daemon {{.Server.Version}}'
docker compose version
