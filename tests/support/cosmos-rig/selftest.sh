#!/usr/bin/env bash
# selftest.sh: end-to-end check of rig.js with curl and an openssl-based request signer.
#
# Starts the rig on a free port (--port 0) with a fixed test key, waits for its
# "cosmos-rig listening on ..." line, runs the checks below, prints one line per check and
# exits 0 only if all of them pass. The rig is always stopped by its PID (trap on EXIT).
#
# Needs: bash, node (20), curl, openssl, base64, od. Run `npm ci` in this folder first.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Fixed test-only keys (random bytes, never used anywhere real).
KEY='k3uT0mVx4J0Zyq2cJr1Xc6TtA1mC8y2sJb3pOqvN0hTq0dV8cD9tK2u7wE4fR5gY6hU8jI9kL0zX1cV2bN3mQw=='
WRONG_KEY='Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MDEyMw=='
IDENTITY_SECRET='selftest-identity-secret'
DB=selftest
COLL=streams
CL="dbs/$DB/colls/$COLL"                      # container link (signed, decoded ids)

TMP="$(mktemp -d)"
RIG_PID=''
cleanup() {
  if [ -n "$RIG_PID" ] && kill -0 "$RIG_PID" 2>/dev/null; then
    kill "$RIG_PID" 2>/dev/null
    wait "$RIG_PID" 2>/dev/null
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

PASSED=0
FAILED=0
check() { # check <description> <expected> <actual>
  if [ "$2" = "$3" ]; then
    PASSED=$((PASSED + 1)); printf 'PASS  %s\n' "$1"
  else
    FAILED=$((FAILED + 1)); printf 'FAIL  %s (expected %s, got %s)\n' "$1" "$2" "$3"
    [ -s "$TMP/body" ] && printf '      body: %.400s\n' "$(cat "$TMP/body")"
  fi
}

# ---- signer (cosmos-rest.md 1.1 / 1.3) -------------------------------------------------
# sign <base64 key> <verb> <resourceType> <resourceLink> <x-ms-date> -> base64 signature.
# The string to sign is piped straight into openssl: $(...) would strip its trailing "\n\n".
sign() {
  local hexkey
  hexkey="$(printf '%s' "$1" | base64 -d | od -An -v -tx1 | tr -d ' \n')"
  printf '%s\n%s\n%s\n%s\n\n' "${2,,}" "${3,,}" "$4" "${5,,}" |
    openssl dgst -sha256 -mac HMAC -macopt "hexkey:$hexkey" -binary | base64 -w0
}
# authz <signature> -> URL-encoded "type=master&ver=1.0&sig=<sig>" (upper-case hex)
authz() {
  printf 'type%%3Dmaster%%26ver%%3D1.0%%26sig%%3D%s' "$(printf '%s' "$1" | sed 's/%/%25/g; s/+/%2B/g; s/\//%2F/g; s/=/%3D/g')"
}
http_date() { LC_ALL=C date -u ${1:+-d "$1"} '+%a, %d %b %Y %H:%M:%S GMT'; }

# call <METHOD> <url path> <resourceType> <resourceLink> [curl args...]
# Signs with $SIGN_KEY (default $KEY) and $SIGN_DATE (default now); OMIT=<header> leaves
# x-ms-date or x-ms-version out. Sets STATUS, writes the body to $TMP/body, headers to $TMP/hdr.
call() {
  local method="$1" path="$2" type="$3" link="$4"; shift 4
  local date="${SIGN_DATE:-$(http_date)}"
  local sig; sig="$(sign "${SIGN_KEY:-$KEY}" "$method" "$type" "$link" "$date")"
  local std=(-H "Authorization: $(authz "$sig")" -H 'Accept: application/json')
  [ "${OMIT:-}" = x-ms-date ] || std+=(-H "x-ms-date: $date")
  [ "${OMIT:-}" = x-ms-version ] || std+=(-H 'x-ms-version: 2020-07-15')
  STATUS="$(curl -sS -o "$TMP/body" -D "$TMP/hdr" -w '%{http_code}' -X "$method" "${std[@]}" "$@" "$BASE$path")"
}
# Document helpers on the test container (pk header ["s1"] unless PK is set).
PKH() { printf 'x-ms-documentdb-partitionkey: ["%s"]' "${PK:-s1}"; }
create_doc() { call POST "/$CL/docs" docs "$CL" -H "$(PKH)" -H 'Content-Type: application/json' -d "$1"; }
read_doc() { call GET "/$CL/docs/$1" docs "$CL/docs/$1" -H "$(PKH)"; }
batch() {
  call POST "/$CL/docs" docs "$CL" -H "$(PKH)" -H 'Content-Type: application/json' \
    -H 'x-ms-cosmos-is-batch-request: True' -H 'x-ms-cosmos-batch-atomic: True' -d "$1"
}
change_feed() { call GET "/$CL/docs" docs "$CL" -H 'A-IM: Incremental feed' "$@"; }
hdr() { grep -i "^$1:" "$TMP/hdr" | tail -n1 | cut -d' ' -f2- | tr -d '\r'; }
js() { node -e 'const b=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));console.log(eval(process.argv[2]))' "$TMP/body" "$1"; }
rig() { curl -sS -o "$TMP/body" -w '%{http_code}' "$@"; }   # control endpoints (no auth)
faults() { rig -X POST "$BASE/__rig/faults" -H 'Content-Type: application/json' -d "$1" >/dev/null; }

# ---- 0. the official signature vector ---------------------------------------------------
check 'official signature vector (GET dbs dbs/ToDoList, 27 Apr 2017)' \
  'c09PEVJrgp2uQRkr934kFbTqhByc7TVr3OHyqlu+c+c=' \
  "$(sign 'dsZQi3KtZmCv1ljt3VNWNm7sQUF1y5rJfC6kv5JiwvW0EndXdDku/dkKBp8/ufDToSxLzR4y+O/0H/t4bQtVNw==' GET dbs dbs/ToDoList 'Thu, 27 Apr 2017 00:51:12 GMT')"
check 'URL-encoded token of the official vector' \
  'type%3Dmaster%26ver%3D1.0%26sig%3Dc09PEVJrgp2uQRkr934kFbTqhByc7TVr3OHyqlu%2Bc%2Bc%3D' \
  "$(authz 'c09PEVJrgp2uQRkr934kFbTqhByc7TVr3OHyqlu+c+c=')"

# ---- start the rig ----------------------------------------------------------------------
node "$HERE/rig.js" --port 0 --host 127.0.0.1 --key "$KEY" --identity-header "$IDENTITY_SECRET" \
  >"$TMP/rig.out" 2>"$TMP/rig.err" &
RIG_PID=$!
BASE=''
for _ in $(seq 1 100); do
  BASE="$(sed -n 's/^cosmos-rig listening on \(http:\/\/127\.0\.0\.1:[0-9][0-9]*\)$/\1/p' "$TMP/rig.out")"
  [ -n "$BASE" ] && break
  kill -0 "$RIG_PID" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$BASE" ]; then
  echo "FAIL  rig did not start"; cat "$TMP/rig.out" "$TMP/rig.err"; exit 1
fi
echo "rig pid $RIG_PID at $BASE"
check 'startup: exactly one stdout line' 1 "$(wc -l <"$TMP/rig.out" | tr -d ' ')"

# ---- 1. authentication --------------------------------------------------------------------
STATUS="$(curl -sS -o "$TMP/body" -w '%{http_code}' -H "x-ms-date: $(http_date)" -H 'x-ms-version: 2020-07-15' "$BASE/dbs")"
check 'unsigned request -> 401' 401 "$STATUS"
SIGN_KEY="$WRONG_KEY" call GET /dbs dbs ''
check 'signed with the wrong key -> 401' 401 "$STATUS"
check '401 message shows the server string-to-sign' true \
  "$(js 'b.message.includes("get\\ndbs\\n\\n" + "'"$(http_date | tr '[:upper:]' '[:lower:]' | cut -c1-16)"'")')"
SIGN_DATE="$(http_date '20 minutes ago')" call GET /dbs dbs ''
check 'x-ms-date 20 minutes old -> 403' 403 "$STATUS"
OMIT=x-ms-date call GET /dbs dbs ''
check 'no x-ms-date -> 401' 401 "$STATUS"
OMIT=x-ms-version call GET /dbs dbs ''
check 'no x-ms-version -> 400' 400 "$STATUS"
call GET / '' ''
check 'GET / (database account) -> 200' 200 "$STATUS"
check 'GET / advertises http://' "$BASE/" "$(js 'b.writableLocations[0].databaseAccountEndpoint')"

# ---- 2. database, container, documents ----------------------------------------------------
call POST /dbs dbs '' -H 'Content-Type: application/json' -d "{\"id\":\"$DB\"}"
check 'create database -> 201' 201 "$STATUS"
call POST "/dbs/$DB/colls" colls "dbs/$DB" -H 'Content-Type: application/json' \
  -d "{\"id\":\"$COLL\",\"partitionKey\":{\"paths\":[\"/streamId\"],\"kind\":\"Hash\",\"version\":2}}"
check 'create container (pk /streamId) -> 201' 201 "$STATUS"
create_doc '{"id":"e1","streamId":"s1","n":1}'
check 'create document -> 201' 201 "$STATUS"
ETAG1="$(hdr etag)"
check 'etag is quoted like real Cosmos' true "$(js "b._etag === '$ETAG1' && /^\"[0-9a-f-]{36}\"\$/.test(b._etag)")"
check 'x-ms-request-charge present' true "$( [ -n "$(hdr x-ms-request-charge)" ] && [ -n "$(hdr x-ms-activity-id)" ] && echo true)"
create_doc '{"id":"e1","streamId":"s1","n":2}'
check 'duplicate id in the partition -> 409' 409 "$STATUS"
PK=s9 create_doc '{"id":"e2","streamId":"s1"}'
check 'pk header differs from the body -> 400' 400 "$STATUS"
create_doc '{"id":"a#b","streamId":"s1"}'
check "id with '#' -> 400" 400 "$STATUS"
read_doc nosuch
check 'read a missing document -> 404' 404 "$STATUS"
PK=s2 read_doc e1
check 'read with another partition key -> 404' 404 "$STATUS"
call PUT "/$CL/docs/e1" docs "$CL/docs/e1" -H "$(PKH)" -H 'Content-Type: application/json' \
  -H 'If-Match: "00000000-0000-0000-0000-000000000000"' -d '{"id":"e1","streamId":"s1","n":3}'
