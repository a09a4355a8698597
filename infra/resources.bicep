// The resources of one environment: storage, monitoring, Cosmos DB, the
// Service Bus topic of the integration events, the identity the app runs as,
// its role assignments, and the Flex Consumption function app with the
// settings the handler and the bindings read.
param location string
param tags object
param token string
param cosmosCapacityMode string
param cosmosThroughput int
param cosmosAllowKeys bool
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int
@allowed([512, 2048, 4096])
param instanceMemoryMB int
param functionAppName string = ''
param cosmosAccountName string = ''

// Names the code uses: keep them in step with handler/util/config.c (defaults)
// and handler/store/store_cosmos.c (partition keys). tests/infra/check.sh checks.
var databaseName = 'eventsourcing'
var containers = [
  { name: 'events', partitionKey: '/streamId' }
  { name: 'views', partitionKey: '/partitionKey' }
  { name: 'leases', partitionKey: '/id' }
  { name: 'deadletters', partitionKey: '/streamId' }
]
var deploymentContainerName = 'app-package'
// The integration events (docs/integration-events.md): the topic the Publisher's
// output binding sends to, and the subscription of the sample consumer.
var integrationTopicName = 'todo-events'
var integrationSubscriptionName = 'todo-consumer'

// Built-in role ids, each named after its role as documented (tests/infra/flex.js
// checks every id against that name).
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var storageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'
var cosmosDbBuiltInDataContributor = '00000000-0000-0000-0000-000000000002'
var azureServiceBusDataSender = '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: 'id-${token}'
  location: location
  tags: tags
}

resource storage 'Microsoft.Storage/storageAccounts@2024-01-01' = {
  name: 'st${token}'
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
  }
}

resource blobs 'Microsoft.Storage/storageAccounts/blobServices@2024-01-01' = {
  parent: storage
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2024-01-01' = {
  parent: blobs
  name: deploymentContainerName
}

resource storageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for role in [storageBlobDataOwner, storageQueueDataContributor, storageTableDataContributor]: {
  name: guid(storage.id, identity.id, role)
  scope: storage
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
  }
}]

resource logs 'Microsoft.OperationalInsights/workspaces@2025-02-01' = {
  name: 'log-${token}'
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 30
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-${token}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logs.id
    DisableLocalAuth: true
  }
}

resource insightsRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(insights.id, identity.id, monitoringMetricsPublisher)
  scope: insights
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
  }
}

resource cosmos 'Microsoft.DocumentDB/databaseAccounts@2024-05-15' = {
  name: empty(cosmosAccountName) ? 'cosmos-${token}' : cosmosAccountName
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    consistencyPolicy: { defaultConsistencyLevel: 'Session' }
    locations: [ { locationName: location, failoverPriority: 0, isZoneRedundant: false } ]
    capabilities: cosmosCapacityMode == 'serverless' ? [ { name: 'EnableServerless' } ] : []
    disableLocalAuth: !cosmosAllowKeys
    minimalTlsVersion: 'Tls12'
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-05-15' = {
  parent: cosmos
  name: databaseName
  properties: {
    resource: { id: databaseName }
    options: cosmosCapacityMode == 'serverless' ? {} : { throughput: cosmosThroughput }
  }
}

resource cosmosContainers 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-05-15' = [for c in containers: {
  parent: database
  name: c.name
  properties: {
    resource: {
      id: c.name
      partitionKey: { paths: [ c.partitionKey ], kind: 'Hash', version: 2 }
    }
  }
}]

// Data-plane access for the app's identity: read and write items, query,
// read the change feed. (Creating containers stays with this template.)
resource cosmosRole 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-05-15' = {
  parent: cosmos
  name: guid(cosmos.id, identity.id, cosmosDbBuiltInDataContributor)
  properties: {
    principalId: identity.properties.principalId
    roleDefinitionId: '${cosmos.id}/sqlRoleDefinitions/${cosmosDbBuiltInDataContributor}'
    scope: cosmos.id
  }
}

// Service Bus: Standard is the lowest tier with topics. Keys are off: the app
// sends with its identity, consumers receive with theirs.
resource bus 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' = {
  name: 'sb-${token}'
  location: location
  tags: tags
  sku: { name: 'Standard', tier: 'Standard' }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
  }
}

// Duplicate detection is on, but cannot drop a redelivered batch: the output
// binding does not let a custom handler set the message id (docs/protocol.md).
// Consumers deduplicate by the CloudEvent id.
resource integrationTopic 'Microsoft.ServiceBus/namespaces/topics@2022-10-01-preview' = {
  parent: bus
  name: integrationTopicName
  properties: {
    requiresDuplicateDetection: true
    duplicateDetectionHistoryTimeWindow: 'PT10M'
    defaultMessageTimeToLive: 'P14D'
  }
}

resource integrationSubscription 'Microsoft.ServiceBus/namespaces/topics/subscriptions@2021-11-01' = {
  parent: integrationTopic
  name: integrationSubscriptionName
  properties: {
    maxDeliveryCount: 10
    deadLetteringOnMessageExpiration: true
    lockDuration: 'PT1M'
  }
}

// The app only sends (the Publisher's output binding).
resource busRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(bus.id, identity.id, azureServiceBusDataSender)
  scope: bus
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', azureServiceBusDataSender)
  }
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: 'plan-${token}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { name: 'FC1', tier: 'FlexConsumption' }
  properties: { reserved: true }
}

// The app settings: what handler/util/config.c and the function.json files
// read. Keys only; Entra identities everywhere.
// settings:begin
var appSettings = {
  AzureWebJobsStorage__accountName: storage.name
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identity.properties.clientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: insights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identity.properties.clientId};Authorization=AAD'
  CosmosDB__accountEndpoint: cosmos.properties.documentEndpoint
  CosmosDB__credential: 'managedidentity'
  CosmosDB__clientId: identity.properties.clientId
  COSMOS_DATABASE: databaseName
  EVENTS_CONTAINER: containers[0].name
  VIEWS_CONTAINER: containers[1].name
  LEASES_CONTAINER: containers[2].name
  DEADLETTERS_CONTAINER: containers[3].name
  ServiceBus__fullyQualifiedNamespace: '${bus.name}.servicebus.windows.net'
  ServiceBus__credential: 'managedidentity'
  ServiceBus__clientId: identity.properties.clientId
  INTEGRATION_TOPIC: integrationTopic.name
}
// settings:end

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: empty(functionAppName) ? 'func-${token}' : functionAppName
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identity.id}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identity.id
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: { name: 'custom', version: '1.0' }
    }
    siteConfig: {
      minTlsVersion: '1.2'
    }
  }
  dependsOn: [ storageRoles, cosmosRole, insightsRole, busRole ]
}

resource settings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: app
  name: 'appsettings'
  properties: appSettings
}

output functionAppName string = app.name
output functionAppUrl string = 'https://${app.properties.defaultHostName}'
output cosmosEndpoint string = cosmos.properties.documentEndpoint
output serviceBusNamespace string = '${bus.name}.servicebus.windows.net'
output integrationTopic string = integrationTopic.name
output integrationSubscription string = integrationSubscription.name
