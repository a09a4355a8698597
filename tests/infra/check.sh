#!/usr/bin/env bash
# The templates against the code, reading both (syntax.js parses the Bicep,
# flex.js holds it to Microsoft's Flex Consumption facts):
#   - every setting a function.json refers to (%NAME%, connection prefixes) is
#     provided by infra/resources.bicep, and every setting it provides is one
#     the handler, the bindings or the platform reads (no typos);
#   - the database, container names and partition keys agree with the code's
#     defaults (handler/util/config.c) and with `handler init`
#     (handler/store/store_cosmos.c);
#   - no secret is committed: no account keys in infra/, no listKeys(), Cosmos
#     keys disabled by default, local.settings.json holds emulator defaults only.
# Usage: tests/infra/check.sh [ROOT]   (default: this repository; selftest.sh
# passes broken copies)
set -uo pipefail
cd "${1:-$(dirname "$0")/../..}" || exit 1
BICEP=infra/resources.bicep
failures=0
ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

provided=$(sed -n '/settings:begin/,/settings:end/p' "$BICEP" | grep -oE '^\s+[A-Za-z_]+:' | tr -d ' :' | sort -u)
[ -n "$provided" ] && ok "templates provide $(echo "$provided" | wc -l) settings" || fail "no settings block in $BICEP"
handler_reads=$(grep -oE '"[A-Za-z][A-Za-z_]*(__[A-Za-z]+)?"' handler/util/config.c | tr -d '"' |
  grep -E '^[A-Z][A-Z_]+$|__' | sort -u)
binding_refs=$(grep -ohE '%[A-Za-z_]+%' functions/*/function.json | tr -d '%' | sort -u)
connections=$(grep -ohE '"connection": *"[^"]+"' functions/*/function.json | sed -E 's/.*"([^"]+)"$/\1/' | sort -u)
has() { grep -qx "$1" <<<"$provided"; }

for ref in $binding_refs; do
  has "$ref" && ok "binding setting %$ref% is provided" || fail "function.json refers to %$ref%, which the templates do not set"
done
# Each connection with the binding type that uses it: Service Bus connections are
# identified by their namespace, Cosmos DB ones by their endpoint.
conn_types=$(node -e '
const fs = require("fs");
for (const d of fs.readdirSync("functions")) {
  let j;
  try { j = JSON.parse(fs.readFileSync(`functions/${d}/function.json`, "utf8")); } catch (e) { continue; }
  for (const b of j.bindings || []) if (b.connection) console.log(`${b.connection} ${b.type}`);
}' | sort -u)
[ -n "$conn_types" ] || fail "no connection found in functions/*/function.json"
while read -r c type; do
  [ -n "$c" ] || continue
  case "$type" in
    serviceBus|serviceBusTrigger) endpoint=fullyQualifiedNamespace ;;
    *) endpoint=accountEndpoint ;;
  esac
  for suffix in $endpoint credential clientId; do
    has "${c}__${suffix}" && ok "connection $c ($type): ${c}__${suffix} is provided" ||
      fail "connection '$c' ($type) needs ${c}__${suffix} for a managed identity"
  done
done <<<"$conn_types"
has AzureWebJobsStorage__accountName && ok "identity-based AzureWebJobsStorage" ||
  fail "AzureWebJobsStorage__accountName is not provided"
grep -qx 'CosmosDB__accountEndpoint' <<<"$handler_reads" && has CosmosDB__accountEndpoint &&
  ok "the handler selects Cosmos DB by CosmosDB__accountEndpoint" ||
  fail "the handler and the templates disagree on the Cosmos endpoint setting"

for s in $provided; do
  if grep -qx "$s" <<<"$handler_reads"$'\n'"$binding_refs"; then continue; fi
  case "$s" in
    AzureWebJobsStorage__*|APPLICATIONINSIGHTS_*) continue ;;
  esac
  prefix=${s%%__*}
  if [ "$prefix" != "$s" ] && grep -qx "$prefix" <<<"$connections"; then continue; fi
  fail "the templates set '$s', which nothing reads"
done

# Database and containers: templates vs code.
db_code=$(grep -oE '"COSMOS_DATABASE", "[a-z-]+"' handler/util/config.c | grep -oE '"[a-z-]+"$' | tr -d '"')
db_bicep=$(grep -oE "var databaseName = '[a-z-]+'" "$BICEP" | grep -oE "'[a-z-]+'" | tr -d "'")
[ -n "$db_code" ] && [ "$db_code" = "$db_bicep" ] && ok "database '$db_code'" ||
  fail "database: code '$db_code', templates '$db_bicep'"
keys_line=$(grep -E 'const char \*keys\[\] = ' handler/store/store_cosmos.c)
read -r -a init_keys <<<"$(echo "$keys_line" | grep -oE '"/[A-Za-z]+"' | tr -d '"' | tr '\n' ' ')"
i=0
for setting in EVENTS_CONTAINER VIEWS_CONTAINER LEASES_CONTAINER DEADLETTERS_CONTAINER; do
  name=$(grep -oE "\"$setting\", \"[a-z]+\"" handler/util/config.c | grep -oE '"[a-z]+"$' | tr -d '"')
  key_bicep=$(grep -oE "\{ name: '$name', partitionKey: '[^']+' \}" "$BICEP" | grep -oE "partitionKey: '[^']+'" | grep -oE "'[^']+'" | tr -d "'")
  if [ -z "$name" ]; then
    fail "no default for $setting in config.c"
  elif [ -z "$key_bicep" ]; then
    fail "container '$name' ($setting) is missing from the templates"
  elif [ "$key_bicep" != "${init_keys[$i]:-}" ]; then
    fail "container '$name': partition key $key_bicep in the templates, ${init_keys[$i]:-none} in handler init"
  else
    ok "container '$name' with partition key $key_bicep"
  fi
  i=$((i + 1))
done
grep -q '"/streamId"' handler/store/store_cosmos.c && grep -q 'partition key /streamId' handler/store/store_cosmos.c &&
  ok "the store partitions events by /streamId" || fail "store_cosmos.c does not document /streamId"

# No secrets.
if grep -rnE 'listKeys\(|AccountKey=' infra/ azure.yaml; then fail "a key is used or written in the templates"; else ok "no keys in infra/"; fi
grep -qE 'param cosmosAllowKeys bool = false' infra/main.bicep && grep -q 'disableLocalAuth: !cosmosAllowKeys' "$BICEP" &&
  ok "Cosmos keys are disabled by default" || fail "Cosmos local authentication is not disabled by default"
emulator_key='C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=='
other_keys=$(grep -rhoE 'AccountKey=[^;"]+' --include='*.json' --include='*.bicep' --include='*.yaml' . 2>/dev/null |
  grep -v node_modules | grep -v "AccountKey=$emulator_key" | grep -v 'AccountKey=<' || true)
[ -z "$other_keys" ] && ok "local.settings.json holds only the emulator's published key" ||
  fail "a non-emulator key is committed: $other_keys"

echo "infra check: $failures failure(s)"
[ "$failures" -eq 0 ]
