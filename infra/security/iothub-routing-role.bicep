// Lets the IoT hub's user-assigned identity send to the telemetry event hub. Deployed before the hub:
// IoT Hub validates an identity-based endpoint when the hub is created, so the role must exist first.
@description('Principal id of the IoT hub identity.')
param iotHubPrincipalId string

@description('Name of the Event Hubs namespace.')
param eventHubsNamespaceName string

@description('Name of the event hub.')
param eventHubName string

// Azure Event Hubs Data Sender
var eventHubsDataSenderRoleId = '2b629674-e913-4c01-ae53-ef4638d8f975'

resource namespace 'Microsoft.EventHub/namespaces@2026-01-01' existing = {
  name: eventHubsNamespaceName

  resource eventHub 'eventhubs' existing = {
    name: eventHubName
  }
}

resource iotHubSendsToEventHub 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(namespace::eventHub.id, iotHubPrincipalId, eventHubsDataSenderRoleId)
  scope: namespace::eventHub
  properties: {
    description: 'IoT hub identity routes telemetry to this event hub'
    principalId: iotHubPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', eventHubsDataSenderRoleId)
  }
}