check 'replace with a stale If-Match -> 412' 412 "$STATUS"
call PUT "/$CL/docs/e1" docs "$CL/docs/e1" -H "$(PKH)" -H 'Content-Type: application/json' \
  -H "If-Match: $ETAG1" -d '{"id":"e1","streamId":"s1","n":3}'
check 'replace with the current If-Match -> 200' 200 "$STATUS"

# ---- 3. transactional batch -----------------------------------------------------------------
batch '[{"operationType":"Create","resourceBody":{"id":"a","streamId":"s1"}},
        {"operationType":"Create","resourceBody":{"id":"b","streamId":"s1"}},
        {"operationType":"Create","resourceBody":{"id":"e1","streamId":"s1"}}]'
check 'failing batch -> 207' 207 "$STATUS"
check 'failing batch op statuses' '[424,424,409]' "$(js 'JSON.stringify(b.map(r => r.statusCode))')"
read_doc a; check 'batch rolled back: a absent' 404 "$STATUS"
read_doc b; check 'batch rolled back: b absent' 404 "$STATUS"
batch '[{"operationType":"Replace","id":"e1","resourceBody":{"id":"e1","streamId":"s1","n":99}},
        {"operationType":"Create","resourceBody":{"id":"d","streamId":"s1"}},
        {"operationType":"Delete","id":"nosuch"}]'
