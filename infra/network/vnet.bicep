// Virtual network of the optional private mode: one subnet for the function app's outbound traffic (Flex
// Consumption virtual network integration needs a subnet delegated to Microsoft.App/environments) and one for
// private endpoints. Sizes follow the official template (Azure-Samples/functions-quickstart-typescript-azd
// infra/app/vnet.bicep) and https://learn.microsoft.com/azure/azure-functions/flex-consumption-plan#considerations.
@description('Name of the virtual network.')
param name string

@description('Azure region.')
param location string

@description('Tags for the network.')
param tags object = {}

var appSubnetName = 'app'
var privateEndpointSubnetName = 'private-endpoints'

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        '10.0.0.0/16'
      ]
    }
    subnets: [
      {
        name: privateEndpointSubnetName
        properties: {
          addressPrefix: '10.0.1.0/27'
          privateEndpointNetworkPolicies: 'Disabled'
          privateLinkServiceNetworkPolicies: 'Enabled'
        }
      }
      {
        name: appSubnetName
        properties: {
          addressPrefix: '10.0.2.0/26'
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
          privateEndpointNetworkPolicies: 'Disabled'
          privateLinkServiceNetworkPolicies: 'Enabled'
        }
      }
    ]
  }

  resource appSubnet 'subnets' existing = {
    name: appSubnetName
  }

  resource privateEndpointSubnet 'subnets' existing = {
    name: privateEndpointSubnetName
  }
}

output id string = vnet.id
output name string = vnet.name
output appSubnetId string = vnet::appSubnet.id
output privateEndpointSubnetId string = vnet::privateEndpointSubnet.id
