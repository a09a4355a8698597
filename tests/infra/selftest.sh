#!/usr/bin/env bash
# Shows that the infra checks can fail: each case copies what they read into a
# scratch tree, breaks one thing, and requires the check to fail with the
# expected message (and the untouched copy to pass). A check that passed a
# broken input here would be a gate that cannot close.
#   syntax.js  the line-31 defect azd up stopped on, and other classic breaks
#   flex.js    API versions, role ids, deprecated settings, FC1 bounds, azd
#   check.sh   settings, containers and keys against the code
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
infra="$src/tests/infra"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
t="$work/t"
passed=0
failed=0

# A fresh copy of everything the three checks read.
fresh() {
  rm -rf "$t"
  mkdir -p "$t"
  (cd "$src" && tar -cf - infra azure.yaml scripts/deploy.sh handler/util/config.c \
    handler/store/store_cosmos.c functions local.settings.json) | tar -xf - -C "$t"
}

run_check() {
  case "$1" in
    syntax) node "$infra/syntax.js" "$t" ;;
    flex) node "$infra/flex.js" "$t" ;;
    consistency) bash "$infra/check.sh" "$t" ;;
  esac
}

# expect CHECK NAME PATTERN: the check must fail on the broken copy, saying PATTERN
# (an extended regular expression); PATTERN "" means it must pass.
expect() {
  local check=$1 name=$2 pattern=$3 out rc=0
  out=$(run_check "$check" 2>&1) || rc=$?
  if [ -z "$pattern" ]; then
    if [ "$rc" -eq 0 ]; then
      echo "ok: $check passes the untouched copy"
      passed=$((passed + 1))
    else
      echo "FAIL: $check fails the untouched copy:"
      echo "$out" | grep -v '^ok:' | sed 's/^/    /'
      failed=$((failed + 1))
    fi
  elif [ "$rc" -ne 0 ] && grep -qE "$pattern" <<<"$out"; then
    echo "ok: $check catches $name: $(echo "$out" | grep -E "$pattern" | head -1)"
    passed=$((passed + 1))
  else
    echo "FAIL: $check does not catch $name (exit $rc; expected /$pattern/):"
    echo "$out" | grep -v '^ok:' | sed 's/^/    /'
    failed=$((failed + 1))
  fi
}

M="$t/infra/main.bicep"
R="$t/infra/resources.bicep"
Y="$t/azure.yaml"

# --- syntax.js -------------------------------------------------------------
fresh; expect syntax untouched ""
fresh
line=$(grep -n "^param cosmosAccountName string = ''$" "$M" | cut -d: -f1)
sed -i "s/^param cosmosAccountName string = ''$/param cosmosAccountName string = /" "$M"
expect syntax "a param with '=' and no value (the defect azd up stopped on)" \
  "FAIL: infra/main.bicep:[0-9]+:[0-9]+: syntax error .*after '=' at $line:"
