#!/usr/bin/env bash
# Says in the CTest summary whether the package tests had a package to test:
# passes when make test built build/package/functionapp.zip; otherwise skips
# (exit 77, which CTest lists as Skipped) and prints why it was not built.
src=$(cd "$(dirname "$0")/../.." && pwd)
out="$src/build/package"
if [ -s "$out/functionapp.zip" ]; then
  echo "the package was built: $out/functionapp.zip"
  exit 0
fi
echo "the package was NOT built, so the package tests are skipped:"
if [ -f "$out/NOT_BUILT" ]; then
  sed 's/^/  /' "$out/NOT_BUILT"
else
  echo "  make package-for-tests has not run (make test runs it)"
fi
exit 77
