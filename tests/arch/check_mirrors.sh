#!/usr/bin/env bash
# Tests mirror the sources: every .c file under handler/, functions/ and
# domain/ has a unit test in the mirrored place (handler/<dir>/<name>.c ->
# tests/unit/<dir>/test_<name>.c; domain/<name>.c -> tests/unit/domain/...;
# functions/<name>.c -> tests/unit/functions/...; handler/<name>.c ->
# tests/unit/app/...), or a line in
# tests/unit/not_mirrored.txt saying where it is tested instead. Stale lines
# and unit tests without a source fail too, so the list stays true.
# functions/<Name>/*.c, one per function, only bind a route to the glue in
# functions/*.c; tests/e2e drives each of them through the host protocol.
set -uo pipefail
top=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$top" || exit 2
list=tests/unit/not_mirrored.txt
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

mirror_of() {
  local f=$1 d b
  d=$(dirname "$f")
  b=$(basename "$f" .c)
  case "$d" in
    handler) echo "tests/unit/app/test_$b.c" ;;
    handler/*) echo "tests/unit/${d#handler/}/test_$b.c" ;;
    *) echo "tests/unit/$d/test_$b.c" ;;
  esac
}
listed() { grep -q "^$1: ." "$list"; }

while IFS= read -r f; do
  t=$(mirror_of "$f")
  if [ -f "$t" ] && listed "$f"; then
    fail "$f has $t and a line in $list: drop the line"
  elif [ ! -f "$t" ] && ! listed "$f"; then
    fail "$f has no unit test ($t) and no line in $list"
  fi
done < <({ find handler domain -name '*.c'; find functions -maxdepth 1 -name '*.c'; } | sort)

while IFS= read -r line; do
  src=${line%%:*}
  [ -f "$src" ] || fail "$list names $src, which does not exist"
done < <(grep -v '^#' "$list" | grep -v '^$')

while IFS= read -r t; do
  rel=${t#tests/unit/}
  d=$(dirname "$rel")
  b=$(basename "$rel" .c)
  b=${b#test_}
  case "$d" in
    app) src=handler/$b.c ;;
    domain | functions) src=$d/$b.c ;;
    *) src=handler/$d/$b.c ;;
  esac
  [ -f "$src" ] || fail "$t tests no source ($src)"
done < <(find tests/unit -name 'test_*.c' | sort)

echo "test mirrors: $failures failure(s)"
[ "$failures" -eq 0 ]
