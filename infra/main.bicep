// Event sourcing on Azure Functions + Cosmos DB: everything `azd up` creates.
// Subscription scope: a resource group, and resources.bicep inside it.
targetScope = 'subscription'

@minLength(1)
@maxLength(40)
@description('Name of the azd environment; names and tags derive from it.')
param environmentName string

@minLength(1)
@description('Azure region for every resource.')
param location string

@description('Cosmos DB capacity mode: serverless (default) or provisioned throughput.')
@allowed(['serverless', 'provisioned'])
param cosmosCapacityMode string = 'serverless'

@description('Shared database throughput (RU/s) when cosmosCapacityMode is provisioned.')
@minValue(400)
param cosmosThroughput int = 400

@description('Allow Cosmos DB keys (local authentication). Off: only Entra identities get in.')
param cosmosAllowKeys bool = false

// Flex Consumption limits (docs/infra.md; tests/infra/flex.js holds these to
// Microsoft's published bounds): at most 1000 instances, and not below 40 for
// an app that serves HTTP; instances of 512, 2048 or 4096 MB.
@description('Largest number of instances the Flex Consumption plan may scale to (40 to 1000).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory of each instance, in MB.')
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

@description('Names; empty means derived from the environment (rg-<env>, func-<token>, cosmos-<token>).')
param resourceGroupName string = ''
param functionAppName string = ''
param cosmosAccountName string = ''

var tags = { 'azd-env-name': environmentName }
var token = toLower(uniqueString(subscription().id, environmentName, location))

resource rg 'Microsoft.Resources/resourceGroups@2024-11-01' = {
  name: empty(resourceGroupName) ? 'rg-${environmentName}' : resourceGroupName
  location: location
  tags: tags
}

module resources 'resources.bicep' = {
  name: 'resources'
  scope: rg
  params: {
    location: location
    tags: tags
    token: token
    cosmosCapacityMode: cosmosCapacityMode
    cosmosThroughput: cosmosThroughput
    cosmosAllowKeys: cosmosAllowKeys
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    functionAppName: functionAppName
    cosmosAccountName: cosmosAccountName
  }
}

output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = resources.outputs.functionAppName
output AZURE_FUNCTION_APP_URL string = resources.outputs.functionAppUrl
output AZURE_COSMOS_ENDPOINT string = resources.outputs.cosmosEndpoint
output AZURE_SERVICE_BUS_NAMESPACE string = resources.outputs.serviceBusNamespace
output INTEGRATION_TOPIC string = resources.outputs.integrationTopic
output INTEGRATION_SUBSCRIPTION string = resources.outputs.integrationSubscription
