#!/usr/bin/env bash
# Building the package fails loudly where it cannot build. Run as a user who
# is not root (nobody, when this test runs as root) and has no usable sudo -
# a sudo that refuses, or none on PATH - in a copy of the Makefile and
# scripts/ holding a zip and a staged app from an earlier build:
#   - scripts/package.sh and make package exit non-zero, say that root or
#     passwordless sudo is needed, and leave neither zip nor staged app;
#   - make package-for-tests (what make test runs) goes on, but says plainly
#     that the package was not built and the package tests will be skipped;
#   - scripts/deploy.sh stops there and publishes nothing.
# With root or passwordless sudo (roots.sh stubbed): make package asks for the
# build root only, make package-for-tests for the test roots too; the exit
# status of roots.sh comes out of package.sh, and only "cannot make the roots
# here" (3, 4) lets make test go on.
# A Makefile that swallows the failure (the old `|| [ $? -eq 3 ]`) must fail
# the same checks. No Debian root is made or touched: ES_ROOTS_DIR points into
# the scratch directory, and the script stops before it is used.
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
passed=0
failed=0

if [ "$(id -u)" -eq 0 ]; then
  user=nobody
  as_user() { setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" --clear-groups -- "$@"; }
else
  user=$(id -un)
  as_user() { "$@"; }
fi

# A sudo that refuses, as `sudo -n` does for a user without the right.
mkdir -p "$work/refusing"
printf '#!/bin/sh\necho "sudo: a password is required" >&2\nexit 1\n' >"$work/refusing/sudo"
# An az that records being called (deploy.sh must never get that far).
printf '#!/bin/sh\necho "az $*" >>"%s/az.log"\n' "$work/logs" >"$work/refusing/az"
chmod 755 "$work/refusing"/*
# Every command on the usual PATH except sudo.
mkdir -p "$work/nosudo"
for d in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
  [ -d "$d" ] || continue
  for f in "$d"/*; do
    n=${f##*/}
    [ "$n" = sudo ] || [ -e "$work/nosudo/$n" ] || ln -s "$f" "$work/nosudo/$n"
  done
done
cp "$work/refusing/az" "$work/nosudo/az"
mkdir -p "$work/logs"
[ "$(id -u)" -eq 0 ] && chown "$user" "$work/logs"

# A copy of the Makefile and scripts/ with an earlier build's zip and app.
tree() {
  rm -rf "$work/t" "$work/logs/az.log"
  mkdir -p "$work/t/build/package/app"
  cp -R "$src/Makefile" "$src/scripts" "$work/t/"
  echo "zip from an earlier build" >"$work/t/build/package/functionapp.zip"
  echo "handler from an earlier build" >"$work/t/build/package/app/handler"
  [ "$(id -u)" -eq 0 ] && chown -R "$user" "$work/t"
  return 0
}

# run PATHDIR COMMAND...: as the user, in the copy; sets out and rc.
run() {
  local path=$1
  shift
  rc=0
  out=$(as_user env -i PATH="$path" HOME="$work" LANG=C ES_ROOTS_DIR="$work/roots" \
    AZURE_RESOURCE_GROUP=rg-test AZURE_FUNCTION_APP_NAME=func-test \
    bash -c 'cd "$0" && "$@"' "$work/t" "$@" 2>&1) || rc=$?
}

result() { # ok?, description
  if [ "$1" -eq 0 ]; then
    echo "ok: $2"
    passed=$((passed + 1))
  else
    echo "FAIL: $2"
    echo "$out" | sed 's/^/    /'
    failed=$((failed + 1))
  fi
}

# Non-zero exit, the plain reason, and nothing left to deploy.
refused() {
  [ "$rc" -ne 0 ] &&
    grep -q "needs root, or sudo without a password" <<<"$out" &&
    [ ! -e "$work/t/build/package/functionapp.zip" ] &&
    [ ! -e "$work/t/build/package/app" ]
}

