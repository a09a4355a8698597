#!/usr/bin/env bash
# The layers of docs/architecture.md, checked on the sources: every quoted
# #include in a folder names a header of the folder itself or of a layer
# below it, none climbs with '../', and domain/ includes no I/O library.
# The build enforces the same through per-library include roots; this check
# says which rule broke, and runs on a tree given as $1 (default: this one),
# so its self-test can break a copy.
set -uo pipefail
top=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$top" || exit 2

# folder: the include prefixes it may use (its own first).
declare -A allowed=(
  [handler/util]="util"
  [domain]="domain util"
  [handler/cosmos]="cosmos util"
  [handler/store]="store cosmos util"
  [handler/es]="es store util"
  [handler/invoke]="invoke util"
  [handler/api]="api es store invoke util"
  [functions]="functions api es store invoke domain util"
  [handler/http]="http invoke util"
  [handler/serve]="serve http invoke store util"
)
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

for folder in "${!allowed[@]}"; do
  [ -d "$folder" ] || continue
  while IFS= read -r -d '' f; do
    while IFS= read -r line; do
      inc=${line#*\"}
      inc=${inc%%\"*}
      case "$inc" in
        ../*|*/../*) fail "$f: '#include \"$inc\"' climbs out of its folder"; continue ;;
        */*) prefix=${inc%%/*} ;;
        *) continue ;; # a header beside the file
      esac
      ok=0
      for p in ${allowed[$folder]}; do [ "$p" = "$prefix" ] && ok=1; done
      [ $ok -eq 1 ] || fail "$f: includes \"$inc\": $folder may include only ${allowed[$folder]}"
    done < <(grep -E '^[[:space:]]*#[[:space:]]*include[[:space:]]+"' "$f")
  done < <(find "$folder" \( -name '*.c' -o -name '*.h' \) -print0)
done

# The domain is pure: no curl, libmicrohttpd, OpenSSL or SQLite.
if grep -rnE '#[[:space:]]*include[[:space:]]*<(curl/|microhttpd|openssl/|sqlite3)' domain/; then
  fail "domain/ includes an I/O library"
fi

echo "include layering: $failures failure(s)"
[ "$failures" -eq 0 ]
