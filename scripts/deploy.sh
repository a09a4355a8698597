#!/usr/bin/env sh
# azd's postprovision hook: build the portable package and deploy it to the
# function app that infra/ created (zip deployment). azd exports the Bicep
# outputs (AZURE_RESOURCE_GROUP, AZURE_FUNCTION_APP_NAME) to this script.
set -eu
cd "$(dirname "$0")/.."
: "${AZURE_RESOURCE_GROUP:?run through azd (azd up / azd provision)}"
: "${AZURE_FUNCTION_APP_NAME:?run through azd (azd up / azd provision)}"
make package
az functionapp deployment source config-zip \
  --resource-group "$AZURE_RESOURCE_GROUP" --name "$AZURE_FUNCTION_APP_NAME" \
  --src build/package/functionapp.zip
echo "deployed: ${AZURE_FUNCTION_APP_URL:-}/api/health"
