// Private endpoint for the storage account's blob service, with the private DNS zone that makes
// <account>.blob.core.windows.net resolve to it inside the virtual network. Blob is the only service the app
// uses: host storage (AzureWebJobsStorage__blobServiceUri), Event Hubs checkpoints and the deployment package.
// https://learn.microsoft.com/azure/private-link/private-endpoint-dns#storage
@description('Azure region.')
param location string

@description('Tags for the endpoint and the zone.')
param tags object = {}

@description('Name of the storage account.')
param storageAccountName string

@description('Resource id of the virtual network (for the DNS zone link).')
param virtualNetworkId string

@description('Resource id of the subnet that holds private endpoints.')
param subnetId string

resource storage 'Microsoft.Storage/storageAccounts@2025-01-01' existing = {
  name: storageAccountName
}

resource blobDnsZone 'Microsoft.Network/privateDnsZones@2024-06-01' = {
  name: 'privatelink.blob.${environment().suffixes.storage}'
  location: 'global'
  tags: tags

  resource link 'virtualNetworkLinks' = {
    name: 'vnet-link'
    location: 'global'
    tags: tags
    properties: {
      registrationEnabled: false
      virtualNetwork: {
        id: virtualNetworkId
      }
    }
  }
}

resource blobPrivateEndpoint 'Microsoft.Network/privateEndpoints@2024-05-01' = {
  name: 'pe-blob-${storageAccountName}'
  location: location
  tags: tags
  properties: {
    subnet: {
      id: subnetId
    }
    privateLinkServiceConnections: [
      {
        name: 'blob'
        properties: {
          privateLinkServiceId: storage.id
          groupIds: [
            'blob'
          ]
        }
      }
    ]
  }

  resource dnsZoneGroup 'privateDnsZoneGroups' = {
    name: 'blob'
    properties: {
      privateDnsZoneConfigs: [
        {
          name: 'blob'
          properties: {
            privateDnsZoneId: blobDnsZone.id
          }
        }
      ]
    }
  }
}

output privateEndpointId string = blobPrivateEndpoint.id
