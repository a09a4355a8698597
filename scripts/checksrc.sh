#!/usr/bin/env bash
# Fails when C sources call functions the house style bans (style.md, after
# curl's checksrc): unbounded string writes, unchecked number parsing, and
# non-reentrant or weak library calls. Use snprintf, es_buf, strtol/strtoull.
set -euo pipefail
cd "$(dirname "$0")/.."

banned='sprintf|vsprintf|strcpy|strcat|strncat|strncpy|stpcpy|gets|atoi|atol|atoll|atof|strtok|tmpnam|tempnam|mktemp|rand|srand|asctime|ctime|gmtime|localtime'
dirs=(handler domain functions tests bench)
found=0
while IFS= read -r -d '' f; do
  # Strip string literals and comments crudely, then look for calls.
  if hits=$(sed -e 's://.*$::' -e 's:"[^"]*"::g' "$f" | grep -nE "(^|[^A-Za-z0-9_.>])($banned)[[:space:]]*\(" ); then
    while IFS= read -r line; do
      echo "$f:$line"
    done <<<"$hits"
    found=1
  fi
done < <(find "${dirs[@]}" -name '*.[ch]' -print0 2>/dev/null)

# jansson's own parsers, serialisers and deep copy swallow some allocation
# failures (a dropped byte, a missing key or member): the handler goes through
# util/jsonutil.h's, which notice them (tests, whose memory does not run out
# unless they make it, may use jansson's).
jansson='json_loads|json_loadb|json_loadf|json_loadfd|json_load_file|json_load_callback|json_dumps|json_dumpb|json_dumpf|json_dumpfd|json_dump_file|json_dump_callback|json_deep_copy'
while IFS= read -r -d '' f; do
  [ "$f" = handler/util/jsonutil.c ] && continue
  if hits=$(sed -e 's://.*$::' -e 's:"[^"]*"::g' "$f" | grep -nE "(^|[^A-Za-z0-9_.>])($jansson)[[:space:]]*\(" ); then
    while IFS= read -r line; do
      echo "$f:$line (use util/jsonutil.h)"
    done <<<"$hits"
    found=1
  fi
done < <(find handler domain functions -name '*.[ch]' -print0 2>/dev/null)
if [ "$found" -ne 0 ]; then
  echo "checksrc: banned functions found (see style.md)" >&2
  exit 1
fi
echo "checksrc: ok"
