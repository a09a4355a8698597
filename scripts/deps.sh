#!/usr/bin/env bash
# Installs the Debian packages the build, the tests and the linters need,
# when they are missing. Run as root, or as a user with sudo. Safe to repeat:
# a machine that has everything is left alone (no apt-get update).
set -euo pipefail

packages=(
  build-essential cmake pkg-config curl ca-certificates
  libmicrohttpd-dev libcurl4-openssl-dev libjansson-dev libssl-dev libsqlite3-dev
  libcriterion-dev clang-format
  debootstrap zip unzip
  clang libclang-rt-14-dev
)
# Node.js and npm run the local Cosmos DB rig of the integration tests; a
# machine that already has them (from NodeSource or nvm) keeps its own.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
