// IoT hub with a route to the built-in endpoint (existing tools keep seeing telemetry) and, once its identity can
// send there, an identity-based route to an Event Hubs hub that the function reads keylessly.
//
// main.bicep deploys this module twice: first without the Event Hubs route (unless an earlier deployment of the
// environment already added it), then with it. IoT Hub validates an identity-based endpoint when it is added, and
// the docs ask to "wait a few minutes for the role assignment to propagate" before adding it
// (https://learn.microsoft.com/azure/iot-hub/iot-hub-managed-identity). The hub's creation, between the role
// assignment and the second step, is that wait.
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

@description('Set minTlsVersion 1.2. It is read-only once the hub exists and only offered in some regions: https://learn.microsoft.com/azure/iot-hub/iot-hub-tls-support')
param enforceTls12 bool

@description('Resource id of the user-assigned identity the hub uses to send to Event Hubs.')
param identityId string

@description('Add the identity-based route to Event Hubs. False on the first step of a first deployment (see the header).')
param routeToEventHubs bool

@description('Fully qualified Event Hubs namespace, e.g. evhns-x.servicebus.windows.net.')
param eventHubsFullyQualifiedNamespace string

@description('Name of the event hub that receives telemetry.')
param eventHubName string

@description('Consumer group created on the built-in endpoint (for tools that read it).')
param consumerGroupName string = 'functions'

var customEndpointName = 'telemetry-eventhub'
var builtInEndpointName = 'events'

var eventHubsEndpoint = {
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

var eventHubsRoute = {
  name: 'telemetry-to-eventhub'
  source: 'DeviceMessages'
  condition: 'true'
  endpointNames: [
    customEndpointName
  ]
  isEnabled: true
}

var builtInRoute = {
  name: 'telemetry-to-builtin'
  source: 'DeviceMessages'
  condition: 'true'
  endpointNames: [
    builtInEndpointName
  ]
  isEnabled: true
}

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
    // Outside the documented regions the property is left unset (null): the hub then negotiates TLS 1.2 with
    // current clients but does not refuse older ones (see docs/deploy.md).
    minTlsVersion: enforceTls12 ? '1.2' : null
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
        eventHubs: routeToEventHubs ? [eventHubsEndpoint] : []
      }
      routes: routeToEventHubs ? [eventHubsRoute, builtInRoute] : [builtInRoute]
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
