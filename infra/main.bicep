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

@description('Largest number of instances the Flex Consumption plan may scale to.')
param maximumInstanceCount int = 40

@description('Names; empty means derived from the environment (rg-<env>, func-<token>, cosmos-<token>).')
param resourceGroupName string = ''
param functionAppName string = ''
param cosmosAccountName string = ''

var tags = { 'azd-env-name': environmentName }
var token = toLower(uniqueString(subscription().id, environmentName, location))

resource rg 'Microsoft.Resources/resourceGroups@2022-09-01' = {
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
    functionAppName: functionAppName
    cosmosAccountName: cosmosAccountName
  }
}

output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = resources.outputs.functionAppName
output AZURE_FUNCTION_APP_URL string = resources.outputs.functionAppUrl
output AZURE_COSMOS_ENDPOINT string = resources.outputs.cosmosEndpoint
