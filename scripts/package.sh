#!/usr/bin/env bash
# Builds the deployable package: build/package/functionapp.zip, the staged
# function app (host.json, one folder per function, the handler) with the
# handler built in a Debian 11 root - so against glibc 2.31, the oldest glibc
# on the Functions Linux images - and every shared library it needs besides
# glibc bundled in lib/, found through the handler's $ORIGIN run path.
#
# Exit status: 0 built; 3 the build roots cannot be made here (not root, no
# Debian mirror) - the reason is in build/package/SKIPPED; other: failure.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=build/package
mkdir -p "$OUT"
rm -f "$OUT/SKIPPED"

# The build root, and the base roots the package tests run it in.
if ! roots=$(scripts/roots.sh 2>"$OUT/roots.err"); then
  rc=$?
  {
    echo "the Debian roots could not be made (scripts/roots.sh exit $rc):"
    cat "$OUT/roots.err"
  } >"$OUT/SKIPPED"
  cat "$OUT/SKIPPED" >&2
  exit 3
fi
root=$(echo "$roots" | grep '/bullseye-build$')

echo "package: building the handler in $root (Debian 11, glibc 2.31)"
rm -rf "$root/src" "$root/build"
mkdir -p "$root/src"
tar -cf - --exclude=./build --exclude=./build-asan --exclude=./.git --exclude=./data \
  --exclude='./tests/support/cosmos-rig/node_modules' . | tar -xf - -C "$root/src"
chroot "$root" /bin/sh -c 'cd /src && cmake -S . -B /build -DES_TESTS=OFF -DES_PORTABLE=ON \
  -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build /build -j"$(nproc)" >/dev/null'

app="$OUT/app"
rm -rf "$app" "$OUT/functionapp.zip"
cp -a "$root/build/app" "$app"
rm -f "$app/local.settings.json"   # local settings never ship
mkdir -p "$app/lib"

# Every library the handler loads, except glibc's own (present on every image).
glibc='^(linux-vdso|libc\.so|libm\.so|libpthread\.so|libdl\.so|librt\.so|ld-linux|libresolv\.so|libnsl\.so|libanl\.so|libutil\.so)'
chroot "$root" ldd /build/app/handler | awk '/=> \// {print $1, $3}' | while read -r name path; do
  if [[ "$name" =~ $glibc ]]; then continue; fi
  cp -L "$root$path" "$app/lib/$name"
done
if chroot "$root" ldd /build/app/handler | grep -q 'not found'; then
  echo "package: the handler has unresolved libraries in the build root" >&2
  exit 1
fi
(cd "$app" && zip -qry ../functionapp.zip .)
echo "package: $OUT/functionapp.zip ($(du -h "$OUT/functionapp.zip" | cut -f1)), libraries bundled:"
ls "$app/lib" | sed 's/^/  /'
