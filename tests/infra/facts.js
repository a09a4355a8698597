'use strict';
// What Microsoft publishes about Flex Consumption apps, as data for flex.js:
// the resource types and API versions its samples deploy, the documented ids
// of the built-in roles the app's identity needs, the app settings and site
// properties the Flex Consumption plan deprecates, and the plan's scale and
// memory bounds. Every entry names its source; docs/infra.md lists them too.
// Facts only: no sample code is copied here or into infra/.
//
// To move infra/ to another API version: find a Microsoft sample or doc that
// uses that type@version for a Flex Consumption app, add it below with its
// source, then change the template.

const FLEX_SAMPLES = 'https://github.com/Azure-Samples/azure-functions-flex-consumption-samples/blob/9519a367daa710d4856f020fd905cef72b629f37';
const GO_QUICKSTART = 'https://github.com/Azure-Samples/functions-quickstart-msft-agent-framework-go-azd/blob/2f613c71130db5749ddea52db6062343012c8e95';
const TS_COSMOS_QUICKSTART = 'https://github.com/Azure-Samples/functions-quickstart-typescript-azd-cosmosdb/blob/7ca7b51f0c89665284ecb801a767edc0214fe326';
const LEARN = 'https://learn.microsoft.com/azure';
// Azure Verified Modules (Microsoft's published Bicep modules) for Service Bus.
const AVM_SB = 'https://github.com/Azure/bicep-registry-modules/blob/a5b1eafa886dda1bc46b0fe21a8cb63fba254f3f/avm/res/service-bus/namespace';
const AVM_SB_SUB = 'https://github.com/Azure/bicep-registry-modules/blob/a1bf9cf9067e44e6b53fec5c61bdaa72e0a9f5b1/avm/res/service-bus/namespace';

const src = {
  // Microsoft's canonical Flex Consumption ARM template (linked from the Flex docs).
  flexArm: `${FLEX_SAMPLES}/IaC/armtemplate/azuredeploy.json`,
  flexBicep: `${FLEX_SAMPLES}/IaC/bicep/main.bicep`,
  flexRbac: `${FLEX_SAMPLES}/IaC/bicep/rbac.bicep`,
  // An azd Flex Consumption quickstart with Cosmos DB and a user-assigned
  // identity; main.json is its compiled template, so it shows the API
  // versions its Azure Verified Modules deploy.
  goMain: `${GO_QUICKSTART}/infra/main.bicep`,
  goCompiled: `${GO_QUICKSTART}/infra/main.json`,
  goCosmos: `${GO_QUICKSTART}/infra/app/cosmos.bicep`,
  goRbac: `${GO_QUICKSTART}/infra/app/rbac.bicep`,
  tsCosmosDb: `${TS_COSMOS_QUICKSTART}/infra/app/db.bicep`,
  tsCosmosRbac: `${TS_COSMOS_QUICKSTART}/infra/app/rbac.bicep`,
  deprecations: `${LEARN}/azure-functions/functions-app-settings#flex-consumption-plan-deprecations`,
  flexPlan: `${LEARN}/azure-functions/flex-consumption-plan`,
  flexMigrate: `${LEARN}/azure-functions/migration/migrate-plan-consumption-to-flex`,
  storageRoles: `${LEARN}/role-based-access-control/built-in-roles/storage`,
  monitorRoles: `${LEARN}/role-based-access-control/built-in-roles/monitor`,
  cosmosRoles: `${LEARN}/cosmos-db/nosql/security/reference-data-plane-roles`,
  integrationRoles: `${LEARN}/role-based-access-control/built-in-roles/integration`,
  avmSbTopic: `${AVM_SB}/topic/main.bicep`,
  avmSbSubscription: `${AVM_SB_SUB}/topic/subscription/main.bicep`,
};

