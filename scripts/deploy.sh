#!/usr/bin/env sh
# azd's predeploy hook (azure.yaml), so it runs on `azd deploy` and on the
# deploy step of `azd up`: builds the portable package and publishes it to the
# function app that infra/ created. azd passes the Bicep outputs
# (AZURE_RESOURCE_GROUP, AZURE_FUNCTION_APP_NAME) as environment variables.
#
# Any failure stops it with a non-zero status, and azd with it. The zip is
# removed before the build, so a zip from an earlier build is never published.
# The publish is retried: a role assignment made by the same `azd up` (the
# app's identity on the deployment container) can take a minute or more to
# apply. DEPLOY_ATTEMPTS (5) and DEPLOY_RETRY_SECONDS (30) tune the retries.
set -eu
cd "$(dirname "$0")/.."
: "${AZURE_RESOURCE_GROUP:?run through azd (azd deploy / azd up)}"
: "${AZURE_FUNCTION_APP_NAME:?run through azd (azd deploy / azd up)}"
attempts=${DEPLOY_ATTEMPTS:-5}
delay=${DEPLOY_RETRY_SECONDS:-30}
zip=build/package/functionapp.zip

rm -f "$zip"
make package
if [ ! -s "$zip" ]; then
  echo "deploy: make package succeeded but left no $zip; nothing deployed" >&2
  exit 1
fi

# Microsoft's documented zip deploy for Flex Consumption. For a Flex app the
# CLI posts the zip to the app's /api/publish endpoint; --build-remote false
# says what a prebuilt native package needs (no build on Azure's side).
n=1
while ! az functionapp deployment source config-zip \
  --resource-group "$AZURE_RESOURCE_GROUP" --name "$AZURE_FUNCTION_APP_NAME" \
  --src "$zip" --build-remote false; do
  if [ "$n" -ge "$attempts" ]; then
    echo "deploy: publishing $zip to $AZURE_FUNCTION_APP_NAME failed $n times; giving up" >&2
    exit 1
  fi
  echo "deploy: publish attempt $n of $attempts failed; retrying in ${delay}s" \
    "(a new role assignment can take a few minutes to apply)" >&2
  sleep "$delay"
  n=$((n + 1))
done
echo "deploy: published to $AZURE_FUNCTION_APP_NAME${AZURE_FUNCTION_APP_URL:+; try $AZURE_FUNCTION_APP_URL/api/health}"
