// azd entry point: creates the resource group and everything in it.
// Keyless wherever Azure allows: the only key left is the simulated device's own SAS key, which
// the postprovision hook writes to a git-ignored file on the deploying machine.
// docs/deploy.md explains each choice below and what to do when a step fails.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; used for the resource group name, the azd-env-name tag and the unique suffix.')
param environmentName string

// Regions that offer Flex Consumption, as listed by the official template
// (Azure-Samples/functions-quickstart-typescript-azd, infra/main.bicep); the live list is
// `az functionapp list-flexconsumption-locations`. IoT Hub and Event Hubs are offered in all of them.
@minLength(1)
@description('Azure region of every resource. It must offer Flex Consumption function apps.')
@allowed([
  'australiaeast'
  'australiasoutheast'
  'brazilsouth'
  'canadacentral'
  'centralindia'
  'centralus'
  'eastasia'
  'eastus'
  'eastus2'
  'eastus2euap'
  'francecentral'
  'germanywestcentral'
  'italynorth'
  'japaneast'
  'koreacentral'
  'northcentralus'
  'northeurope'
  'norwayeast'
  'southafricanorth'
  'southcentralus'
  'southeastasia'
  'southindia'
  'spaincentral'
  'swedencentral'
  'uaenorth'
  'uksouth'
  'ukwest'
  'westcentralus'
  'westeurope'
  'westus'
  'westus2'
  'westus3'
])
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Object id of the user (or service principal) running azd. It gets IoT Hub Registry Contributor on the hub so that the postprovision hook can register the simulated device. Empty: no assignment.')
param principalId string = ''

@description('Kind of principal in principalId. azd fills it in from the signed-in account (main.parameters.json).')
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

@description('IoT Hub minimum TLS 1.2: auto (only in the regions the IoT Hub docs list for it), true or false. Fixed when the hub is created.')
@allowed([
  'auto'
  'true'
  'false'
])
param iotHubEnforceTls12 string = 'auto'

@description('Give the function a custom role that can only invoke direct methods (default) instead of IoT Hub Data Contributor. Creating a custom role needs Owner or User Access Administrator.')
param directMethodsOnlyRole bool = true

@description('Event Hubs tier. Basic is cheaper but has only the $Default consumer group.')
@allowed([
  'Basic'
  'Standard'
])
param eventHubsSku string = 'Standard'

@description('Node.js version of the function app: 22 (GA) or 24 (preview on Azure Functions).')
@allowed([
  '22'
  '24'
])
param nodeVersion string = '22'

@description('Private networking: storage without public access, reached through a private endpoint, and the app integrated with a subnet.')
param privateNetworking bool = false

@description('Principal id of the hub identity whose Event Hubs route a previous deployment of this environment created (azd keeps the output IOTHUB_ROUTING_PRINCIPAL_ID). Empty on a first deployment.')
param iotHubRoutingPrincipalId string = ''

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

// "This feature is only supported in these regions" (TLS 1.2 enforcement), and minTlsVersion is read-only after
// creation: https://learn.microsoft.com/azure/iot-hub/iot-hub-tls-support
var iotHubTls12Regions = [
  'eastus'
  'southcentralus'
  'westus2'
  'usgovarizona'
  'usgovvirginia'
]
var iotHubMinTls12 = iotHubEnforceTls12 == 'true' || (iotHubEnforceTls12 == 'auto' && contains(
  iotHubTls12Regions,
  location
))

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

module network 'network/vnet.bicep' = if (privateNetworking) {
  name: 'network'
  scope: rg
  params: {
    name: 'vnet-${resourceToken}'
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
    privateNetworking: privateNetworking
  }
}

module storagePrivateEndpoint 'network/storage-private-endpoint.bicep' = if (privateNetworking) {
  name: 'storage-private-endpoint'
  scope: rg
  params: {
    location: location
    tags: tags
    storageAccountName: storage.outputs.name
    virtualNetworkId: network.?outputs.id ?? ''
    subnetId: network.?outputs.privateEndpointSubnetId ?? ''
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

// The hub's Event Hubs route is validated when it is added, with the hub's identity: assign the role first,
// create the hub (several minutes) without the route, then add the route in a second step
// (https://learn.microsoft.com/azure/iot-hub/iot-hub-managed-identity: "wait a few minutes for the role assignment
// to propagate"). Once a deployment has added the route for this identity, later ones keep it in the first step
// too, so that re-provisioning never removes it, even for a moment.
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
    enforceTls12: iotHubMinTls12
    identityId: iotHubIdentity.outputs.id
    eventHubsFullyQualifiedNamespace: eventHubs.outputs.fullyQualifiedNamespace
    eventHubName: eventHubs.outputs.eventHubName
    consumerGroupName: consumerGroupName
    routeToEventHubs: iotHubRoutingPrincipalId == iotHubIdentity.outputs.principalId
  }
  dependsOn: [
    iotHubRoutingRole
  ]
}

module iotHubRouting 'iot/iothub.bicep' = {
  name: 'iothub-routing'
  scope: rg
  // Same parameters as above (keep them in step: the hub's TLS minimum and partitions cannot change).
  params: {
    name: iotHubName
    location: location
    tags: tags
    sku: iotHubSku
    localAuthEnabled: iotHubLocalAuthEnabled
    enforceTls12: iotHubMinTls12
    identityId: iotHubIdentity.outputs.id
    eventHubsFullyQualifiedNamespace: eventHubs.outputs.fullyQualifiedNamespace
    eventHubName: eventHubs.outputs.eventHubName
    consumerGroupName: consumerGroupName
    routeToEventHubs: true
  }
  dependsOn: [
    iotHub
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
    virtualNetworkSubnetId: network.?outputs.appSubnetId ?? ''
  }
  // Start the app once its identity can reach storage (through the private endpoint in private mode), the hubs
  // and App Insights.
  dependsOn: [
    storage
    storagePrivateEndpoint
    monitoring
    roleAssignments
  ]
}

module diagnostics 'monitoring/diagnostic-settings.bicep' = {
  name: 'diagnostic-settings'
  scope: rg
  params: {
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsId
    iotHubName: iotHubName
    eventHubsNamespaceName: eventHubsNamespaceName
    storageAccountName: storageAccountName
  }
  dependsOn: [
    iotHubRouting
    eventHubs
    storage
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
output IOTHUB_MIN_TLS_VERSION string = iotHubMinTls12 ? '1.2' : 'not enforced'
output IOTHUB_EVENTS_FULLY_QUALIFIED_NAMESPACE string = eventHubs.outputs.fullyQualifiedNamespace
output IOTHUB_EVENTS_HUB_NAME string = eventHubs.outputs.eventHubName
output IOTHUB_EVENTS_CONSUMER_GROUP string = eventHubs.outputs.consumerGroupName
// Outputs exist only when the whole deployment, route step included, succeeded: the next provision of this
// environment then keeps the route in the hub's first step (see iotHubRoutingPrincipalId).
output IOTHUB_ROUTING_PRINCIPAL_ID string = iotHubIdentity.outputs.principalId
// The postprovision hook deletes this assignment (if it exists) so that only the chosen role remains.
output IOTHUB_FUNCTION_UNUSED_ROLE_ASSIGNMENT_ID string = roleAssignments.outputs.unusedFunctionIotHubRoleAssignmentId
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output LOG_ANALYTICS_WORKSPACE_NAME string = monitoring.outputs.logAnalyticsName
