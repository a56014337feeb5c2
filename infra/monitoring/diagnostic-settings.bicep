// Resource logs and metrics of the IoT hub, the Event Hubs namespace and the storage account, all to the Log
// Analytics workspace, so that a failing identity-based route (IoT Hub "Routes" logs), throttling (429s in the
// metrics and logs) or a refused storage request shows up next to the function's own telemetry.
// The allLogs category group takes every log category of a resource, including ones added later:
// https://learn.microsoft.com/azure/azure-monitor/platform/diagnostic-settings
// The function app gets none: Flex Consumption does not support diagnostic settings
// (https://learn.microsoft.com/azure/azure-functions/flex-consumption-plan#considerations); it logs to App Insights.
@description('Resource id of the Log Analytics workspace.')
param logAnalyticsWorkspaceId string

@description('Name of the IoT hub.')
param iotHubName string

@description('Name of the Event Hubs namespace.')
param eventHubsNamespaceName string

@description('Name of the storage account.')
param storageAccountName string

var settingName = 'to-log-analytics'

resource iotHub 'Microsoft.Devices/IotHubs@2023-06-30' existing = {
  name: iotHubName
}

resource eventHubsNamespace 'Microsoft.EventHub/namespaces@2026-01-01' existing = {
  name: eventHubsNamespaceName
}

resource storage 'Microsoft.Storage/storageAccounts@2025-01-01' existing = {
  name: storageAccountName

  resource blobService 'blobServices' existing = {
    name: 'default'
  }
}

resource iotHubDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: settingName
  scope: iotHub
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

resource eventHubsDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: settingName
  scope: eventHubsNamespace
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

// Storage logs live on the blob service (StorageRead/StorageWrite/StorageDelete); the account has metrics only.
// https://learn.microsoft.com/azure/storage/blobs/monitor-blob-storage
resource storageAccountDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: settingName
  scope: storage
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    metrics: [
      {
        category: 'Transaction'
        enabled: true
      }
    ]
  }
}

resource blobDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: settingName
  scope: storage::blobService
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'Transaction'
        enabled: true
      }
    ]
  }
}
