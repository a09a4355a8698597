#!/usr/bin/env bash
# Builds the deployable package: build/package/functionapp.zip, the staged
# function app (host.json, one folder per function, the handler) with the
# handler built in a Debian 11 root - so against glibc 2.31, the oldest glibc
# on the Functions Linux images - and every shared library it needs besides
# glibc bundled in lib/, found through the handler's $ORIGIN run path.
#
# Usage: scripts/package.sh [--test-roots]
#   --test-roots  also make the bare Debian 11 and 12 roots the package tests
#                 run the zip in (a deploy needs only the build root)
#
# The zip and the staged app of an earlier build are removed first, so after
# a failure no zip is left to deploy by mistake. The root-only steps
# (debootstrap, chroot, writing inside the roots) run as root, or through sudo
# when it works without a password; with neither, the script stops at once.
#
# Exit status: 0 built. 3 this machine cannot make the Debian roots (not root
# and no passwordless sudo, or no debootstrap) and 4 a debootstrap failed
# (usually Debian's mirror): both leave the reason in build/package/NOT_BUILT,
# which the package tests report when they skip. Any other status is the
# failing step's own (the build in the root, ldd, zip), with no NOT_BUILT.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=build/package
test_roots=0
case "${1:-}" in
  --test-roots) test_roots=1 ;;
  "") ;;
  *) echo "usage: scripts/package.sh [--test-roots]" >&2; exit 2 ;;
esac

rm -rf "$OUT/app" "$OUT/functionapp.zip" "$OUT/functionapp.zip.tmp" "$OUT/NOT_BUILT" "$OUT/SKIPPED"
mkdir -p "$OUT"

# Says why the package cannot be built on this machine, where the tests find it.
not_built() {
  printf '%s\n' "$@" >"$OUT/NOT_BUILT"
  {
    echo "package: NOT BUILT, no zip was made:"
    sed 's/^/  /' "$OUT/NOT_BUILT"
  } >&2
}

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
    echo "package: not root; using sudo for debootstrap and chroot" >&2
  else
    not_built "building the package needs root, or sudo without a password:" \
      "the handler is built in a Debian 11 root made with debootstrap and entered with chroot." \
      "Run it as root (sudo make package) or give this user passwordless sudo."
    exit 3
  fi
fi
root_do() { ${as_root[@]+"${as_root[@]}"} "$@"; }

# The build root, and for the tests the base roots the package must run in.
names=(bullseye-build)
[ "$test_roots" -eq 1 ] && names+=(bullseye-base bookworm-base)
rc=0
roots=$(root_do env ES_ROOTS_DIR="${ES_ROOTS_DIR:-}" ES_DEBIAN_MIRROR="${ES_DEBIAN_MIRROR:-}" \
  scripts/roots.sh "${names[@]}" 2>"$OUT/roots.err") || rc=$?
if [ "$rc" -ne 0 ]; then
  if [ "$rc" -eq 3 ] || [ "$rc" -eq 4 ]; then
    not_built "the Debian roots could not be made (scripts/roots.sh exit $rc):" "$(cat "$OUT/roots.err")"
  else
    echo "package: scripts/roots.sh failed (exit $rc):" >&2
    cat "$OUT/roots.err" >&2
  fi
  exit "$rc"
fi
root=$(echo "$roots" | grep '/bullseye-build$')

echo "package: building the handler in $root (Debian 11, glibc 2.31)"
root_do rm -rf "$root/src" "$root/build"
root_do mkdir -p "$root/src"
tar -cf - --exclude=./build --exclude='./build-*' --exclude=./.git --exclude=./data \
  --exclude='./tests/support/cosmos-rig/node_modules' --exclude='./tests/infra/node_modules' . |
  root_do tar -xf - -C "$root/src"
rc=0
root_do chroot "$root" /bin/sh -c 'cd /src && cmake -S . -B /build -DES_TESTS=OFF -DES_PORTABLE=ON \
  -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build /build -j"$(nproc)" >/dev/null' || rc=$?
if [ "$rc" -ne 0 ]; then
  echo "package: building the handler in $root failed (exit $rc)" >&2
  exit "$rc"
fi

app="$OUT/app"
cp -R --preserve=mode,timestamps "$root/build/app" "$app"
rm -f "$app/local.settings.json"   # local settings never ship
mkdir -p "$app/lib"

# Every library the handler loads, except glibc's own (present on every image).
glibc='^(linux-vdso|libc\.so|libm\.so|libpthread\.so|libdl\.so|librt\.so|ld-linux|libresolv\.so|libnsl\.so|libanl\.so|libutil\.so)'
libs=$(root_do chroot "$root" ldd /build/app/handler)
if grep -q 'not found' <<<"$libs"; then
  echo "package: the handler has unresolved libraries in the build root:" >&2
  echo "$libs" | grep 'not found' >&2
  exit 1
fi
# libcurl is loaded at run time, for Cosmos DB only (handler/util/curlapi.h), so ldd
# does not list it: bundle it and what it needs too.
curl_lib=$(root_do chroot "$root" /sbin/ldconfig -p | awk '$1 == "libcurl.so.4" && !n++ {print $NF}')
if [ -z "$curl_lib" ]; then
  echo "package: libcurl.so.4 is not in the build root" >&2
  exit 1
fi
curl_deps=$(root_do chroot "$root" ldd "$curl_lib")
if grep -q 'not found' <<<"$curl_deps"; then
  echo "package: libcurl has unresolved libraries in the build root:" >&2
  echo "$curl_deps" | grep 'not found' >&2
  exit 1
fi
libs=$(printf '%s\n%s\n\tlibcurl.so.4 => %s\n' "$libs" "$curl_deps" "$curl_lib")
echo "$libs" | awk '/=> \// {print $1, $3}' | sort -u | while read -r name path; do
  if [[ "$name" =~ $glibc ]]; then continue; fi
  cp -L "$root$path" "$app/lib/$name"
done

# Zip beside the final name, then rename: an interrupted zip is never taken for a package.
(cd "$app" && zip -qry ../functionapp.zip.tmp .)
mv "$OUT/functionapp.zip.tmp" "$OUT/functionapp.zip"
echo "package: $OUT/functionapp.zip ($(du -h "$OUT/functionapp.zip" | cut -f1)), libraries bundled:"
ls "$app/lib" | sed 's/^/  /'
