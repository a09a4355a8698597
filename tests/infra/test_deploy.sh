#!/usr/bin/env bash
# scripts/deploy.sh (azd's predeploy hook) against a fake `make` and a fake
# `az` on PATH, run with sh as azd runs it: it stops when make package fails
# or leaves no zip, never publishes a zip from an earlier build, retries the
# publish DEPLOY_ATTEMPTS times DEPLOY_RETRY_SECONDS apart (5 and 30 by
# default) and then fails, succeeds when a later attempt does, and publishes
# with Microsoft's documented command. The same cases run against broken
# copies of the script (a swallowed make failure, no retries), which must fail
# them: the cases can catch what they are about.
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin="$work/bin"
log="$work/log"
mkdir -p "$bin"

# make: FAKE_MAKE=fail exits 2; nozip succeeds without a zip; zip writes a fresh one.
cat >"$bin/make" <<'EOF'
#!/bin/sh
echo "make $*" >>"$FAKE_LOG"
case "$FAKE_MAKE" in
  fail) echo "make: *** [Makefile] Error 3" >&2; exit 2 ;;
  nozip) exit 0 ;;
  zip) mkdir -p build/package && echo "fresh build" >build/package/functionapp.zip ;;
esac
EOF
# az: fails its first FAKE_AZ_FAILS calls; records its arguments and what --src holds.
cat >"$bin/az" <<'EOF'
#!/bin/sh
n=$(($(grep -c '^az ' "$FAKE_LOG" 2>/dev/null || true) + 1))
echo "az $*" >>"$FAKE_LOG"
while [ $# -gt 0 ]; do
  if [ "$1" = --src ]; then echo "published: $(cat "$2")" >>"$FAKE_LOG"; fi
  shift
done
if [ "$n" -le "$FAKE_AZ_FAILS" ]; then echo "ERROR: (AuthorizationFailure) attempt $n" >&2; exit 1; fi
EOF
# sleep: records the delay instead of waiting.
cat >"$bin/sleep" <<'EOF'
#!/bin/sh
echo "sleep $*" >>"$FAKE_LOG"
EOF
chmod +x "$bin"/*

failures=0
note() { [ "${QUIET:-0}" -eq 1 ] || echo "$@"; }
check() { # description, condition...
  local what=$1
  shift
  if "$@"; then note "ok: $what"; else note "FAIL: $what"; failures=$((failures + 1)); fi
}
count() { grep -c "^$1" "$log" 2>/dev/null || true; }

# run SCRIPT MAKE AZ_FAILS [VAR=value...]: runs a copy of SCRIPT in a tree
# that holds a zip from an earlier build; sets out and rc.
run() {
  local script=$1 make=$2 fails=$3
  shift 3
  rm -rf "$work/t" "$log"
  mkdir -p "$work/t/scripts" "$work/t/build/package"
  cp "$script" "$work/t/scripts/deploy.sh"
  echo "stale build" >"$work/t/build/package/functionapp.zip"
  rc=0
  out=$(env -i PATH="$bin:/usr/bin:/bin" FAKE_LOG="$log" FAKE_MAKE="$make" FAKE_AZ_FAILS="$fails" \
    AZURE_RESOURCE_GROUP=rg-test AZURE_FUNCTION_APP_NAME=func-test \
    AZURE_FUNCTION_APP_URL=https://func-test.example "$@" sh "$work/t/scripts/deploy.sh" 2>&1) || rc=$?
}

suite() {
  local s=$1
  failures=0

  run "$s" fail 0
  check "make package fails: deploy fails" [ "$rc" -ne 0 ]
  check "make package fails: nothing published" [ "$(count az)" -eq 0 ]
  check "make package fails: the earlier zip is gone" [ ! -e "$work/t/build/package/functionapp.zip" ]

  run "$s" nozip 0
  check "make package leaves no zip: deploy fails, saying so" \
    bash -c '[ "$0" -ne 0 ] && grep -q "left no build/package/functionapp.zip" <<<"$1"' "$rc" "$out"
  check "make package leaves no zip: nothing published" [ "$(count az)" -eq 0 ]

  run "$s" zip 99 DEPLOY_ATTEMPTS=3 DEPLOY_RETRY_SECONDS=7
  check "publish always fails: deploy fails after 3 attempts" \
    bash -c '[ "$0" -ne 0 ] && [ "$1" -eq 3 ] && grep -q "failed 3 times" <<<"$2"' "$rc" "$(count az)" "$out"
  check "publish always fails: 7 s between attempts" [ "$(grep -c '^sleep 7$' "$log")" -eq 2 ]

  run "$s" zip 99
  check "by default: 5 attempts, 30 s apart" \
    bash -c '[ "$0" -ne 0 ] && [ "$1" -eq 5 ] && [ "$2" -eq 4 ]' "$rc" "$(count az)" "$(grep -c '^sleep 30$' "$log")"

  run "$s" zip 2 DEPLOY_ATTEMPTS=3 DEPLOY_RETRY_SECONDS=0
  check "publish fails twice, then works: deploy succeeds" [ "$rc" -eq 0 ]
  check "publish fails twice, then works: 3 attempts" [ "$(count az)" -eq 3 ]
  check "every attempt publishes the fresh zip, never the earlier one" \
    bash -c '[ "$(grep -c "^published: fresh build$" "$0")" -eq 3 ] && ! grep -q "stale" "$0"' "$log"
  check "the publish is Microsoft's documented zip deploy for Flex Consumption" \
    grep -qx "az functionapp deployment source config-zip --resource-group rg-test --name func-test --src build/package/functionapp.zip --build-remote false" "$log"
  check "make package runs once, before any publish" \
    bash -c '[ "$(grep -c "^make package$" "$0")" -eq 1 ] && head -1 "$0" | grep -qx "make package"' "$log"

  rm -rf "$work/t" "$log"
  mkdir -p "$work/t/scripts"
  cp "$s" "$work/t/scripts/deploy.sh"
  rc=0
  out=$(env -i PATH="$bin:/usr/bin:/bin" FAKE_LOG="$log" FAKE_MAKE=zip FAKE_AZ_FAILS=0 \
    AZURE_RESOURCE_GROUP=rg-test sh "$work/t/scripts/deploy.sh" 2>&1) || rc=$?
  check "outside azd (no AZURE_FUNCTION_APP_NAME): fails before building" \
    bash -c '[ "$0" -ne 0 ] && [ ! -e "$1" ]' "$rc" "$log"
  return 0
}

suite "$src/scripts/deploy.sh"
real=$failures

# Broken copies: each must fail at least one case.
controls=0
sed -e 's/^make package$/make package || true/' -e '/^rm -f "\$zip"$/d' "$src/scripts/deploy.sh" >"$work/swallow.sh"
sed 's/DEPLOY_ATTEMPTS:-5/DEPLOY_ATTEMPTS:-1/' "$src/scripts/deploy.sh" >"$work/noretry.sh"
for broken in swallow noretry; do
  if cmp -s "$work/$broken.sh" "$src/scripts/deploy.sh"; then
    echo "FAIL: the '$broken' control did not change deploy.sh; update this test"
    controls=$((controls + 1))
    continue
  fi
  QUIET=1 suite "$work/$broken.sh"
  if [ "$failures" -gt 0 ]; then
    echo "ok: a deploy.sh with '$broken' fails $failures case(s)"
  else
    echo "FAIL: a deploy.sh with '$broken' passes every case"
    controls=$((controls + 1))
  fi
done

echo "deploy test: $real failure(s) in deploy.sh, $controls control(s) not caught"
[ "$real" -eq 0 ] && [ "$controls" -eq 0 ]
