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
RIG_PIDS=()
cleanup() {
  local pid
  for pid in "${RIG_PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null
      wait "$pid" 2>/dev/null
    fi
  done
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
read_doc() { local id="$1"; shift; call GET "/$CL/docs/$id" docs "$CL/docs/$id" -H "$(PKH)" "$@"; }
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
# start_rig <name> [rig options...]: starts a rig, waits for its line, sets RIG_URL.
start_rig() {
  local name="$1"; shift
  node "$HERE/rig.js" --port 0 --host 127.0.0.1 --key "$KEY" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  local pid=$!
  RIG_PIDS+=("$pid")
  RIG_URL=''
  for _ in $(seq 1 100); do
    RIG_URL="$(sed -n 's/^cosmos-rig listening on \(http:\/\/127\.0\.0\.1:[0-9][0-9]*\)$/\1/p' "$TMP/$name.out")"
    [ -n "$RIG_URL" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$RIG_URL" ]; then
    echo "FAIL  rig '$name' did not start"; cat "$TMP/$name.out" "$TMP/$name.err"; exit 1
  fi
  echo "rig '$name' pid $pid at $RIG_URL"
}
start_rig main --identity-header "$IDENTITY_SECRET"
BASE="$RIG_URL"
check 'startup: exactly one stdout line' 1 "$(wc -l <"$TMP/main.out" | tr -d ' ')"

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

# ---- 7. Entra (AAD) tokens and the managed-identity endpoint ---------------------------------
# msi <query> [curl args...]: GET /__rig/msi/token?<query> (no header unless given).
msi() { local q="$1"; shift; rig "$@" "$BASE/__rig/msi/token?$q"; }
enc() { node -e 'console.log(encodeURIComponent(process.argv[1]))' "$1"; }
RES="resource=$(enc "$BASE")"
IDH=(-H "X-IDENTITY-HEADER: $IDENTITY_SECRET")
check 'MSI: no X-IDENTITY-HEADER -> 400' 400 "$(msi "$RES&api-version=2019-08-01")"
check 'MSI: 400 body has the App Service shape {StatusCode,Message,CorrelationId}' true \
  "$(js 'b.StatusCode === 400 && typeof b.Message === "string" && typeof b.CorrelationId === "string"')"
check 'MSI: wrong X-IDENTITY-HEADER -> 400' 400 "$(msi "$RES&api-version=2019-08-01" -H 'X-IDENTITY-HEADER: nope')"
check 'MSI: no api-version -> 400 ApiVersionUnspecified' '400 ApiVersionUnspecified' \
  "$(msi "$RES" "${IDH[@]}") $(js 'b.error.code')"
check 'MSI: api-version 2018-02-01 (IMDS) -> 400 UnsupportedApiVersion' '400 UnsupportedApiVersion' \
  "$(msi "$RES&api-version=2018-02-01" "${IDH[@]}") $(js 'b.error.code')"
check 'MSI: no resource -> 400' 400 "$(msi "api-version=2019-08-01" "${IDH[@]}")"
check 'MSI: a client_id of no identity of the app -> 400 "No MSI found"' '400 No MSI found for specified ClientId/ResourceId.' \
  "$(msi "$RES&api-version=2019-08-01&client_id=00000000-0000-0000-0000-000000000001" "${IDH[@]}") $(js 'b.Message')"
check 'MSI: 2019-08-01 with X-IDENTITY-HEADER -> 200' 200 "$(msi "$RES&api-version=2019-08-01" "${IDH[@]}")"
TOKEN="$(js 'b.access_token')"
check 'MSI: expires_on is a string of unix seconds, ~1 h ahead' true \
  "$(js 'typeof b.expires_on === "string" && Math.abs(Number(b.expires_on) - Date.now()/1000 - 3600) < 60')"
check 'MSI: reply has resource, token_type Bearer and client_id' true \
  "$(js "b.resource === '$BASE' && b.token_type === 'Bearer' && /^[0-9a-f-]{36}\$/.test(b.client_id)")"
check 'token: 2,900 characters (default --token-bytes)' 2900 "${#TOKEN}"
jwt() { node -e 'const p=process.argv[1].split(".");console.log(JSON.stringify(JSON.parse(Buffer.from(p[process.argv[2]],"base64url"))))' "$1" "$2"; }
check 'token: three base64url parts, header {typ JWT, alg RS256, kid}' true \
  "$(node -e 'const h=JSON.parse(process.argv[1]);console.log(h.typ==="JWT"&&h.alg==="RS256"&&!!h.kid)' "$(jwt "$TOKEN" 0)")"
check 'token: payload has aud iss iat nbf exp oid tid appid xms_mirid, aud = resource' true \
  "$(node -e 'const c=JSON.parse(process.argv[1]);console.log(["aud","iss","iat","nbf","exp","oid","tid","appid","xms_mirid"].every(k=>k in c)&&c.aud===process.argv[2]&&c.exp>c.iat)' "$(jwt "$TOKEN" 1)" "$BASE")"
msi "$RES&api-version=2019-08-01" "${IDH[@]}" >/dev/null
check 'token: a second token differs from the first' true "$(js "b.access_token !== '$TOKEN' && b.access_token.length === 2900")"
check 'MSI 2017-09-01 (MSI_ENDPOINT) with the secret header -> 200' 200 "$(msi "$RES&api-version=2017-09-01" -H "secret: $IDENTITY_SECRET")"
check 'MSI 2017-09-01: expires_on is "MM/dd/yyyy HH:mm:ss +00:00"' true \
  "$(js '/^\d\d\/\d\d\/\d{4} \d\d:\d\d:\d\d \+00:00$/.test(b.expires_on)')"
check 'MSI 2017-09-01 with X-IDENTITY-HEADER instead of secret -> 400' 400 "$(msi "$RES&api-version=2017-09-01" "${IDH[@]}")"

# aad <token> <METHOD> <path> [curl args...]: a data-plane request with an Entra token.
aad() { local t="$1" m="$2" p="$3"; shift 3
  STATUS="$(curl -sS -o "$TMP/body" -D "$TMP/hdr" -w '%{http_code}' -X "$m" -H "x-ms-date: $(http_date)" \
    -H 'x-ms-version: 2020-07-15' -H "Authorization: type=aad&ver=1.0&sig=$t" "$@" "$BASE$p")"; }
aad "$TOKEN" GET "/$CL/docs/e1" -H "$(PKH)"
check 'AAD: point read with the issued token -> 200' 200 "$STATUS"
STATUS="$(curl -sS -o "$TMP/body" -w '%{http_code}' -H "x-ms-date: $(http_date)" -H 'x-ms-version: 2020-07-15' \
  -H "Authorization: $(enc "type=aad&ver=1.0&sig=$TOKEN")" -H "$(PKH)" "$BASE/$CL/docs/e1")"
check 'AAD: the same token URL-encoded -> 200' 200 "$STATUS"
aad "${TOKEN:0:1003}" GET "/$CL/docs/e1" -H "$(PKH)"
check 'AAD: the token cut to 1,003 characters (a 1 KB header line) -> 401' 401 "$STATUS"
aad "${TOKEN%?}" GET "/$CL/docs/e1" -H "$(PKH)"
check 'AAD: the token less its last character -> 401' 401 "$STATUS"
TAMPERED="$(node -e 'const p=process.argv[1].split(".");const c=JSON.parse(Buffer.from(p[1],"base64url"));c.exp+=86400;p[1]=Buffer.from(JSON.stringify(c)).toString("base64url");console.log(p.join("."))' "$TOKEN")"
aad "$TAMPERED" GET "/$CL/docs/e1" -H "$(PKH)"
check 'AAD: a token with an altered payload -> 401' 401 "$STATUS"
aad bogus-token GET "/$CL/docs/e1" -H "$(PKH)"
check 'AAD: a token the rig did not issue -> 401' 401 "$STATUS"
msi "resource=$(enc "$BASE/")&api-version=2019-08-01" "${IDH[@]}" >/dev/null
aad "$(js 'b.access_token')" GET "/$CL/docs/e1" -H "$(PKH)"
check 'AAD: a token for the origin with a trailing slash -> 401 substatus 5008' '401 5008' "$STATUS $(hdr x-ms-substatus)"
check 'AAD: 5008 message names the audiences the account accepts' true \
  "$(js "b.message.includes('is intended for [$BASE/]') && b.message.includes('[$BASE, https://cosmos.azure.com]')")"
msi "resource=$(enc https://vault.azure.net)&api-version=2019-08-01" "${IDH[@]}" >/dev/null
aad "$(js 'b.access_token')" GET "/$CL/docs/e1" -H "$(PKH)"
check 'AAD: a token for Key Vault -> 401 substatus 5008' '401 5008' "$STATUS $(hdr x-ms-substatus)"
msi "resource=$(enc https://cosmos.azure.com)&api-version=2019-08-01" "${IDH[@]}" >/dev/null
aad "$(js 'b.access_token')" GET "/$CL/docs/e1" -H "$(PKH)"
check 'AAD: a token for https://cosmos.azure.com -> 200' 200 "$STATUS"
aad "$TOKEN" POST /dbs -H 'Content-Type: application/json' -d '{"id":"aaddb"}'
check 'AAD: create a database -> 403 substatus 5300' '403 5300' "$STATUS $(hdr x-ms-substatus)"
check 'AAD: 5300 message is the real one' true \
  "$(js 'b.message.includes("The given request [POST /dbs] cannot be authorized by AAD token in data plane")')"
aad "$TOKEN" POST "/dbs/$DB/colls" -H 'Content-Type: application/json' -d '{"id":"c2","partitionKey":{"paths":["/streamId"],"kind":"Hash"}}'
check 'AAD: create a container -> 403 substatus 5300' '403 5300' "$STATUS $(hdr x-ms-substatus)"
aad "$TOKEN" DELETE "/$CL"
check 'AAD: delete a container -> 403' 403 "$STATUS"
aad "$TOKEN" DELETE "/dbs/$DB"
check 'AAD: delete a database -> 403' 403 "$STATUS"
aad "$TOKEN" GET "/$CL"
check 'AAD: read the container (metadata) -> 200' 200 "$STATUS"
aad "$TOKEN" GET "/$CL/pkranges"
check 'AAD: read pkranges -> 200' 200 "$STATUS"
aad "$TOKEN" POST "/$CL/docs" -H "$(PKH)" -H 'Content-Type: application/query+json' -H 'x-ms-documentdb-isquery: True' \
  -d '{"query":"SELECT VALUE c.id FROM c WHERE c.id = \"e1\""}'
check 'AAD: query -> 200' '200 ["e1"]' "$STATUS $(js 'JSON.stringify(b.Documents)')"
aad "$TOKEN" POST "/$CL/docs" -H "$(PKH)" -H 'Content-Type: application/json' -d '{"id":"aad1","streamId":"s1"}'
check 'AAD: create a document -> 201' 201 "$STATUS"
aad "$TOKEN" POST "/$CL/docs" -H "$(PKH)" -H 'Content-Type: application/json' -H 'x-ms-cosmos-is-batch-request: True' \
  -H 'x-ms-cosmos-batch-atomic: True' -d '[{"operationType":"Read","id":"aad1"}]'
check 'AAD: batch -> 200' 200 "$STATUS"
aad "$TOKEN" GET "/$CL/docs" -H 'A-IM: Incremental feed' -H 'If-None-Match: *'
check 'AAD: change feed -> 304' 304 "$STATUS"

check 'MSI config: ttlSeconds 1 -> 200' 200 "$(rig -X POST "$BASE/__rig/msi/config" -d '{"ttlSeconds":1}')"
msi "$RES&api-version=2019-08-01" "${IDH[@]}" >/dev/null
SHORT="$(js 'b.access_token')"
check 'MSI: a token issued under ttlSeconds 1 expires in 1 s' true "$(js 'Number(b.expires_on) - Date.now()/1000 <= 1.5')"
sleep 2
aad "$SHORT" GET "/$CL/docs/e1" -H "$(PKH)"
check 'AAD: an expired token -> 401' 401 "$STATUS"
check 'AAD: the expiry message is the real one' true \
  "$(js '/Provided AAD token has been expired since \[\d+\/\d+\/\d{4} \d+:\d\d:\d\d [AP]M \(UTC\)\]. Current server time is .*Please refresh the AAD token/.test(b.message)')"
aad "$TOKEN" GET "/$CL/docs/e1" -H "$(PKH)"
check 'AAD: a token issued before the change keeps its 1 h' 200 "$STATUS"
rig -X POST "$BASE/__rig/msi/config" -d '{"ttlSeconds":null,"fail":{"status":500,"count":2}}' >/dev/null
check 'MSI config: fail 500 x2 -> first request 500' 500 "$(msi "$RES&api-version=2019-08-01" "${IDH[@]}")"
check 'MSI config: fail 500 x2 -> second request 500' 500 "$(msi "$RES&api-version=2019-08-01" "${IDH[@]}")"
check 'MSI config: then the endpoint heals -> 200' 200 "$(msi "$RES&api-version=2019-08-01" "${IDH[@]}")"
rig -X POST "$BASE/__rig/msi/config" -d '{"fail":"drop"}' >/dev/null
check 'MSI config: fail "drop" -> connection closed without a reply' 000 "$(msi "$RES&api-version=2019-08-01" "${IDH[@]}" 2>/dev/null)"
rig -X POST "$BASE/__rig/msi/config" -d '{"tokenBytes":4096}' >/dev/null
msi "$RES&api-version=2019-08-01" "${IDH[@]}" >/dev/null
check 'MSI config: tokenBytes 4096 -> the next token is 4,096 characters' 4096 "$(js 'b.access_token.length')"
aad "$(js 'b.access_token')" GET "/$CL/docs/e1" -H "$(PKH)"
check 'AAD: a 4,096-character token -> 200' 200 "$STATUS"
check 'MSI config: tokenBytes 1000 -> 400' 400 "$(rig -X POST "$BASE/__rig/msi/config" -d '{"tokenBytes":1000}')"
rig -X POST "$BASE/__rig/msi/config" -d '{"tokenBytes":null}' >/dev/null
check 'MSI config: bad field -> 400' 400 "$(rig -X POST "$BASE/__rig/msi/config" -d '{"ttl":5}')"
rig "$BASE/__rig/msi/config" >/dev/null
check 'MSI config: GET shows ttl back at --token-ttl, no fail, system-assigned identity' 'true' \
  "$(js 'b.ttlSeconds === 3600 && b.tokenBytes === 2900 && b.fail === null && b.identity.type === "SystemAssigned"')"

# A user-assigned identity (--identity-client-id) and 4 KB tokens, on a second rig.
UAMI=3f2a1c5e-8d4b-4f6a-9b7c-1e2d3c4b5a69
start_rig uami --identity-header "$IDENTITY_SECRET" --identity-client-id "$UAMI" --token-bytes 4096
U="$RIG_URL"
URES="resource=$(enc "$U")&api-version=2019-08-01"
uget() { rig "${IDH[@]}" "$U/__rig/msi/token?$1"; }
check 'UAMI: no client_id (no system-assigned identity) -> 400 "No MSI found"' '400 No MSI found for specified ClientId/ResourceId.' \
  "$(uget "$URES") $(js 'b.Message')"
check 'UAMI: a wrong client_id -> 400' 400 "$(uget "$URES&client_id=3f2a1c5e-8d4b-4f6a-9b7c-000000000000")"
check 'UAMI: the right client_id -> 200, a 4,096-character token' '200 4096' \
  "$(uget "$URES&client_id=$UAMI") $(js 'b.access_token.length')"
check 'UAMI: client_id compares without regard to case' 200 "$(uget "$URES&client_id=${UAMI^^}")"
rig "$U/__rig/msi/config" >/dev/null
MIRES="$(js 'b.identity.resourceId')"; OBJ="$(js 'b.identity.objectId')"
check 'UAMI: mi_res_id of the identity -> 200' 200 "$(uget "$URES&mi_res_id=$(enc "$MIRES")")"
check 'UAMI: token xms_mirid is the identity resource id' "$MIRES" \
  "$(node -e 'console.log(JSON.parse(Buffer.from(process.argv[1].split(".")[1],"base64url")).xms_mirid)' "$(js 'b.access_token')")"
check 'UAMI: object_id of the identity -> 200' 200 "$(uget "$URES&object_id=$OBJ")"
check 'UAMI: client_id and mi_res_id together -> 400' 400 "$(uget "$URES&client_id=$UAMI&mi_res_id=$(enc "$MIRES")")"
check 'UAMI 2017-09-01: clientid of the identity -> 200' 200 \
  "$(rig -H "secret: $IDENTITY_SECRET" "$U/__rig/msi/token?resource=$(enc "$U")&api-version=2017-09-01&clientid=$UAMI")"
uget "$URES&client_id=$UAMI" >/dev/null
UTOKEN="$(js 'b.access_token')"
STATUS="$(curl -sS -o "$TMP/body" -w '%{http_code}' -H "x-ms-date: $(http_date)" -H 'x-ms-version: 2020-07-15' \
  -H "Authorization: $(enc "type=aad&ver=1.0&sig=$UTOKEN")" "$U/dbs")"
check 'UAMI: a 4 KB token, URL-encoded, lists databases -> 200' 200 "$STATUS"
STATUS="$(curl -sS -o "$TMP/body" -w '%{http_code}' -H "x-ms-date: $(http_date)" -H 'x-ms-version: 2020-07-15' \
  -H "Authorization: type=aad&ver=1.0&sig=$TOKEN" "$U/dbs")"
check "UAMI: a token from another rig (another tenant's key) -> 401" 401 "$STATUS"
rig "$U/__rig/stats" >/dev/null
check 'UAMI: stats count tokens issued and identity requests refused' '6 3' "$(js 'b.tokensIssued + " " + b.identityRefused')"
check 'UAMI: stats keep the largest Authorization header (4,096 + the 31-byte encoded prefix)' 4127 "$(js 'b.maxAuthorizationBytes')"

# Request headers: Cosmos's front end takes 16 KB; the rig refuses beyond it as Cosmos does.
call GET /dbs dbs '' -H "X-Pad: $(head -c 15000 /dev/zero | tr '\0' a)"
check 'headers of ~15.3 KB -> 200' 200 "$STATUS"
call GET /dbs dbs '' -H "X-Pad: $(head -c 17000 /dev/zero | tr '\0' a)"
check 'headers over 16 KB -> 400 "The size of the request headers is too long"' '400 true' \
  "$STATUS $(grep -q 'The size of the request headers is too long' "$TMP/body" && echo true)"

# ---- 8. session tokens and lagging replicas (a third rig, --replica-lag-ms 6000) --------------
start_rig lag --replica-lag-ms 6000
MAIN_BASE="$BASE"; BASE="$RIG_URL"
call POST /dbs dbs '' -H 'Content-Type: application/json' -d "{\"id\":\"$DB\"}" >/dev/null
call POST "/dbs/$DB/colls" colls "dbs/$DB" -H 'Content-Type: application/json' \
  -d "{\"id\":\"$COLL\",\"partitionKey\":{\"paths\":[\"/streamId\"],\"kind\":\"Hash\",\"version\":2}}"
check 'lag rig: GET /__rig/config shows --replica-lag-ms' 6000 "$(rig "$BASE/__rig/config" >/dev/null; js 'b.replicaLagMs')"
check 'lag rig: POST /__rig/config replicaLagMs 0 turns lag off' '200 0' \
  "$(rig -X POST "$BASE/__rig/config" -d '{"replicaLagMs":0}') $(js 'b.replicaLagMs')"
lsn() { hdr x-ms-session-token | sed -n 's/^0:-1#\([0-9][0-9]*\)$/\1/p'; }
create_doc '{"id":"a1","streamId":"s1","n":1}'; T1="$(lsn)"
check 'session: a create answers x-ms-session-token 0:-1#<lsn>' true "$( [ -n "$T1" ] && echo true)"
create_doc '{"id":"a2","streamId":"s1"}'; T2="$(lsn)"
check 'session: the next write answers the next LSN' "$((T1 + 1))" "$T2"
read_doc a1
check 'session: a read answers the LSN it has reached' "$T2" "$(lsn)"
read_doc a1 -H "x-ms-session-token: 0:-1#$((T2 + 5))"
check 'session: a token ahead of every write -> 404 substatus 1002' '404 1002' "$STATUS $(hdr x-ms-substatus)"
check 'session: 1002 message is the real one' 'The read session is not available for the input session token.' "$(js 'b.message')"
read_doc a1 -H 'x-ms-session-token: garbage'
check 'session: a malformed token -> 400' 400 "$STATUS"
read_doc a1 -H "x-ms-session-token: 1:-1#999,0:-1#$T2"
check 'session: compound token, other ranges ignored -> 200' 200 "$STATUS"
read_doc a1 -H "x-ms-session-token: 0:$T2"
check 'session: simple token 0:<lsn> -> 200' 200 "$STATUS"
call DELETE "/$CL/docs/a2" docs "$CL/docs/a2" -H "$(PKH)"; T3="$(lsn)"
check 'session: a delete is a write with its own LSN' "204 $((T2 + 1))" "$STATUS $T3"

check 'lag: POST /__rig/config replicaLagMs 6000 turns lag on' 200 "$(rig -X POST "$BASE/__rig/config" -d '{"replicaLagMs":6000}')"
create_doc '{"id":"b1","streamId":"s1"}'; T4="$(lsn)"
read_doc b1
check 'lag: a read without a token does not see a create of the last N ms -> 404' 404 "$STATUS"
check 'lag: ... and answers the lagging replica LSN' "$T3" "$(lsn)"
read_doc b1 -H "x-ms-session-token: 0:-1#$T3"
check 'lag: a read with an older token does not see it either -> 404' 404 "$STATUS"
read_doc b1 -H "x-ms-session-token: 0:-1#$T4"
check 'lag: a read with the write token sees it -> 200' "200 $T4" "$STATUS $(lsn)"
call PUT "/$CL/docs/a1" docs "$CL/docs/a1" -H "$(PKH)" -H 'Content-Type: application/json' -d '{"id":"a1","streamId":"s1","n":2}'
T5="$(lsn)"
call PATCH "/$CL/docs/a1" docs "$CL/docs/a1" -H "$(PKH)" -H 'Content-Type: application/json_patch+json' \
  -d '{"operations":[{"op":"incr","path":"/n","value":1}]}'
T6="$(lsn)"
check 'lag: replace and patch answer the next LSNs' "$((T4 + 1)) $((T4 + 2))" "$T5 $T6"
read_doc a1
check 'lag: a read without a token gets the version before the replace' '200 1' "$STATUS $(js 'b.n')"
read_doc a1 -H "x-ms-session-token: 0:-1#$T5"
check 'lag: with the replace token, the replaced version' 2 "$(js 'b.n')"
read_doc a1 -H "x-ms-session-token: 0:-1#$T6"
check 'lag: with the patch token, the patched version' 3 "$(js 'b.n')"
LQ='{"query":"SELECT VALUE c.id FROM c ORDER BY c.id"}'
query "$LQ"
check 'lag: a query without a token leaves the new document out' '["a1"]' "$(js 'JSON.stringify(b.Documents)')"
query '{"query":"SELECT VALUE c.n FROM c WHERE c.id = \"a1\""}'
check 'lag: ... and sees the old version' '[1]' "$(js 'JSON.stringify(b.Documents)')"
query "$LQ" -H "x-ms-session-token: 0:-1#$T6"
check 'lag: a query with the latest token sees all' '["a1","b1"]' "$(js 'JSON.stringify(b.Documents)')"
call GET "/$CL/docs" docs "$CL" -H "$(PKH)"
check 'lag: the read feed without a token leaves it out' 'a1' "$(js 'b.Documents.map(d => d.id).join()')"
change_feed -H "$(PKH)"
check 'lag: the change feed without a token: only the old version of a1' 'a1@1' "$(js 'b.Documents.map(d => d.id + "@" + d.n).join()')"
change_feed -H "$(PKH)" -H "x-ms-session-token: 0:-1#$T6"
check 'lag: the change feed with the latest token: b1, then a1 as patched' 'b1,a1@3' \
  "$(js 'b.Documents.map(d => d.id + (d.n ? "@" + d.n : "")).join()')"
call DELETE "/$CL/docs/b1" docs "$CL/docs/b1" -H "$(PKH)"; T7="$(lsn)"
read_doc b1 -H "x-ms-session-token: 0:-1#$T6"
check 'lag: a read at a token before the delete still finds it' 200 "$STATUS"
read_doc b1 -H "x-ms-session-token: 0:-1#$T7"
check 'lag: a read with the delete token -> 404' 404 "$STATUS"
create_doc '{"id":"c1","streamId":"s1"}'
batch '[{"operationType":"Read","id":"c1"}]'
check 'lag: a batch holding only a Read is served by the primary -> 200' '200 [200]' \
  "$STATUS $(js 'JSON.stringify(b.map(r => r.statusCode))')"
read_doc a1 -H "x-ms-session-token: 0:-1#$((T7 + 100))"
check 'lag: a token from the future -> 404/1002' '404 1002' "$STATUS $(hdr x-ms-substatus)"
rig "$BASE/__rig/stats" >/dev/null
check 'lag: stats count stale reads and 1002s' true "$(js 'b.staleReads >= 8 && b.sessionNotAvailable === 2')"
sleep 6.2
read_doc a1
check 'lag: N ms later a read without a token sees the latest' '200 3' "$STATUS $(js 'b.n')"
read_doc b1
check 'lag: ... and the delete' 404 "$STATUS"
check 'lag: POST /__rig/config with a negative lag -> 400' 400 "$(rig -X POST "$BASE/__rig/config" -d '{"replicaLagMs":-1}')"
check 'lag: POST /__rig/config with an unknown field -> 400' 400 "$(rig -X POST "$BASE/__rig/config" -d '{"lag":1}')"
rig -X POST "$BASE/__rig/config" -d '{"replicaLagMs":0}' >/dev/null
check 'lag: POST /__rig/reset puts the lag back to --replica-lag-ms' 6000 \
  "$(rig -X POST "$BASE/__rig/reset" >/dev/null; rig "$BASE/__rig/config" >/dev/null; js 'b.replicaLagMs')"
BASE="$MAIN_BASE"

# ---- 9. control endpoints and keep-alive ------------------------------------------------------
rig "$BASE/__rig/stats" >/dev/null
check 'stats count issued tokens' 9 "$(js 'b.tokensIssued')"
check 'stats count refused Entra requests by reason' '{"invalid":4,"expired":1,"audience":2,"controlPlane":4}' \
  "$(js 'JSON.stringify(b.aadRefused)')"
check 'stats count identity requests, refusals and injected faults' '19 7 3' \
  "$(js 'b.identityRequests + " " + b.identityRefused + " " + b.identityFaults')"
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


# ---- 10. partition key ranges and splits ----------------------------------------------------
# A container of its own: 20 streams x 2 documents, then splits through POST /__rig/split.
CL="dbs/ranges/colls/events"
call POST /dbs dbs '' -H 'Content-Type: application/json' -d '{"id":"ranges"}' >/dev/null
call POST /dbs/ranges/colls colls dbs/ranges -H 'Content-Type: application/json' \
  -d '{"id":"events","partitionKey":{"paths":["/streamId"],"kind":"Hash","version":2}}'
check 'ranges: create a container -> 201' 201 "$STATUS"
CRID="$(js 'b._rid')"
pkranges() { call GET "/$CL/pkranges" pkranges "$CL" "$@"; }
# split <range> [db] [coll]: POST /__rig/split; prints the status.
split() { rig -X POST "$BASE/__rig/split" -H 'Content-Type: application/json' \
  -d "{\"db\":\"${2:-ranges}\",\"coll\":\"${3:-events}\",\"range\":\"$1\"}"; }
# rfeed <range id> [curl args...]: the change feed of one range, every change in one page.
rfeed() { local r="$1"; shift; change_feed -H "x-ms-documentdb-partitionkeyrangeid: $r" -H 'x-ms-max-item-count: -1' "$@"; }
ranges_of() { js 'b.PartitionKeyRanges.map(r => r.id + ":" + r.minInclusive + "-" + r.maxExclusive + ":[" + r.parents.join("/") + "]:" + r.status).join(" ")'; }
pkranges
check 'ranges: a new container has one range "0" over everything' '200 0:-FF:[]:online' "$STATUS $(ranges_of)"
check 'ranges: the pkranges answer has the container _rid and _count' "$CRID 1" "$(js 'b._rid + " " + b._count')"
for i in $(seq -w 1 20); do
  PK="r$i" batch "[{\"operationType\":\"Create\",\"resourceBody\":{\"id\":\"r$i-a\",\"streamId\":\"r$i\"}},
                   {\"operationType\":\"Create\",\"resourceBody\":{\"id\":\"r$i-b\",\"streamId\":\"r$i\"}}]"
  [ "$STATUS" = 200 ] || break
done
check 'ranges: 20 streams x 2 documents written' 200 "$STATUS"
rfeed 0
check 'ranges: the change feed of range "0" has all 40 documents' '200 40' "$STATUS $(js 'b._count')"
E0="$(hdr etag)"
check 'split "0" -> 200 and two children with parents ["0"], halves at 20000000' \
  '200 1:-20000000:[0] 2:20000000-FF:[0]' \
  "$(split 0) $(js 'b.ranges.map(r => r.id + ":" + r.minInclusive + "-" + r.maxExclusive + ":[" + r.parents.join("/") + "]").join(" ")')"
pkranges
check 'pkranges after the split lists exactly the children' '200 1:-20000000:[0]:online 2:20000000-FF:[0]:online' "$STATUS $(ranges_of)"
check 'pkranges without a page size: no continuation' '' "$(hdr x-ms-continuation)"
pkranges -H 'x-ms-max-item-count: 1'
check 'pkranges with x-ms-max-item-count 1: first page is range 1' '200 1 1' "$STATUS $(js 'b.PartitionKeyRanges.map(r => r.id).join() + " " + b._count')"
PKR_CONT="$(hdr x-ms-continuation)"
check 'pkranges: a continuation when more remain' true "$( [ -n "$PKR_CONT" ] && echo true)"
pkranges -H 'x-ms-max-item-count: 1' -H "x-ms-continuation: $PKR_CONT"
check 'pkranges page 2 via the echoed continuation: range 2, no continuation' '200 2 ' \
  "$STATUS $(js 'b.PartitionKeyRanges.map(r => r.id).join()') $(hdr x-ms-continuation)"
pkranges -H 'x-ms-continuation: not-a-token'
check 'pkranges with a garbage continuation -> 400' 400 "$STATUS"
rfeed 0
check 'change feed of the split range "0" -> 410 substatus 1002' '410 1002' "$STATUS $(hdr x-ms-substatus)"
check '410 body is {"code":"Gone"} and names PartitionKeyRangeGone' true \
  "$(js 'b.code === "Gone" && b.message.includes("PartitionKeyRangeGone")')"
rfeed 0 -H "If-None-Match: $E0"
check 'change feed of "0" with its own last etag -> 410 too' 410 "$STATUS"
rfeed 1; cp "$TMP/body" "$TMP/r1.json"; S1="$STATUS"
rfeed 2; cp "$TMP/body" "$TMP/r2.json"; S2="$STATUS"
both() { node -e 'const f=(p)=>JSON.parse(require("fs").readFileSync(p,"utf8")).Documents;const a=f(process.argv[1]),b=f(process.argv[2]);console.log(eval(process.argv[3]))' "$TMP/r1.json" "$TMP/r2.json" "$1"; }
check 'children feeds from the start -> 200, both ranges non-empty' '200 200 true' "$S1 $S2 $(both 'a.length > 0 && b.length > 0')"
check 'children feeds together return every document exactly once' '40 40' \
  "$(both 'a.length + b.length') $(both 'new Set(a.concat(b).map(d => d.id)).size')"
check 'each stream is all in one child' true \
  "$(both 'const s = new Set(a.map(d => d.streamId)); b.every(d => !s.has(d.streamId))')"
query() { # query <json body> [curl args...] (cross-partition)
  local q="$1"; shift
  call POST "/$CL/docs" docs "$CL" -H 'Content-Type: application/query+json' -H 'x-ms-documentdb-isquery: True' \
    -H 'x-ms-documentdb-query-enablecrosspartition: True' -H 'x-ms-max-item-count: -1' "$@" -d "$q"
}
query '{"query":"SELECT VALUE c.id FROM c"}' -H 'x-ms-documentdb-partitionkeyrangeid: 1'
Q1="$STATUS $(js 'b.Documents.length')"
query '{"query":"SELECT VALUE c.id FROM c"}' -H 'x-ms-documentdb-partitionkeyrangeid: 2'
check 'query on range 2 returns exactly its change feed documents' "200 $(both 'b.map(d => d.id).sort().join()')" \
  "$STATUS $(js 'b.Documents.sort().join()')"
check 'query on range 1 returns the other documents' "200 $(both 'a.length')" "$Q1"
for s in n1 n2 n3 n4 n5 n6; do PK="$s" create_doc "{\"id\":\"$s-a\",\"streamId\":\"$s\"}"; done
rfeed 1 -H "If-None-Match: $E0"; cp "$TMP/body" "$TMP/r1.json"; S1="$STATUS"; E1="$(hdr etag)"
rfeed 2 -H "If-None-Match: $E0"; cp "$TMP/body" "$TMP/r2.json"; S2="$STATUS"
check 'children read with the etag of "0" before the split: only the 6 later writes, once each' \
  '200 200 n1-a,n2-a,n3-a,n4-a,n5-a,n6-a' "$S1 $S2 $(both 'a.concat(b).map(d => d.id).sort().join()')"
rfeed 1 -H "If-None-Match: $E1"
check 'a child read with its latest etag -> 304' 304 "$STATUS"
query '{"query":"SELECT VALUE c.id FROM c"}' -H 'x-ms-documentdb-partitionkeyrangeid: 0'
check 'query on the split range "0" -> 410 substatus 1002' '410 1002' "$STATUS $(hdr x-ms-substatus)"
query '{"query":"SELECT VALUE c.id FROM c"}' -H 'x-ms-documentdb-partitionkeyrangeid: 99'
check 'query on a range id that never existed -> 400' 400 "$STATUS"
query '{"query":"SELECT VALUE c.id FROM c"}'
check 'query without a range header sees all 46 documents' '200 46' "$STATUS $(js 'b.Documents.length')"
rfeed 99
check 'change feed on a range id that never existed -> 400 naming it' '400 true' "$STATUS $(js 'b.message.includes("99")')"
rfeed "$CRID,2"
check 'change feed with "<container _rid>,<range id>" -> 200' 200 "$STATUS"
check 'split an unknown range -> 400' 400 "$(split 99)"
check 'split a range that has already split -> 400' 400 "$(split 0)"
check 'split in an unknown container -> 400' 400 "$(split 1 ranges nosuch)"
check 'split with a malformed body -> 400' 400 "$(rig -X POST "$BASE/__rig/split" -d '{"db":"ranges"')"
check 'split with an unknown field -> 400' 400 "$(rig -X POST "$BASE/__rig/split" -d '{"db":"ranges","coll":"events","range":"1","x":1}')"
call POST /dbs/ranges/colls colls dbs/ranges -H 'Content-Type: application/json' -d '{"id":"legacy"}' >/dev/null
check 'split in a container without a partition key definition -> 400' '201 400' "$STATUS $(split 0 ranges legacy)"
rfeed 1; R1_IDS="$(js 'b.Documents.map(d => d.id).sort().join()')"
check 'split "1" -> grandchildren 3 and 4 with parents ["0","1"]' '200 3:-10000000:[0/1] 4:10000000-20000000:[0/1] 2:20000000-FF:[0]' \
  "$(split 1) $(js 'b.ranges.map(r => r.id + ":" + r.minInclusive + "-" + r.maxExclusive + ":[" + r.parents.join("/") + "]").join(" ")')"
pkranges
check 'pkranges lists 3, 4, 2 in EPK order' '3,4,2' "$(js 'b.PartitionKeyRanges.map(r => r.id).join()')"
rfeed 1
check 'change feed of the split child "1" -> 410 substatus 1002' '410 1002' "$STATUS $(hdr x-ms-substatus)"
rfeed 3; cp "$TMP/body" "$TMP/r1.json"
rfeed 4; cp "$TMP/body" "$TMP/r2.json"
check 'grandchildren 3 and 4 together hold exactly the documents of range 1' "$R1_IDS" \
  "$(both 'a.concat(b).map(d => d.id).sort().join()')"
aad "$TOKEN" GET "/$CL/pkranges"
check 'AAD: read pkranges after splits -> 200, three ranges' '200 3' "$STATUS $(js 'b._count')"
N=0
while [ "$N" -lt 40 ] && [ "$(split "$(pkranges; js 'b.PartitionKeyRanges[0].id')")" = 200 ]; do N=$((N + 1)); done
check 'the lowest range splits 28 more times, then is too narrow -> 400' '28 true' "$N $(js 'b.message.includes("too narrow")')"
rig "$BASE/__rig/stats" >/dev/null
check 'stats count pkranges reads by container' true "$(js 'b.byKind["events pkranges"] >= 10')"
call GET /dbs/ranges/colls/nosuch/pkranges pkranges dbs/ranges/colls/nosuch
check 'pkranges of an unknown container -> 404' 404 "$STATUS"
call DELETE "/$CL" colls "$CL"
call POST /dbs/ranges/colls colls dbs/ranges -H 'Content-Type: application/json' \
  -d '{"id":"events","partitionKey":{"paths":["/streamId"],"kind":"Hash","version":2}}' >/dev/null
pkranges
check 'a deleted and recreated container starts over with range "0"' '0:-FF:[]:online' "$(ranges_of)"
split 0 >/dev/null
rig -X POST "$BASE/__rig/reset" >/dev/null
call POST /dbs dbs '' -H 'Content-Type: application/json' -d '{"id":"ranges"}' >/dev/null
call POST /dbs/ranges/colls colls dbs/ranges -H 'Content-Type: application/json' \
  -d '{"id":"events","partitionKey":{"paths":["/streamId"],"kind":"Hash","version":2}}' >/dev/null
pkranges
check 'after /__rig/reset a container has one range "0" again' '0:-FF:[]:online' "$(ranges_of)"
rfeed 0
check '... and its change feed on "0" -> 304 (empty), not 410' 304 "$STATUS"

echo "selftest: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
