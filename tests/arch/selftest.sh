#!/usr/bin/env bash
# Shows the architecture checks failing. Layering: each case copies the
# tree's sources, adds one include against the layers (or a '../' climb, or
# an I/O library in the domain), and check_includes.sh must fail naming that
# file. Mirrors: each case adds a source without a test, a test without a
# source, or a stale line in tests/unit/not_mirrored.txt, and
# check_mirrors.sh must fail naming it. The untouched copy passes both.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
check="$top/tests/arch/check_includes.sh"
mirrors="$top/tests/arch/check_mirrors.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

copy() {
  rm -rf "$work/tree"
  mkdir -p "$work/tree"
  (cd "$top" && tar -cf - handler domain functions tests/unit) | tar -xf - -C "$work/tree"
}

# case: file, line to add, what the failure must name
cases=(
  "handler/store/store.c|#include \"es/engine.h\"|handler/store/store.c"
  "handler/cosmos/client.c|#include \"store/store.h\"|handler/cosmos/client.c"
  "handler/invoke/dispatch.c|#include \"functions/readside.h\"|handler/invoke/dispatch.c"
  "handler/http/hostproto.c|#include \"serve/front.h\"|handler/http/hostproto.c"
  "handler/es/engine.c|#include \"domain/todo.h\"|handler/es/engine.c"
  "domain/todo.c|#include \"store/store.h\"|domain/todo.c"
  "handler/util/buf.c|#include \"../store/store.h\"|climbs"
  "domain/todo_views.c|#include <sqlite3.h>|I/O library"
)

copy
if bash "$check" "$work/tree" >/dev/null && bash "$mirrors" "$work/tree" >/dev/null; then
  echo "ok: the untouched tree passes"
else
  echo "FAIL: the untouched tree fails"
  failures=$((failures + 1))
fi
for c in "${cases[@]}"; do
  IFS='|' read -r file line want <<<"$c"
  copy
  printf '%s\n' "$line" >>"$work/tree/$file"
  out=$(bash "$check" "$work/tree" 2>&1)
  if [ $? -ne 0 ] && grep -q -- "$want" <<<"$out"; then
    echo "ok: $file + $line is caught"
  else
    echo "FAIL: $file + $line passed the check"
    failures=$((failures + 1))
  fi
done

# case: file to create (or line to append to the list), what the failure must name
mirror_cases=(
  "handler/util/fresh.c|handler/util/fresh.c has no unit test"
  "tests/unit/util/test_gone.c|tests/unit/util/test_gone.c tests no source"
  "tests/unit/app/test_main.c|handler/main.c has tests/unit/app/test_main.c and a line"
  "+handler/util/vanished.c: was here once|names handler/util/vanished.c, which does not exist"
)
for c in "${mirror_cases[@]}"; do
  IFS='|' read -r what want <<<"$c"
  copy
  if [ "${what:0:1}" = + ]; then
    printf '%s\n' "${what:1}" >>"$work/tree/tests/unit/not_mirrored.txt"
  else
    mkdir -p "$(dirname "$work/tree/$what")"
    printf '/* added by the self-test */\n' >"$work/tree/$what"
  fi
  out=$(bash "$mirrors" "$work/tree" 2>&1)
  if [ $? -ne 0 ] && grep -q -- "$want" <<<"$out"; then
    echo "ok: $what is caught"
  else
    echo "FAIL: $what passed the mirror check"
    failures=$((failures + 1))
  fi
done
echo "architecture selftest: $failures failure(s)"
[ "$failures" -eq 0 ]
