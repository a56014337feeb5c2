// Data-plane role assignments of the function identity and of the deploying user, each at the
// narrowest scope that works: the IoT hub, the event hub, the storage account, the App Insights component.
// Role definition ids are the built-in ones listed in https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
// (test/infra/builtin-roles.ts holds its own copy, written from that page, to check these).
@description('Principal id of the function app identity.')
param functionPrincipalId string

@description('Object id of the user (or service principal) running azd; empty to skip its assignment.')
param deployerPrincipalId string = ''

@description('Kind of principal that runs azd.')
@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param deployerPrincipalType string = 'User'

@description('Grant the function a custom role limited to what its functions do (direct methods, twins, query, jobs; the default), instead of IoT Hub Data Contributor.')
param directMethodsOnlyRole bool = true

@description('Name of the IoT hub.')
param iotHubName string

@description('Name of the Event Hubs namespace.')
param eventHubsNamespaceName string

@description('Name of the event hub the function reads.')
param eventHubName string

@description('Name of the storage account of the function app.')
param storageAccountName string

@description('Name of the Application Insights component.')
param applicationInsightsName string

// Built-in role definition ids (same in every tenant).
var roles = {
  iotHubDataContributor: '4fc6c259-987e-4a07-842e-c321cc9d413f'
  iotHubRegistryContributor: '4ea46cd5-c1b2-4a8e-910b-273211f9ce47'
  eventHubsDataReceiver: 'a638d3c7-ab3a-418d-83e6-5f17a39d4fde'
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

resource iotHub 'Microsoft.Devices/IotHubs@2023-06-30' existing = {
  name: iotHubName
}

resource eventHubsNamespace 'Microsoft.EventHub/namespaces@2026-01-01' existing = {
  name: eventHubsNamespaceName

  resource eventHub 'eventhubs' existing = {
    name: eventHubName
  }
}

resource storage 'Microsoft.Storage/storageAccounts@2025-01-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// Custom role: what the functions do on devices, and nothing else (no registry writes, no keys). Its name and id
// keep their first wording (a role definition's id cannot change in place; existing deployments update it).
// Twins: read and write (getDeviceTwin, updateDeviceTwin; twins/read also answers queries over twins). Jobs: read
// and write (fan-out over many devices schedules an IoT Hub job; its status is read back). Assignable in this
// resource group only.
resource directMethodsInvoker 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (directMethodsOnlyRole) {
  name: guid(resourceGroup().id, 'iothub-direct-methods-invoker')
  properties: {
    roleName: 'IoT Hub Direct Method Invoker (${resourceGroup().name}, ${uniqueString(resourceGroup().id)})'
    description: 'Can invoke direct methods, read and write device twins, query them, and schedule and read jobs on the IoT hubs in this resource group, and nothing else.'
    type: 'customRole'
    permissions: [
      {
        actions: []
        notActions: []
        dataActions: [
          'Microsoft.Devices/IotHubs/directMethods/invoke/action'
          'Microsoft.Devices/IotHubs/twins/read'
          'Microsoft.Devices/IotHubs/twins/write'
          'Microsoft.Devices/IotHubs/jobs/read'
          'Microsoft.Devices/IotHubs/jobs/write'
        ]
        notDataActions: []
      }
    ]
    assignableScopes: [
      resourceGroup().id
    ]
  }
}

var functionIotHubRoleId = directMethodsOnlyRole
  ? directMethodsInvoker.id
  : subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.iotHubDataContributor)

// The two possible assignments of the function on the hub have different names (an assignment's role cannot be
// changed in place). ARM deploys incrementally and never deletes the one no longer chosen, so main.bicep outputs
// its id and the postprovision hook deletes it: switching roles leaves exactly one assignment.
var narrowAssignmentName = guid(iotHub.id, functionPrincipalId, 'direct-methods-invoker')
var broadAssignmentName = guid(iotHub.id, functionPrincipalId, roles.iotHubDataContributor)

// Function -> IoT hub: invoke direct methods, read and write twins, query, schedule and read jobs.
resource functionIotHub 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: directMethodsOnlyRole ? narrowAssignmentName : broadAssignmentName
  scope: iotHub
  properties: {
    description: 'Function app invokes direct methods'
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: functionIotHubRoleId
  }
}

// Function -> event hub: read routed telemetry (Event Hubs trigger).
resource functionEventHub 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(eventHubsNamespace::eventHub.id, functionPrincipalId, roles.eventHubsDataReceiver)
  scope: eventHubsNamespace::eventHub
  properties: {
    description: 'Function app reads telemetry routed from the IoT hub'
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.eventHubsDataReceiver)
  }
}

// Function -> storage: host storage (leases, keys, checkpoints) and the deployment package.
resource functionStorage 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, functionPrincipalId, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    description: 'Function app host storage and deployment package'
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
  }
}

// Function -> Application Insights: Entra-authenticated telemetry ingestion.
resource functionAppInsights 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, functionPrincipalId, roles.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    description: 'Function app sends telemetry with Entra authentication'
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
  }
}

// Deploying user -> IoT hub registry: the postprovision hook registers the simulated device.
resource deployerIotHubRegistry 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(iotHub.id, deployerPrincipalId, roles.iotHubRegistryContributor)
  scope: iotHub
  properties: {
    description: 'Deploying user registers the simulated device (azd postprovision hook)'
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.iotHubRegistryContributor)
  }
}

@description('Id of the function\'s assignment on the hub for the role not chosen (may not exist); the postprovision hook deletes it.')
output unusedFunctionIotHubRoleAssignmentId string = extensionResourceId(
  iotHub.id,
  'Microsoft.Authorization/roleAssignments',
  directMethodsOnlyRole ? broadAssignmentName : narrowAssignmentName
)