check 'failing batch with a replace -> 207' 207 "$STATUS"
read_doc e1; check 'batch rolled back: e1 keeps its content' 3 "$(js 'b.n')"
read_doc d; check 'batch rolled back: d absent' 404 "$STATUS"
batch '[{"operationType":"Create","resourceBody":{"id":"c","streamId":"s1"}},
        {"operationType":"Read","id":"e1"},
        {"operationType":"Patch","id":"e1","resourceBody":{"operations":[{"op":"incr","path":"/n","value":1}]}}]'
check 'successful batch -> 200' 200 "$STATUS"
check 'successful batch op statuses' '[201,200,200]' "$(js 'JSON.stringify(b.map(r => r.statusCode))')"

# ---- 4. change feed ----------------------------------------------------------------------
change_feed
check 'change feed from the beginning -> 200' 200 "$STATUS"
check 'change feed returns e1 and c ordered by _lsn' 'c,e1' "$(js 'b.Documents.map(d => d.id).join()')"
CF_ETAG="$(hdr etag)"
change_feed -H "If-None-Match: $CF_ETAG"
check 'change feed with the returned etag -> 304' 304 "$STATUS"
check '304 keeps the same etag' "$CF_ETAG" "$(hdr etag)"
create_doc '{"id":"e3","streamId":"s1"}'
change_feed -H "If-None-Match: $CF_ETAG"
check 'change feed after a new document -> 200' 200 "$STATUS"
check 'change feed returns only the new document' 'e3' "$(js 'b.Documents.map(d => d.id).join()')"

