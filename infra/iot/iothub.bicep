// IoT hub with an identity-based route to an Event Hubs hub (read keylessly by the function) and a
// route to the built-in endpoint (so existing tools still see telemetry).
@description('Name of the IoT hub.')
param name string

@description('Azure region.')
param location string

@description('Tags for the hub.')
param tags object = {}

@description('IoT Hub tier. Basic tiers (B1-B3) are not allowed: they have no direct methods.')
@allowed([
  'F1'
  'S1'
  'S2'
  'S3'
])
param sku string = 'S1'

@description('Number of units of the tier (F1 allows exactly 1).')
@minValue(1)
@maxValue(200)
param capacity int = 1

@description('Enable hub-level shared access policies (iothubowner, service, ...). Device SAS stays enabled either way.')
param localAuthEnabled bool = false

@description('Resource id of the user-assigned identity the hub uses to send to Event Hubs.')
param identityId string

@description('Fully qualified Event Hubs namespace, e.g. evhns-x.servicebus.windows.net.')
param eventHubsFullyQualifiedNamespace string

@description('Name of the event hub that receives telemetry.')
param eventHubName string

@description('Consumer group created on the built-in endpoint (for tools that read it).')
param consumerGroupName string = 'functions'

var customEndpointName = 'telemetry-eventhub'
var builtInEndpointName = 'events'

resource iotHub 'Microsoft.Devices/IotHubs@2023-06-30' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: sku
    capacity: sku == 'F1' ? 1 : capacity
  }
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    minTlsVersion: '1.2'
    disableLocalAuth: !localAuthEnabled
    disableDeviceSAS: false
    disableModuleSAS: false
    publicNetworkAccess: 'Enabled'
    eventHubEndpoints: {
      events: {
        // The free tier has exactly 2 partitions.
        partitionCount: sku == 'F1' ? 2 : 4
        retentionTimeInDays: 1
      }
    }
    routing: {
      endpoints: {
        eventHubs: [
          {
            name: customEndpointName
            authenticationType: 'identityBased'
            identity: {
              userAssignedIdentity: identityId
            }
            endpointUri: 'sb://${eventHubsFullyQualifiedNamespace}'
            entityPath: eventHubName
            subscriptionId: subscription().subscriptionId
            resourceGroup: resourceGroup().name
          }
        ]
      }
      routes: [
        {
          name: 'telemetry-to-eventhub'
          source: 'DeviceMessages'
          condition: 'true'
          endpointNames: [
            customEndpointName
          ]
          isEnabled: true
        }
        {
          name: 'telemetry-to-builtin'
          source: 'DeviceMessages'
          condition: 'true'
          endpointNames: [
            builtInEndpointName
          ]
          isEnabled: true
        }
      ]
      fallbackRoute: {
        name: '$fallback'
        source: 'DeviceMessages'
        condition: 'true'
        endpointNames: [
          builtInEndpointName
        ]
        isEnabled: true
      }
    }
  }
}

resource builtInConsumerGroup 'Microsoft.Devices/IotHubs/eventHubEndpoints/ConsumerGroups@2023-06-30' = {
  name: '${iotHub.name}/${builtInEndpointName}/${consumerGroupName}'
  properties: {
    name: consumerGroupName
  }
}

output name string = iotHub.name
output id string = iotHub.id
output hostName string = iotHub.properties.hostName
