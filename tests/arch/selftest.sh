#!/usr/bin/env bash
# Shows the layering check failing: each case copies the tree's sources,
# adds one include against the layers (or a '../' climb, or an I/O library
# in the domain), and the check must fail naming that file. The untouched
# copy must pass.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
check="$top/tests/arch/check_includes.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

copy() {
  rm -rf "$work/tree"
  mkdir -p "$work/tree"
  (cd "$top" && tar -cf - handler domain functions) | tar -xf - -C "$work/tree"
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
if bash "$check" "$work/tree" >/dev/null; then
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
echo "layering selftest: $failures failure(s)"
[ "$failures" -eq 0 ]