fresh; printf 'var broken = {\n  a: 1\n' >>"$R"
expect syntax "an object left open" "FAIL: infra/resources.bicep:[0-9]+:[0-9]+: "
fresh
line=$(grep -n "^var databaseName = 'eventsourcing'$" "$R" | cut -d: -f1)
sed -i "s/^var databaseName = 'eventsourcing'$/var databaseName = 'eventsourcing/" "$R"
expect syntax "an unterminated string" "FAIL: infra/resources.bicep:$line:[0-9]+: "
fresh; sed -i 's/^@maxValue(1000)$/@maxValue(1000/' "$M"
expect syntax "a decorator without its ')'" "FAIL: infra/main.bicep:[0-9]+:[0-9]+: missing '\)'"
fresh; printf '}\n' >>"$M"
expect syntax "a stray '}'" "FAIL: infra/main.bicep:[0-9]+:[0-9]+: syntax error at '\}'"
fresh; sed -i 's/\[for c in containers: {/[for c in containers {/' "$R"
expect syntax "a for loop without ':'" "FAIL: infra/resources.bicep:[0-9]+:[0-9]+: "
fresh; sed -i 's/^resource app \(.*\) = {$/resource app \1 {/' "$R"
expect syntax "a resource without '='" "FAIL: infra/resources.bicep:[0-9]+:[0-9]+: "
fresh; mkdir -p "$t/infra/modules"; printf "param x string =\n" >"$t/infra/modules/extra.bicep"
expect syntax "a broken .bicep file in a subfolder" "FAIL: infra/modules/extra.bicep:[0-9]+:[0-9]+: "
fresh; rm -f "$t"/infra/*.bicep
expect syntax "a tree with no .bicep file" "FAIL: no .bicep file"

# --- flex.js ---------------------------------------------------------------
fresh; expect flex untouched ""
fresh; sed -i 's#Microsoft.Web/sites@2024-04-01#Microsoft.Web/sites@2021-02-01#' "$R"
expect flex "an API version no Microsoft Flex sample uses" \
  "Microsoft.Web/sites@2021-02-01 \(app\) is not in tests/infra/facts.js"
fresh; printf "resource extra 'Microsoft.Foo/bars@2024-01-01' = {\n  name: 'x'\n}\n" >>"$R"
expect flex "a resource type without a Microsoft source" "no Microsoft source for the type Microsoft.Foo/bars"
fresh; sed -i "s/^var storageQueueDataContributor = '.*'$/var storageQueueDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'/" "$R"
expect flex "a role id swapped for another role's" \
  "storageQueueDataContributor is named after Storage Queue Data Contributor, documented as 974c5e8b"
fresh; sed -i "s/^var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'$/var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055ec'/" "$R"
expect flex "a mistyped role id" "'3913510d-42f4-4e42-8a64-420c390055ec' is not the documented id"
fresh; sed -i "s/^var storageBlobDataOwner = /var blobOwnerRole = /; s/\[storageBlobDataOwner,/[blobOwnerRole,/" "$R"
expect flex "a role id in a variable not named after its role" \
  "must be bound to a variable named after its role: var storageBlobDataOwner"
fresh; sed -i 's/\[storageBlobDataOwner, storageQueueDataContributor, storageTableDataContributor\]/[storageBlobDataOwner, storageQueueDataContributor]/' "$R"
expect flex "a required role left unassigned" "needs Storage Table Data Contributor: var storageTableDataContributor is declared but no role assignment uses it"
fresh; sed -i "s/^var appSettings = {$/var appSettings = {\n  FUNCTIONS_WORKER_RUNTIME: 'custom'/" "$R"
expect flex "FUNCTIONS_WORKER_RUNTIME set as an app setting" \
  "app setting FUNCTIONS_WORKER_RUNTIME is deprecated on Flex Consumption"
fresh; sed -i "s/^      minTlsVersion: '1.2'$/      minTlsVersion: '1.2'\n      appSettings: [ { name: 'WEBSITE_RUN_FROM_PACKAGE', value: '1' } ]/" "$R"
expect flex "WEBSITE_RUN_FROM_PACKAGE in siteConfig.appSettings" \
  "'WEBSITE_RUN_FROM_PACKAGE' names an app setting deprecated on Flex Consumption"
fresh; sed -i "s/^var appSettings = {$/var appSettings = {\n  WEBSITE_CONTENTSHARE: 'share'\n  SCM_DO_BUILD_DURING_DEPLOYMENT: 'false'/" "$R"
expect flex "content-share and build settings" "app setting (WEBSITE_CONTENTSHARE|SCM_DO_BUILD_DURING_DEPLOYMENT) is deprecated"
fresh; sed -i "s/^      minTlsVersion: '1.2'$/      minTlsVersion: '1.2'\n      linuxFxVersion: 'custom|1'/" "$R"
expect flex "a deprecated site property" "site property linuxFxVersion is deprecated on Flex Consumption"
fresh; sed -i '/^@maxValue(1000)$/d' "$M"
expect flex "maximumInstanceCount without @maxValue" "infra/main.bicep:[0-9]+:[0-9]+: param maximumInstanceCount needs @minValue and @maxValue"
fresh; sed -i 's/^@maxValue(1000)$/@maxValue(2000)/' "$R"
expect flex "maximumInstanceCount allowed past 1000" "maximumInstanceCount is bounded to 40..2000, outside FC1's 40..1000"
fresh; sed -i 's/^@minValue(40)$/@minValue(1)/' "$M"
expect flex "maximumInstanceCount allowed below 40" "maximumInstanceCount is bounded to 1..1000, outside FC1's 40..1000"
fresh; sed -i 's/^param maximumInstanceCount int = 40$/param maximumInstanceCount int = 5000/' "$M"
expect flex "a default past the bound" "maximumInstanceCount defaults to 5000"
fresh; sed -i 's/^@allowed(\[512, 2048, 4096\])$/@allowed([1024, 2048])/' "$M"
expect flex "an instance size FC1 does not offer" "instanceMemoryMB allows 1024, 2048; FC1 instances are 512, 2048, 4096 MB"
fresh; sed -i 's/^        instanceMemoryMB: instanceMemoryMB$/        instanceMemoryMB: 1024/' "$R"
expect flex "a literal instance size FC1 does not offer" "instanceMemoryMB 1024 is outside what FC1 allows"
fresh; sed -i "s/^  sku: { name: 'FC1', tier: 'FlexConsumption' }$/  sku: { name: 'Y1', tier: 'Dynamic' }/" "$R"
expect flex "a plan that is not FC1" "plan 'plan' must have sku \{ name: 'FC1', tier: 'FlexConsumption' \}"
fresh; sed -i "s/^  tags: union(tags, { 'azd-service-name': 'api' })$/  tags: tags/" "$R"
expect flex "a site without the azd-service-name tag" "site 'app' needs the tag azd-service-name"
fresh; printf 'services:\n  web:\n    project: .\n    host: function\n' >>"$Y"
expect flex "an azure.yaml service no site is tagged for" "service 'web' has no site tagged azd-service-name 'web'"
fresh; sed -i 's/^  predeploy:$/  postprovision:/' "$Y"
expect flex "the deploy hook on postprovision (azd deploy would ship nothing)" \
  "exactly one predeploy or postdeploy hook must run scripts/deploy.sh \(found: postprovision\)"
fresh; sed -i 's/^      continueOnError: false$/      continueOnError: true/' "$Y"
expect flex "a deploy hook whose failure azd ignores" "continueOnError: true"
fresh; sed -i 's/^output AZURE_FUNCTION_APP_NAME /output FUNCTION_APP_NAME /' "$M"
expect flex "deploy.sh reading an output main.bicep does not declare" \
  "scripts/deploy.sh needs AZURE_FUNCTION_APP_NAME, which main.bicep does not output"
fresh; sed -i 's/"cosmosAllowKeys": { "value": false }/"cosmosAllowKeys": { "value": false },\n    "cosmosAccountNme": { "value": "x" }/' "$t/infra/main.parameters.json"
expect flex "a parameters file naming a param main.bicep lacks" \
  "infra/main.parameters.json sets 'cosmosAccountNme', which main.bicep does not declare"

# --- check.sh --------------------------------------------------------------
fresh; expect consistency untouched ""
fresh; sed -i "s#{ name: 'views', partitionKey: '/partitionKey' }#{ name: 'views', partitionKey: '/viewId' }#" "$R"
expect consistency "a partition key the code does not use" "container 'views': partition key /viewId in the templates"
fresh; sed -i "s/^var appSettings = {$/var appSettings = {\n  EVENT_CONTAINER: 'events'/" "$R"
expect consistency "a mistyped setting" "the templates set 'EVENT_CONTAINER', which nothing reads"
fresh; sed -i '/^  COSMOS_DATABASE: databaseName$/d' "$R"
expect consistency "a setting a binding needs, missing" "function.json refers to %COSMOS_DATABASE%"
fresh; printf 'output key string = cosmos.listKeys().primaryMasterKey\n' >>"$R"
expect consistency "a key read by the templates" "a key is used or written in the templates"
fresh; sed -i 's/^param cosmosAllowKeys bool = false$/param cosmosAllowKeys bool = true/' "$M"
expect consistency "Cosmos keys allowed by default" "Cosmos local authentication is not disabled by default"
fresh; sed -i '/^  ServiceBus__fullyQualifiedNamespace: /d' "$R"
expect consistency "the Service Bus namespace setting, missing" "connection 'ServiceBus' \\(serviceBus\\) needs ServiceBus__fullyQualifiedNamespace"
fresh; sed -i '/^  INTEGRATION_TOPIC: /d' "$R"
expect consistency "the topic setting the Publisher needs, missing" "function.json refers to %INTEGRATION_TOPIC%"
fresh; sed -i "s/^var azureServiceBusDataSender = '.*'$/var azureServiceBusDataSender = '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'/" "$R"
expect flex "an unknown role id under the sender's name" "'4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0' is not the documented id of any built-in role"
fresh; sed -i 's/, azureServiceBusDataSender)$/, monitoringMetricsPublisher)/' "$R"
expect flex "the sender role declared but not assigned" "var azureServiceBusDataSender is declared but no role assignment uses it"

echo "infra selftest: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