for variant in refusing nosudo; do
  if [ "$variant" = refusing ]; then path="$work/refusing:/usr/sbin:/usr/bin:/sbin:/bin"; else path="$work/nosudo"; fi
  what="as $user with $([ "$variant" = refusing ] && echo 'a sudo that refuses' || echo 'no sudo')"

  tree
  run "$path" scripts/package.sh
  refused
  result $? "$what: scripts/package.sh exits $rc, says root is needed, leaves no zip or app"

  tree
  run "$path" make package
  refused
  result $? "$what: make package exits $rc, says root is needed, leaves no zip or app"

  tree
  run "$path" make package-for-tests
  [ "$rc" -eq 0 ] && grep -q "the package was NOT built; make test will skip the package tests" <<<"$out" &&
    grep -q "needs root" "$work/t/build/package/NOT_BUILT" && [ ! -e "$work/t/build/package/functionapp.zip" ]
  result $? "$what: make package-for-tests goes on (exit $rc) but says the package tests will be skipped, and why"

  tree
  run "$path" sh scripts/deploy.sh
  refused && [ ! -e "$work/logs/az.log" ]
  result $? "$what: scripts/deploy.sh exits $rc and publishes nothing"
done

# With root (or sudo that works): which roots are asked for, and whose exit
# status comes out. scripts/roots.sh is replaced by a stub that records its
# arguments and fails with the status in roots.rc, and a sudo that lets
# everything through stands in for passwordless sudo when this test is not root.
mkdir -p "$work/passing"
printf '#!/bin/sh\n[ "$1" = -n ] && shift\nexec "$@"\n' >"$work/passing/sudo"
chmod 755 "$work/passing/sudo"
passing="$work/passing:/usr/sbin:/usr/bin:/sbin:/bin"
stub_roots() { # exit status of the stub
  rm -f "$work/logs/roots.log"
  printf '#!/bin/sh\necho "$*" >>"%s/roots.log"\necho "roots: stub exit %s" >&2\nexit %s\n' \
    "$work/logs" "$1" "$1" >"$work/t/scripts/roots.sh"
  chmod 755 "$work/t/scripts/roots.sh"
}
asked() { cat "$work/logs/roots.log" 2>/dev/null; }

tree; stub_roots 3
run "$passing" make package
[ "$rc" -ne 0 ] && [ "$(asked)" = "bullseye-build" ] && [ ! -e "$work/t/build/package/functionapp.zip" ]
result $? "make package asks for the build root only ($(asked)) and fails when it cannot be made (exit $rc)"

tree; stub_roots 3
run "$passing" make package-for-tests
[ "$rc" -eq 0 ] && [ "$(asked)" = "bullseye-build bullseye-base bookworm-base" ] &&
  grep -q "scripts/roots.sh exit 3" "$work/t/build/package/NOT_BUILT"
result $? "make package-for-tests asks for the build and test roots ($(asked)) and goes on, saying why"

tree; stub_roots 4
run "$passing" scripts/package.sh
[ "$rc" -eq 4 ] && grep -q "scripts/roots.sh exit 4" "$work/t/build/package/NOT_BUILT"
result $? "a failed debootstrap keeps its exit status through package.sh (exit $rc)"

tree; stub_roots 1
run "$passing" make package-for-tests
[ "$rc" -ne 0 ] && [ ! -e "$work/t/build/package/NOT_BUILT" ]
result $? "any other failure of roots.sh stops make package-for-tests, and so make test (exit $rc)"

# The control: the old lenient Makefile rule must fail the same check.
tree
sed -i 's#^\t@scripts/package.sh$#\t@scripts/package.sh || [ $$? -eq 3 ]#' "$work/t/Makefile"
if ! grep -q 'package.sh || \[' "$work/t/Makefile"; then
  echo "FAIL: the control could not restore the lenient rule in the Makefile; update this test"
  failed=$((failed + 1))
else
  run "$work/refusing:/usr/sbin:/usr/bin:/sbin:/bin" make package
  if refused; then
    echo "FAIL: a Makefile that swallows exit 3 passes the check"
    failed=$((failed + 1))
  else
    echo "ok: a Makefile that swallows exit 3 fails the check (make package exits $rc)"
    passed=$((passed + 1))
  fi
fi

echo "strict package test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