// Resource type and API version pairs used for Flex Consumption apps. Types
// compare case-insensitively (ARM's rule), versions exactly.
const apiVersions = [
  { type: 'Microsoft.Resources/resourceGroups', version: '2024-11-01', source: src.flexBicep },
  { type: 'Microsoft.Resources/resourceGroups', version: '2021-04-01', source: src.goMain },
  { type: 'Microsoft.ManagedIdentity/userAssignedIdentities', version: '2024-11-30', source: src.goCompiled },
  { type: 'Microsoft.Storage/storageAccounts', version: '2024-01-01', source: src.flexArm },
  { type: 'Microsoft.Storage/storageAccounts/blobServices', version: '2024-01-01', source: src.flexArm },
  { type: 'Microsoft.Storage/storageAccounts/blobServices/containers', version: '2024-01-01', source: src.flexArm },
  { type: 'Microsoft.Storage/storageAccounts', version: '2023-05-01', source: src.goCompiled },
  { type: 'Microsoft.Authorization/roleAssignments', version: '2022-04-01', source: src.flexArm },
  { type: 'Microsoft.OperationalInsights/workspaces', version: '2025-02-01', source: src.flexArm },
  { type: 'Microsoft.OperationalInsights/workspaces', version: '2022-10-01', source: src.goCompiled },
  { type: 'Microsoft.Insights/components', version: '2020-02-02', source: src.flexArm },
  { type: 'Microsoft.DocumentDB/databaseAccounts', version: '2024-05-15', source: src.goCosmos },
  { type: 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases', version: '2024-05-15', source: src.goCosmos },
  { type: 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers', version: '2024-05-15', source: src.goCosmos },
  { type: 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments', version: '2024-05-15', source: src.goRbac },
  { type: 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases', version: '2024-11-15', source: src.tsCosmosDb },
  { type: 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers', version: '2024-11-15', source: src.tsCosmosDb },
  { type: 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments', version: '2024-11-15', source: src.tsCosmosRbac },
  { type: 'Microsoft.Web/serverfarms', version: '2024-04-01', source: src.flexArm },
  { type: 'Microsoft.Web/sites', version: '2024-04-01', source: src.flexArm },
  { type: 'Microsoft.Web/sites/config', version: '2024-04-01', source: src.goCompiled },
  { type: 'Microsoft.ServiceBus/namespaces', version: '2022-10-01-preview', source: src.avmSbTopic },
  { type: 'Microsoft.ServiceBus/namespaces/topics', version: '2022-10-01-preview', source: src.avmSbTopic },
  { type: 'Microsoft.ServiceBus/namespaces/topics/subscriptions', version: '2021-11-01', source: src.avmSbSubscription },
];

// Built-in roles by their documented names. In the templates each id is bound
// to a variable named after its role, in lower camel case (flex.js derives the
// name: 'Storage Blob Data Owner' -> storageBlobDataOwner).
const roles = [
  { name: 'Storage Blob Data Owner', id: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b', source: `${src.storageRoles}#storage-blob-data-owner; ${src.flexRbac}` },
  { name: 'Storage Queue Data Contributor', id: '974c5e8b-45b9-4653-ba55-5f855dd0fb88', source: `${src.storageRoles}#storage-queue-data-contributor; ${src.flexRbac}` },
  { name: 'Storage Table Data Contributor', id: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3', source: `${src.storageRoles}#storage-table-data-contributor; ${src.flexRbac}` },
  { name: 'Monitoring Metrics Publisher', id: '3913510d-42f4-4e42-8a64-420c390055eb', source: `${src.monitorRoles}#monitoring-metrics-publisher; ${src.flexRbac}` },
  { name: 'Cosmos DB Built-in Data Reader', id: '00000000-0000-0000-0000-000000000001', source: src.cosmosRoles },
  { name: 'Cosmos DB Built-in Data Contributor', id: '00000000-0000-0000-0000-000000000002', source: `${src.cosmosRoles}; ${src.goRbac}` },
  { name: 'Azure Service Bus Data Sender', id: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39', source: `${src.integrationRoles}#azure-service-bus-data-sender; ${src.avmSbTopic}` },
];

// The roles the app's identity must hold: the host's storage (blobs, queues,
// tables, as in Microsoft's Flex rbac.bicep), Application Insights with Entra
// authentication, the Cosmos DB data plane (the handler and the trigger), and
// sending to Service Bus (the Publisher's output binding).
const requiredRoles = [
  'Storage Blob Data Owner',
  'Storage Queue Data Contributor',
  'Storage Table Data Contributor',
  'Monitoring Metrics Publisher',
  'Cosmos DB Built-in Data Contributor',
  'Azure Service Bus Data Sender',
];

// "Flex Consumption plan deprecations": app settings and site properties that
// are deprecated in the plan and "shouldn't be used when creating function app
// resources" (source: src.deprecations; the table as of ms.date 07/11/2025).
const deprecatedAppSettings = [
  'ENABLE_ORYX_BUILD',
  'FUNCTIONS_EXTENSION_VERSION',
  'FUNCTIONS_WORKER_RUNTIME',
  'FUNCTIONS_WORKER_RUNTIME_VERSION',
  'FUNCTIONS_MAX_HTTP_CONCURRENCY',
  'FUNCTIONS_WORKER_PROCESS_COUNT',
  'FUNCTIONS_WORKER_DYNAMIC_CONCURRENCY_ENABLED',
  'SCM_DO_BUILD_DURING_DEPLOYMENT',
  'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING',
  'WEBSITE_CONTENTOVERVNET',
  'WEBSITE_CONTENTSHARE',
  'WEBSITE_DNS_SERVER',
  'WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT',
  'WEBSITE_NODE_DEFAULT_VERSION',
  'WEBSITE_RUN_FROM_PACKAGE',
  'WEBSITE_SKIP_CONTENTSHARE_VALIDATION',
  'WEBSITE_VNET_ROUTE_ALL',
];
const deprecatedSiteProperties = [
  'alwaysOn',
  'containerSize',
  'ftpsState',
  'isReserved',
  'IsXenon',
  'javaVersion',
  'LinuxFxVersion',
  'netFrameworkVersion',
  'powerShellVersion',
  'functionAppScaleLimit',
  'preWarmedInstanceCount',
  'use32BitWorkerProcess',
  'vnetBackupRestoreEnabled',
  'vnetContentShareEnabled',
  'vnetImagePullEnabled',
  'vnetRouteAllEnabled',
  'windowsFxVersion',
];

// The FC1 plan's bounds. maximumInstanceCount: "The lowest maximum scale is
// currently 40. The highest currently supported value is 1000." (src.flexPlan);
// newer text allows 1 to 1,000 but warns that below 40 "for HTTP function
// apps can cause frequent request failures" (src.flexMigrate), and this app
// serves HTTP, so 40 stays the floor. Default 100 (src.flexMigrate,
// src.flexArm). Instance memory: 512, 2048 or 4096 MB, 2048 by default
// (src.flexPlan; @allowed in src.flexBicep).
const scale = {
  maximumInstanceCount: { min: 40, max: 1000, platformDefault: 100, source: `${src.flexPlan}; ${src.flexMigrate}; ${src.flexBicep}` },
  instanceMemoryMB: { allowed: [512, 2048, 4096], platformDefault: 2048, source: `${src.flexPlan}; ${src.flexBicep}` },
};

module.exports = { src, apiVersions, roles, requiredRoles, deprecatedAppSettings, deprecatedSiteProperties, scale };
