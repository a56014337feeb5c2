// Flex Consumption (FC1) plan and the function app, running as a user-assigned identity.
// Every connection is identity-based: no key or connection string with a key reaches the app settings.
// Flex Consumption replaces many site settings with functionAppConfig and rejects or ignores others (FTPS,
// FUNCTIONS_WORKER_RUNTIME, WEBSITE_RUN_FROM_PACKAGE, ...): none of them is set here. See "Flex Consumption plan
// deprecations" in https://learn.microsoft.com/azure/azure-functions/functions-app-settings and the FTPS row of
// https://learn.microsoft.com/azure/azure-functions/functions-deployment-technologies (not supported on Flex).
@description('Name of the function app.')
param name string

@description('Name of the Flex Consumption plan.')
param planName string

@description('Azure region.')
param location string

@description('Tags for the plan and the app (the app also gets azd-service-name).')
param tags object = {}

@description('azd service name in azure.yaml; azd finds the app by this tag.')
param serviceName string

@description('Node.js version: 22 (GA, the Flex default) or 24 (preview on Functions). Node 20 reached end of life on 2026-04-30.')
@allowed([
  '22'
  '24'
])
param nodeVersion string = '22'

@description('Memory of each instance, in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Upper bound on the number of instances.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Resource id of the user-assigned identity of the app.')
param identityId string

@description('Client id of the user-assigned identity of the app.')
param identityClientId string

@description('Name of the storage account for AzureWebJobsStorage and the deployment package.')
param storageAccountName string

@description('Blob container that holds the deployment package.')
param deploymentContainerName string

@description('Name of the Application Insights component.')
param applicationInsightsName string

@description('Host name of the IoT hub (<hub>.azure-devices.net).')
param iotHubHostName string

@description('Fully qualified Event Hubs namespace the telemetry is routed to.')
param eventHubsFullyQualifiedNamespace string

@description('Name of the event hub the telemetry is routed to.')
param eventHubName string

@description('Consumer group the function reads with.')
param eventHubConsumerGroup string

@description('Subnet (delegated to Microsoft.App/environments) the app sends its outbound traffic through; empty for none.')
param virtualNetworkSubnetId string = ''

resource storage 'Microsoft.Storage/storageAccounts@2025-01-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2025-03-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2025-03-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    publicNetworkAccess: 'Enabled'
    virtualNetworkSubnetId: empty(virtualNetworkSubnetId) ? null : virtualNetworkSubnetId
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'node'
        version: nodeVersion
      }
    }
  }

  resource appSettings 'config' = {
    name: 'appsettings'
    properties: {
      // Functions host storage, through the app's identity.
      AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
      AzureWebJobsStorage__credential: 'managedidentity'
      AzureWebJobsStorage__clientId: identityClientId
      // Application Insights with Entra authentication (the component rejects key-only ingestion).
      APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
      // DefaultAzureCredential in the functions picks the user-assigned identity.
      AZURE_CLIENT_ID: identityClientId
      IOTHUB_HOST_NAME: iotHubHostName
      // Event Hubs trigger connection, identity-based.
      IOTHUB_EVENTS_CONNECTION__fullyQualifiedNamespace: eventHubsFullyQualifiedNamespace
      IOTHUB_EVENTS_CONNECTION__credential: 'managedidentity'
      IOTHUB_EVENTS_CONNECTION__clientId: identityClientId
      IOTHUB_EVENTS_HUB_NAME: eventHubName
      IOTHUB_EVENTS_CONSUMER_GROUP: eventHubConsumerGroup
    }
  }

  // Basic-auth publishing off: azd deploys with an Entra token. (No 'ftp' policy: Flex has no FTP(S) deployment.)
  resource scm 'basicPublishingCredentialsPolicies' = {
    name: 'scm'
    properties: {
      allow: false
    }
  }
}

output name string = functionApp.name
output id string = functionApp.id
output defaultHostName string = functionApp.properties.defaultHostName
