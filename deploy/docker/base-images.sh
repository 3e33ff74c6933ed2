#!/usr/bin/env bash
# Makes sure a base image for LlmStack's Dockerfile is present and prints its name (the Dockerfile's BASE_IMAGE):
# debian:bookworm-slim, Docker Hub's official Debian 12 image, where it is present or a registry answers; where none
# does (an offline build machine), an equivalent made locally - a minimal Debian 12 from Debian's own package mirror
# (debootstrap --variant=minbase) imported as llmstack/debian-minbase:bookworm. Never under the official name: a
# later build or `compose up` on the same host that asks for debian:bookworm-slim must get the real one.
# The debootstrap tree is cached as a tarball (LLMSTACK_CACHE, default ~/.cache/llmstack), so a machine whose
# Docker storage was wiped imports it again in seconds.
# Usage: deploy/docker/base-images.sh        (needs root, or sudo, only when it has to run debootstrap)
set -euo pipefail

official=debian:bookworm-slim
base=llmstack/debian-minbase:bookworm
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=${LLMSTACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/llmstack}
tarball="$cache/debian-bookworm-minbase.tar"

log() { echo "base-images: $*" >&2; }

for image in "$official" "$base"; do
  if docker image inspect "$image" >/dev/null 2>&1; then
    echo "$image"
    exit 0
  fi
done

log "pulling $official"
if timeout 60 docker pull -q "$official" >/dev/null 2>/tmp/llmstack-pull.$$; then
  rm -f /tmp/llmstack-pull.$$
  echo "$official"
  exit 0
fi
log "cannot pull $official ($(head -n 1 /tmp/llmstack-pull.$$)); making $base from Debian's packages"
rm -f /tmp/llmstack-pull.$$

if [ ! -s "$tarball" ]; then
  command -v debootstrap >/dev/null || { log "debootstrap is not installed (apt-get install debootstrap)"; exit 1; }
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  root=$(mktemp -d)
  trap '$sudo_cmd rm -rf "$root"' EXIT
  started=$SECONDS
  $sudo_cmd debootstrap --variant=minbase bookworm "$root" "$mirror" >/dev/null
  # What makes the official image "slim" (debuerreotype's slimify and Docker apt settings): no docs, man pages
  # or translations - now or from later installs - and apt cleaning up after itself.
  $sudo_cmd tee "$root/etc/dpkg/dpkg.cfg.d/docker-slim" >/dev/null <<'SLIM'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
SLIM
  $sudo_cmd tee "$root/etc/apt/apt.conf.d/docker-clean" >/dev/null <<'CLEAN'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
APT::Install-Recommends "false";
CLEAN
  $sudo_cmd find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  $sudo_cmd rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* \
    "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
  mkdir -p "$cache"
  $sudo_cmd tar -C "$root" -cf "$tarball.partial" .
  $sudo_cmd chown "$(id -u):$(id -g)" "$tarball.partial"
  mv "$tarball.partial" "$tarball"
  log "debootstrap done in $((SECONDS - started)) s; cached at $tarball"
fi

docker import --change 'CMD ["bash"]' "$tarball" "$base" >/dev/null
log "imported $base from $tarball"
echo "$base"
