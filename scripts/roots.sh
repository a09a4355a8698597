#!/usr/bin/env bash
# Builds (once) and caches the Debian roots the deployable package needs:
#   bullseye-build  Debian 11 with our -dev packages: builds the handler against
#                   glibc 2.31, the oldest glibc of the Functions Linux images
#   bullseye-base   Debian 11, base system only: the package must run here
#   bookworm-base   Debian 12, base system only: and here
# Roots live in $ES_ROOTS_DIR (default /var/cache/eventsourcing-azure/roots),
# outside the work tree, and are reused by later builds and CI runs on the
# same machine. Needs root (debootstrap, chroot) and Debian's mirror.
# Usage: scripts/roots.sh [name...]   (default: all three); prints each root's path.
# Exit status: 0 every root is there; 3 not root, or no debootstrap; 4 a
# debootstrap failed (its log names the cause, often the mirror); 2 bad usage.
# Concurrent runs on one machine wait for each other, root by root: a root
# half-built by another run is never deleted under it.
set -euo pipefail

ROOTS=${ES_ROOTS_DIR:-/var/cache/eventsourcing-azure/roots}
MIRROR=${ES_DEBIAN_MIRROR:-http://deb.debian.org/debian}
BUILD_PACKAGES=build-essential,cmake,pkg-config,libmicrohttpd-dev,libcurl4-openssl-dev,libjansson-dev,libssl-dev,libsqlite3-dev

if [ "$(id -u)" -ne 0 ]; then
  echo "roots: debootstrap and chroot need root" >&2
  exit 3
fi
command -v debootstrap >/dev/null || {
  echo "roots: debootstrap is missing (scripts/deps.sh installs it)" >&2
  exit 3
}

make_root() {
  local name=$1 suite=$2 include=${3:-}
  local dir="$ROOTS/$name"
  if [ -f "$dir/.complete" ]; then
    echo "$dir"
    return 0
  fi
  mkdir -p "$ROOTS"
  local lock
  exec {lock}>"$ROOTS/$name.lock"
  flock "$lock"
  if [ -f "$dir/.complete" ]; then
    exec {lock}>&-
    echo "$dir"
    return 0
  fi
  rm -rf "$dir.tmp"
  echo "roots: building $name ($suite) in $dir" >&2
  local args=(--variant=minbase)
  [ -n "$include" ] && args+=("--include=$include")
  if ! debootstrap "${args[@]}" "$suite" "$dir.tmp" "$MIRROR" >"$ROOTS/$name.log" 2>&1; then
    echo "roots: debootstrap of $name failed; see $ROOTS/$name.log" >&2
    return 4
  fi
  touch "$dir.tmp/.complete"
  rm -rf "$dir"
  mv "$dir.tmp" "$dir"
  exec {lock}>&-
  echo "$dir"
}

names=("$@")
[ ${#names[@]} -eq 0 ] && names=(bullseye-build bullseye-base bookworm-base)
for n in "${names[@]}"; do
  case "$n" in
    bullseye-build) make_root bullseye-build bullseye "$BUILD_PACKAGES" ;;
    bullseye-base) make_root bullseye-base bullseye ;;
    bookworm-base) make_root bookworm-base bookworm ;;
    *) echo "roots: unknown root '$n'" >&2; exit 2 ;;
  esac
done