# ---- 5. queries --------------------------------------------------------------------------
PK=s2 create_doc '{"id":"x1","streamId":"s2"}'        # another partition: must not show up
query() { # query <json body> [curl args...]
  local q="$1"; shift
  call POST "/$CL/docs" docs "$CL" -H "$(PKH)" -H 'Content-Type: application/query+json' \
    -H 'x-ms-documentdb-isquery: True' "$@" -d "$q"
}
Q='{"query":"SELECT VALUE c.id FROM c WHERE c.id != @x ORDER BY c.id","parameters":[{"name":"@x","value":"zz"}]}'
query "$Q" -H 'x-ms-max-item-count: 2'
check 'query scoped to the pk header, page of 2' '["c","e1"]' "$(js 'JSON.stringify(b.Documents)')"
CONT="$(hdr x-ms-continuation)"
query "$Q" -H 'x-ms-max-item-count: 2' -H "x-ms-continuation: $CONT"
check 'query page 2 via the echoed continuation' '["e3"]' "$(js 'JSON.stringify(b.Documents)')"
check 'last page has no continuation' '' "$(hdr x-ms-continuation)"
query '{"query":"SELECT * FROM c"}' -H 'x-ms-continuation: not-a-token'
check 'query with a garbage continuation -> 400' 400 "$STATUS"

# ---- 6. fault injection --------------------------------------------------------------------
faults '[{"method":"POST","path":"/docs$","status":429,"retryAfterMs":50,"subStatus":3200}]'
create_doc '{"id":"f1","streamId":"s1"}'
check '429 fault rule -> 429' 429 "$STATUS"
check '429 carries x-ms-retry-after-ms' 50 "$(hdr x-ms-retry-after-ms)"
create_doc '{"id":"f1","streamId":"s1"}'
check 'next request after the 429 succeeds' 201 "$STATUS"
faults '[{"method":"POST","path":"/docs$","mode":"afterForward"}]'
create_doc '{"id":"f2","streamId":"s1"}'
check 'afterForward fault on a create -> 503' 503 "$STATUS"
create_doc '{"id":"f2","streamId":"s1"}'
check 'same create again -> 409 (the write was applied)' 409 "$STATUS"
faults '[{"method":"GET","path":"/docs/e1$","mode":"drop"}]'
read_doc e1 2>/dev/null
check 'drop fault -> connection closed without a reply (curl exit 52)' 000 "$STATUS"
check 'fault rules are used up' '[]' "$(rig "$BASE/__rig/faults" >/dev/null; cat "$TMP/body")"

# ---- 7. Entra (AAD) token via the fake managed-identity endpoint -----------------------------
MSI="$BASE/__rig/msi/token?resource=https%3A%2F%2Fexample.documents.azure.com&api-version=2019-08-01"
check 'MSI endpoint with a wrong X-IDENTITY-HEADER -> 400' 400 "$(rig -H 'X-IDENTITY-HEADER: nope' "$MSI")"
check 'MSI endpoint -> 200' 200 "$(rig -H "X-IDENTITY-HEADER: $IDENTITY_SECRET" "$MSI")"
TOKEN="$(js 'b.access_token')"
check 'MSI expires_on is a string' string "$(js 'typeof b.expires_on')"
aad() { curl -sS -o "$TMP/body" -w '%{http_code}' -H "x-ms-date: $(http_date)" -H 'x-ms-version: 2020-07-15' \
  -H "Authorization: type=aad&ver=1.0&sig=$1" -H "$(PKH)" "$BASE/$CL/docs/e1"; }
check 'read with the issued AAD token -> 200' 200 "$(aad "$TOKEN")"
check 'read with an unknown AAD token -> 401' 401 "$(aad bogus-token)"

# ---- 8. control endpoints and keep-alive ------------------------------------------------------
rig "$BASE/__rig/stats" >/dev/null
check 'stats count issued tokens' 1 "$(js 'b.tokensIssued')"
check 'stats count the fired faults by kind' '{"respond 429":1,"afterForward 503":1,"drop":1}' \
  "$(js 'JSON.stringify(b.faultsByKind)')"
check 'keep-alive: second request reuses the connection' '1 0' \
  "$(curl -sS -o /dev/null -o /dev/null -w '%{num_connects} ' "$BASE/__rig/stats" "$BASE/__rig/log" | sed 's/ $//')"
rig "$BASE/__rig/log" >/dev/null
check 'request log records the dropped request' true "$(js 'b.some(e => e.fault === "drop" && e.status === null)')"
check 'POST /__rig/reset -> 200' 200 "$(rig -X POST "$BASE/__rig/reset")"
call GET /dbs dbs ''
check 'after reset there are no databases' 0 "$(js 'b._count')"
CHARGES="$(hdr x-ms-request-charge)"
call POST /dbs dbs '' -H 'Content-Type: application/json' -d '{"id":"charged"}'
CHARGES="$CHARGES+$(hdr x-ms-request-charge)"
rig "$BASE/__rig/stats" >/dev/null
check 'stats sum the request charges of the requests they count' \
  "2 $(node -e "console.log(Number(($CHARGES).toFixed(2)))")" "$(js 'b.requests + " " + b.requestCharge')"

echo "selftest: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
