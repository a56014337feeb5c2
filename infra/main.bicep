// azd entry point: creates the resource group and everything in it.
// Keyless wherever Azure allows: the only key left is the simulated device's own SAS key, which
// the postprovision hook writes to a git-ignored file on the deploying machine.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; used for the resource group name, the azd-env-name tag and the unique suffix.')
param environmentName string

@minLength(1)
@description('Azure region of every resource. It must offer Flex Consumption function apps.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Object id of the user (or service principal) running azd. It gets IoT Hub Registry Contributor on the hub so that the postprovision hook can register the simulated device. Empty: no assignment.')
param principalId string = ''

@description('Kind of principal in principalId.')
@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param principalType string = 'User'

@description('IoT Hub tier: F1 (free, one per subscription, 8,000 messages a day), S1, S2 or S3. Basic tiers are rejected: they have no direct methods.')
@allowed([
  'F1'
  'S1'
  'S2'
  'S3'
])
param iotHubSku string = 'S1'

@description('Enable the hub-level shared access policies (iothubowner, service, ...) for tools that read the built-in endpoint with them. Device SAS stays enabled either way.')
param iotHubLocalAuthEnabled bool = false

@description('Give the function a custom role that can only invoke direct methods instead of IoT Hub Data Contributor. Creating a custom role needs Owner or User Access Administrator rights on the subscription.')
param directMethodsOnlyRole bool = false

@description('Event Hubs tier. Basic is cheaper but has only the $Default consumer group.')
@allowed([
  'Basic'
  'Standard'
])
param eventHubsSku string = 'Standard'

@description('Node.js version of the function app.')
@allowed([
  '20'
  '22'
])
param nodeVersion string = '22'

@description('Name of the resource group; default rg-<environmentName>.')
param resourceGroupName string = ''

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var serviceName = 'functions'
var consumerGroupName = 'functions'
var eventHubName = 'telemetry'
var functionAppName = 'func-${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(toLower(uniqueString(functionAppName, resourceToken)), 7)}'
var iotHubName = 'iot-${resourceToken}'
var eventHubsNamespaceName = 'evhns-${resourceToken}'
var storageAccountName = 'st${resourceToken}'
var applicationInsightsName = 'appi-${resourceToken}'

resource rg 'Microsoft.Resources/resourceGroups@2025-04-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : 'rg-${environmentName}'
  location: location
  tags: tags
}

module functionIdentity 'identity/user-assigned-identity.bicep' = {
  name: 'function-identity'
  scope: rg
  params: {
    name: 'id-func-${resourceToken}'
    location: location
    tags: tags
  }
}

module iotHubIdentity 'identity/user-assigned-identity.bicep' = {
  name: 'iothub-identity'
  scope: rg
  params: {
    name: 'id-iot-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'monitoring/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: applicationInsightsName
    location: location
    tags: tags
  }
}

module storage 'storage/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: storageAccountName
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
  }
}

module eventHubs 'messaging/eventhubs.bicep' = {
  name: 'eventhubs'
  scope: rg
  params: {
    namespaceName: eventHubsNamespaceName
    location: location
    tags: tags
    sku: eventHubsSku
    eventHubName: eventHubName
    consumerGroupName: consumerGroupName
    partitionCount: 4
    retentionInDays: 1
  }
}

module iotHubRoutingRole 'security/iothub-routing-role.bicep' = {
  name: 'iothub-routing-role'
  scope: rg
  params: {
    iotHubPrincipalId: iotHubIdentity.outputs.principalId
    eventHubsNamespaceName: eventHubsNamespaceName
    eventHubName: eventHubName
  }
  dependsOn: [
    eventHubs
  ]
}

module iotHub 'iot/iothub.bicep' = {
  name: 'iothub'
  scope: rg
  params: {
    name: iotHubName
    location: location
    tags: tags
    sku: iotHubSku
    localAuthEnabled: iotHubLocalAuthEnabled
    identityId: iotHubIdentity.outputs.id
    eventHubsFullyQualifiedNamespace: eventHubs.outputs.fullyQualifiedNamespace
    eventHubName: eventHubs.outputs.eventHubName
    consumerGroupName: consumerGroupName
  }
  dependsOn: [
    iotHubRoutingRole
  ]
}

module roleAssignments 'security/role-assignments.bicep' = {
  name: 'role-assignments'
  scope: rg
  params: {
    functionPrincipalId: functionIdentity.outputs.principalId
    deployerPrincipalId: principalId
    deployerPrincipalType: principalType
    directMethodsOnlyRole: directMethodsOnlyRole
    iotHubName: iotHubName
    eventHubsNamespaceName: eventHubsNamespaceName
    eventHubName: eventHubName
    storageAccountName: storageAccountName
    applicationInsightsName: applicationInsightsName
  }
  dependsOn: [
    iotHub
    eventHubs
    storage
    monitoring
  ]
}

module functionApp 'app/functionapp.bicep' = {
  name: 'functionapp'
  scope: rg
  params: {
    name: functionAppName
    planName: 'plan-${resourceToken}'
    location: location
    tags: tags
    serviceName: serviceName
    nodeVersion: nodeVersion
    identityId: functionIdentity.outputs.id
    identityClientId: functionIdentity.outputs.clientId
    storageAccountName: storageAccountName
    deploymentContainerName: deploymentContainerName
    applicationInsightsName: applicationInsightsName
    iotHubHostName: iotHub.outputs.hostName
    eventHubsFullyQualifiedNamespace: eventHubs.outputs.fullyQualifiedNamespace
    eventHubName: eventHubs.outputs.eventHubName
    eventHubConsumerGroup: eventHubs.outputs.consumerGroupName
  }
  // Start the app once its identity can reach storage, the hubs and App Insights.
  dependsOn: [
    storage
    monitoring
    roleAssignments
  ]
}

// Outputs become azd environment values (and environment variables of the hooks). No secrets here.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_URL string = 'https://${functionApp.outputs.defaultHostName}'
output IOTHUB_NAME string = iotHub.outputs.name
output IOTHUB_HOST_NAME string = iotHub.outputs.hostName
output IOTHUB_EVENTS_FULLY_QUALIFIED_NAMESPACE string = eventHubs.outputs.fullyQualifiedNamespace
output IOTHUB_EVENTS_HUB_NAME string = eventHubs.outputs.eventHubName
output IOTHUB_EVENTS_CONSUMER_GROUP string = eventHubs.outputs.consumerGroupName
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output LOG_ANALYTICS_WORKSPACE_NAME string = monitoring.outputs.logAnalyticsName
