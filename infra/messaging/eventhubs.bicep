// Event Hubs namespace and hub that receive the IoT hub's telemetry through an identity-based route.
// The Functions Event Hubs trigger reads it with a managed identity (the IoT hub's built-in
// endpoint only accepts SAS keys for readers, so the trigger cannot read it keylessly).
@description('Name of the Event Hubs namespace.')
param namespaceName string

@description('Azure region.')
param location string

@description('Tags for the namespace.')
param tags object = {}

@description('Namespace tier. Basic has only the $Default consumer group; Standard gets a dedicated consumer group for the function.')
@allowed([
  'Basic'
  'Standard'
])
param sku string = 'Standard'

@description('Name of the event hub that receives telemetry.')
param eventHubName string = 'telemetry'

@description('Name of the consumer group the function reads with (Standard tier only).')
param consumerGroupName string = 'functions'

@description('Number of partitions of the event hub.')
@minValue(1)
@maxValue(32)
param partitionCount int = 4

@description('Days that the event hub keeps events.')
@minValue(1)
@maxValue(7)
param retentionInDays int = 1

resource namespace 'Microsoft.EventHub/namespaces@2026-01-01' = {
  name: namespaceName
  location: location
  tags: tags
  sku: {
    name: sku
    tier: sku
    capacity: 1
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
    isAutoInflateEnabled: false
    zoneRedundant: false
  }
}

resource eventHub 'Microsoft.EventHub/namespaces/eventhubs@2026-01-01' = {
  parent: namespace
  name: eventHubName
  properties: {
    partitionCount: partitionCount
    messageRetentionInDays: retentionInDays
  }
}

resource consumerGroup 'Microsoft.EventHub/namespaces/eventhubs/consumergroups@2026-01-01' = if (sku != 'Basic') {
  parent: eventHub
  name: consumerGroupName
  properties: {
    userMetadata: 'Read by the Azure Functions Event Hubs trigger'
  }
}

// serviceBusEndpoint looks like https://<namespace>.servicebus.windows.net:443/ in every cloud.
var fullyQualifiedNamespace = replace(split(split(namespace.properties.serviceBusEndpoint, '//')[1], ':')[0], '/', '')

output namespaceName string = namespace.name
output fullyQualifiedNamespace string = fullyQualifiedNamespace
output eventHubName string = eventHub.name
output eventHubId string = eventHub.id
output consumerGroupName string = sku != 'Basic' ? consumerGroup.name : '$Default'
