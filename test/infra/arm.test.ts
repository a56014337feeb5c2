// Compiles infra/main.bicep with the Bicep CLI and checks the ARM JSON that azd would deploy.
// Without the CLI the suite is skipped with a message, except in CI (CI=true), where it fails.
// Install the CLI with: bash infra/scripts/install-bicep.sh
//
// Expected values come from the Azure documentation and the official Flex Consumption template (each table says
// where), never from infra/: a test that reads its expectation from the template under test cannot fail.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  allResources,
  ArmResource,
  ArmTemplate,
  builtInRoleIds,
  compileMain,
  Compiled,
  defined,
  findBicep,
  isCi,
  Json,
  JsonObject,
  Module,
  moduleOutput,
  modules,
  repoRoot,
  toMain,
} from './arm';
import { BUILTIN_ROLES, builtInRoleName } from './builtin-roles';

const SECRET_PATTERN = /AccountKey=|SharedAccessKey=|\blist[A-Z]\w*\(|listKeys/;

// Regions of Flex Consumption as listed by the official template's `location` parameter
// (Azure-Samples/functions-quickstart-typescript-azd, infra/main.bicep @57f91522).
const FLEX_CONSUMPTION_REGIONS = [
  'australiaeast',
  'australiasoutheast',
  'brazilsouth',
  'canadacentral',
  'centralindia',
  'centralus',
  'eastasia',
  'eastus',
  'eastus2',
  'eastus2euap',
  'francecentral',
  'germanywestcentral',
  'italynorth',
  'japaneast',
  'koreacentral',
  'northcentralus',
  'northeurope',
  'norwayeast',
  'southafricanorth',
  'southcentralus',
  'southeastasia',
  'southindia',
  'spaincentral',
  'swedencentral',
  'uaenorth',
  'uksouth',
  'ukwest',
  'westcentralus',
  'westeurope',
  'westus',
  'westus2',
  'westus3',
];

// "TLS 1.2 enforcement available in select regions": https://learn.microsoft.com/azure/iot-hub/iot-hub-tls-support
const IOTHUB_TLS12_REGIONS = ['eastus', 'southcentralus', 'westus2', 'usgovarizona', 'usgovvirginia'];

// Node.js on Azure Functions (https://learn.microsoft.com/azure/azure-functions/supported-languages, JavaScript):
// 24 preview (EOL 2028-04-30), 22 GA (2027-04-30), 20 GA until 2026-04-30. Flex Consumption's default is 22
// (Get-AzFunctionAppFlexConsumptionRuntime). Node 20 is past its end of life.
// IoT Hub data actions the function identity needs, written from the Azure documentation of resource provider
// operations (https://learn.microsoft.com/azure/role-based-access-control/permissions/internet-of-things,
// Microsoft.Devices DataActions), for what the functions call: direct methods (invokeDeviceMethod and fan-out),
// twins read/write (getDeviceTwin, updateDeviceTwin; twins/read also covers twin queries), jobs read/write
// (fan-out as an IoT Hub job, its status). Deliberately NOT copied from infra/: the template is checked against it.
const FUNCTION_IOTHUB_DATA_ACTIONS = [
  'Microsoft.Devices/IotHubs/directMethods/invoke/action',
  'Microsoft.Devices/IotHubs/twins/read',
  'Microsoft.Devices/IotHubs/twins/write',
  'Microsoft.Devices/IotHubs/jobs/read',
  'Microsoft.Devices/IotHubs/jobs/write',
] as const;

const NODE_SUPPORTED = ['22', '24'];
const NODE_END_OF_LIFE = ['16', '18', '20'];

// Settings Flex Consumption does not support or has replaced with functionAppConfig: "Flex Consumption plan
// deprecations" in https://learn.microsoft.com/azure/azure-functions/functions-app-settings, the "Considerations" of
// https://learn.microsoft.com/azure/azure-functions/flex-consumption-plan and the FTPS row of
// https://learn.microsoft.com/azure/azure-functions/functions-deployment-technologies.
const FLEX_UNSUPPORTED_SITE_CONFIG = [
  'ftpsState',
  'linuxFxVersion',
  'windowsFxVersion',
  'alwaysOn',
  'use32BitWorkerProcess',
  'functionAppScaleLimit',
  'minimumElasticInstanceCount',
  'preWarmedInstanceCount',
  'javaVersion',
  'netFrameworkVersion',
  'powerShellVersion',
  'vnetRouteAllEnabled',
];
const FLEX_UNSUPPORTED_APP_SETTINGS = [
  'FUNCTIONS_WORKER_RUNTIME',
  'FUNCTIONS_WORKER_RUNTIME_VERSION',
  'FUNCTIONS_EXTENSION_VERSION',
  'FUNCTIONS_MAX_HTTP_CONCURRENCY',
  'FUNCTIONS_WORKER_PROCESS_COUNT',
  'SCM_DO_BUILD_DURING_DEPLOYMENT',
  'ENABLE_ORYX_BUILD',
  'WEBSITE_RUN_FROM_PACKAGE',
  'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING',
  'WEBSITE_CONTENTSHARE',
  'WEBSITE_CONTENTOVERVNET',
  'WEBSITE_NODE_DEFAULT_VERSION',
  'WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT',
  'WEBSITE_VNET_ROUTE_ALL',
  'WEBSITE_TIME_ZONE',
  'TZ',
];

const bicep = findBicep();
const MISSING =
  'Bicep CLI not found (looked at $BICEP_BIN, infra/.bicep/bicep and PATH). ' +
  'Install it with `bash infra/scripts/install-bicep.sh`.';

if (!bicep && isCi()) {
  describe('infra ARM template', () => {
    it('needs the Bicep CLI in CI', () => {
      throw new Error(MISSING);
    });
  });
} else if (!bicep) {
  console.warn(`SKIPPING the infra ARM tests: ${MISSING}`);
  describe.skip('infra ARM template (Bicep CLI missing)', () => {
    it('is skipped', () => undefined);
  });
} else {
  describe('infra ARM template', () => {
    let compiled: Compiled;
    let main: ArmTemplate;
    let mods: Map<string, Module>;

    beforeAll(() => {
      compiled = compileMain(bicep);
      main = compiled.template;
      mods = modules(main);
    }, 300_000);

    const mod = (name: string): Module => {
      const m = mods.get(name);
      if (!m) throw new Error(`no module ${name}; modules: ${[...mods.keys()].join(', ')}`);
      return m;
    };
    const only = (m: Module, type: string): ArmResource => {
      const found = m.template.resources.filter((r) => r.type === type);
      expect(found).toHaveLength(1);
      return defined(found[0], `${type} in module ${m.name}`);
    };
    /** A module value rewritten as an expression of main (see toMain). */
    const inMain = (m: Module, value: Json | undefined): Json | undefined => toMain(value, m, main);
    /** Which module output feeds a module parameter, e.g. ['function-identity', 'clientId']. */
    const fedBy = (m: Module, param: string): [string, string] | undefined => {
      const o = moduleOutput(inMain(m, `[parameters('${param}')]`));
      return o ? [o.module, o.output] : undefined;
    };
    /** The nested deployment (module) resource of main with that name. */
    const deployment = (name: string): ArmResource =>
      defined(
        main.resources.find((r) => r.type === 'Microsoft.Resources/deployments' && r.name === name),
        `deployment ${name}`,
      );
    /** Names of the modules a module waits for. */
    const waitsFor = (name: string): string[] =>
      (deployment(name).dependsOn ?? [])
        .map((d) => /'Microsoft\.Resources\/deployments', '([^']+)'\)\]$/.exec(d)?.[1])
        .filter((d): d is string => d !== undefined)
        .sort();
    const param = (name: string): NonNullable<NonNullable<ArmTemplate['parameters']>[string]> =>
      defined(main.parameters?.[name], `parameter ${name}`);

    it('builds and lints with no error and no warning', () => {
      expect(compiled.buildOutput).toBe('');
      expect(compiled.lintOutput).toBe('');
    });

    describe('azd project shape', () => {
      it('is a subscription deployment that creates the resource group with the azd-env-name tag', () => {
        expect(main.$schema).toContain('subscriptionDeploymentTemplate.json');
        const rg = main.resources.filter((r) => r.type === 'Microsoft.Resources/resourceGroups');
        expect(rg).toHaveLength(1);
        expect(main.variables?.tags).toEqual({ 'azd-env-name': "[parameters('environmentName')]" });
        expect(defined(rg[0], 'resource group').tags).toBe("[variables('tags')]");
      });

      it('uses local modules only (no registry modules) and tags every tracked resource', () => {
        for (const m of mods.values()) {
          expect(m.template.resources.length).toBeGreaterThan(0);
          for (const r of m.template.resources) {
            if (r.location === undefined) continue; // child and extension resources have no tags
            expect(`${m.name}/${r.type}: ${JSON.stringify(r.tags ?? null)}`).toMatch(
              /: "\[(union\()?parameters\('tags'\)/,
            );
            expect(m.parameters.tags).toBe("[variables('tags')]");
          }
        }
      });

      it('tags the function app with azd-service-name = the service in azure.yaml', () => {
        const site = only(mod('functionapp'), 'Microsoft.Web/sites');
        expect(site.tags).toBe(
          "[union(parameters('tags'), createObject('azd-service-name', parameters('serviceName')))]",
        );
        expect(inMain(mod('functionapp'), "[parameters('serviceName')]")).toBe('functions');
      });

      it('derives names from a unique suffix of subscription, environment and location', () => {
        expect(main.variables?.resourceToken).toBe(
          "[toLower(uniqueString(subscription().id, parameters('environmentName'), parameters('location')))]",
        );
        for (const [m, p] of [
          ['iothub', 'name'],
          ['eventhubs', 'namespaceName'],
          ['storage', 'name'],
          ['functionapp', 'name'],
          ['function-identity', 'name'],
          ['iothub-identity', 'name'],
        ] as const) {
          expect(inMain(mod(m), `[parameters('${p}')]`)).toEqual(expect.stringContaining('uniqueString('));
        }
      });

      it('accepts exactly the regions that offer Flex Consumption (official template list)', () => {
        expect([...(param('location').allowedValues ?? [])].sort()).toEqual(
          [...FLEX_CONSUMPTION_REGIONS].sort(),
        );
        expect(param('location').allowedValues).not.toContain('usgovvirginia');
      });
    });

    describe('built-in roles', () => {
      it('every built-in role the template assigns is a documented built-in role', () => {
        const assigned = allResources(main).filter(
          ({ resource }) => resource.type === 'Microsoft.Authorization/roleAssignments',
        );
        expect(assigned.length).toBeGreaterThan(0);
        const unknown: string[] = [];
        for (const { module: m, resource } of assigned) {
          const ids = builtInRoleIds(
            inMain(defined(m, 'module'), (resource.properties as JsonObject).roleDefinitionId),
          );
          expect(ids.length).toBeGreaterThan(0);
          for (const id of ids) if (!builtInRoleName(id)) unknown.push(`${resource.name}: ${id}`);
        }
        // ARM would answer RoleDefinitionDoesNotExist for any of these.
        expect(unknown).toEqual([]);
      });
    });

    describe('IoT hub', () => {
      const hubIn = (name: string): ArmResource => only(mod(name), 'Microsoft.Devices/IotHubs');
      // The hub as the deployment leaves it: the second step (with the Event Hubs route).
      const hub = (): ArmResource => hubIn('iothub-routing');
      const props = (): JsonObject => hub().properties as JsonObject;

      it('defaults to S1, allows F1/S2/S3 and rejects the basic tiers', () => {
        const p = param('iotHubSku');
        expect(p.defaultValue).toBe('S1');
        expect([...(p.allowedValues ?? [])].sort()).toEqual(['F1', 'S1', 'S2', 'S3']);
        expect(p.allowedValues).not.toEqual(expect.arrayContaining([expect.stringMatching(/^B/)]));
        expect(inMain(mod('iothub'), hub().sku?.name)).toBe("[parameters('iotHubSku')]");
      });

      it('has 4 partitions (2 on F1) and 1-day retention', () => {
        const events = (props().eventHubEndpoints as JsonObject).events as JsonObject;
        expect(events.partitionCount).toBe("[if(equals(parameters('sku'), 'F1'), 2, 4)]");
        expect(events.retentionTimeInDays).toBe(1);
      });

      it('enforces TLS 1.2 only in the regions the IoT Hub docs list (auto), or as the operator chooses', () => {
        expect(props().minTlsVersion).toBe("[if(parameters('enforceTls12'), '1.2', null())]");
        expect([...((main.variables?.iotHubTls12Regions as string[] | undefined) ?? [])].sort()).toEqual(
          [...IOTHUB_TLS12_REGIONS].sort(),
        );
        expect(param('iotHubEnforceTls12').defaultValue).toBe('auto');
        expect([...(param('iotHubEnforceTls12').allowedValues ?? [])].sort()).toEqual([
          'auto',
          'false',
          'true',
        ]);
        expect(main.variables?.iotHubMinTls12).toBe(
          "[or(equals(parameters('iotHubEnforceTls12'), 'true'), and(equals(parameters('iotHubEnforceTls12'), 'auto'), contains(variables('iotHubTls12Regions'), parameters('location'))))]",
        );
        for (const name of ['iothub', 'iothub-routing']) {
          expect(mod(name).parameters.enforceTls12).toBe("[variables('iotHubMinTls12')]");
        }
        // The docs' regions that offer Flex Consumption are where `auto` turns the minimum on.
        expect(IOTHUB_TLS12_REGIONS.filter((r) => FLEX_CONSUMPTION_REGIONS.includes(r)).sort()).toEqual([
          'eastus',
          'southcentralus',
          'westus2',
        ]);
      });

      it('disables hub-level SAS by default (parameter re-enables it) and keeps device SAS', () => {
        expect(inMain(mod('iothub-routing'), props().disableLocalAuth)).toBe(
          "[not(parameters('iotHubLocalAuthEnabled'))]",
        );
        expect(param('iotHubLocalAuthEnabled').defaultValue).toBe(false);
        expect(props().disableDeviceSAS).toBe(false);
        expect(props().disableModuleSAS).toBe(false);
        expect(props().authorizationPolicies).toBeUndefined();
      });

      it('routes telemetry to the Event Hubs hub with its own identity, and to the built-in endpoint', () => {
        const m = mod('iothub-routing');
        const vars = m.template.variables ?? {};
        const routing = props().routing as JsonObject;
        expect(routing.endpoints).toEqual({
          eventHubs:
            "[if(parameters('routeToEventHubs'), createArray(variables('eventHubsEndpoint')), createArray())]",
        });
        expect(routing.routes).toBe(
          "[if(parameters('routeToEventHubs'), createArray(variables('eventHubsRoute'), variables('builtInRoute')), createArray(variables('builtInRoute')))]",
        );
        expect(m.parameters.routeToEventHubs).toBe(true);

        const ep = vars.eventHubsEndpoint as JsonObject;
        expect(ep.authenticationType).toBe('identityBased');
        expect(ep.connectionString).toBeUndefined();
        expect(inMain(m, (ep.identity as JsonObject).userAssignedIdentity)).toEqual(
          inMain(m, "[parameters('identityId')]"),
        );
        expect(fedBy(m, 'identityId')).toEqual(['iothub-identity', 'id']);
        expect(hub().identity).toEqual({
          type: 'UserAssigned',
          userAssignedIdentities: { "[format('{0}', parameters('identityId'))]": {} },
        });
        expect(inMain(m, ep.endpointUri)).toMatch(
          /^\[format\('sb:\/\/\{0\}', .*'eventhubs'.*outputs\.fullyQualifiedNamespace\.value/s,
        );
        expect(fedBy(m, 'eventHubName')).toEqual(['eventhubs', 'eventHubName']);
        expect(ep.entityPath).toBe("[parameters('eventHubName')]");

        const route = (r: Json | undefined) => {
          const o = r as JsonObject;
          return {
            source: o.source,
            condition: o.condition,
            endpoints: (o.endpointNames as Json[]).map((e) => inMain(m, e)),
            enabled: o.isEnabled,
          };
        };
        expect(route(vars.eventHubsRoute)).toEqual({
          source: 'DeviceMessages',
          condition: 'true',
          endpoints: [inMain(m, ep.name)],
          enabled: true,
        });
        expect(route(vars.builtInRoute)).toEqual({
          source: 'DeviceMessages',
          condition: 'true',
          endpoints: ['events'],
          enabled: true,
        });
      });

      it('adds the Event Hubs route in a second step, after the role assignment and the hub creation', () => {
        // Step 1 waits for the sender role; step 2 (the route) waits for step 1, so the hub's creation time
        // separates the role assignment from the endpoint validation, as the IoT Hub docs ask.
        expect(waitsFor('iothub')).toContain('iothub-routing-role');
        expect(waitsFor('iothub-routing')).toContain('iothub');
        expect(waitsFor('iothub-routing-role')).toContain('eventhubs');
        expect(fedBy(mod('iothub-routing-role'), 'iotHubPrincipalId')).toEqual([
          'iothub-identity',
          'principalId',
        ]);

        // Step 1 includes the route only when a previous deployment added it for this same identity...
        expect(mod('iothub').parameters.routeToEventHubs).toMatch(
          /^\[equals\(parameters\('iotHubRoutingPrincipalId'\), reference\(.*'iothub-identity'\).*\)\.outputs\.principalId\.value\)\]$/s,
        );
        expect(param('iotHubRoutingPrincipalId').defaultValue).toBe('');
        expect(moduleOutput(main.outputs?.IOTHUB_ROUTING_PRINCIPAL_ID?.value)).toEqual({
          module: 'iothub-identity',
          output: 'principalId',
        });
        // ...and both steps describe the same hub apart from the route.
        const others = (m: Module) => {
          const rest: Record<string, Json> = { ...m.parameters };
          delete rest.routeToEventHubs;
          return rest;
        };
        expect(others(mod('iothub'))).toEqual(others(mod('iothub-routing')));
        expect(mod('iothub').template).toEqual(mod('iothub-routing').template);
      });

      it('has a consumer group on the built-in endpoint', () => {
        const cg = only(mod('iothub'), 'Microsoft.Devices/IotHubs/eventHubEndpoints/ConsumerGroups');
        expect(inMain(mod('iothub'), cg.name)).toMatch(/'events'/);
        expect(inMain(mod('iothub'), (cg.properties as JsonObject).name)).toBe('functions');
      });
    });

    describe('Event Hubs', () => {
      it('is keyless, TLS 1.2, 4 partitions, 1-day retention, with a consumer group for the function', () => {
        const m = mod('eventhubs');
        const ns = only(m, 'Microsoft.EventHub/namespaces');
        expect(ns.properties).toMatchObject({ disableLocalAuth: true, minimumTlsVersion: '1.2' });
        const hub = only(m, 'Microsoft.EventHub/namespaces/eventhubs');
        expect(inMain(m, (hub.properties as JsonObject).partitionCount)).toBe(4);
        expect(inMain(m, (hub.properties as JsonObject).messageRetentionInDays)).toBe(1);
        const cg = only(m, 'Microsoft.EventHub/namespaces/eventhubs/consumergroups');
        expect(cg.name).toMatch(/parameters\('consumerGroupName'\)\)\]$/);
        expect(inMain(m, "[parameters('consumerGroupName')]")).toBe('functions');
        expect(param('eventHubsSku').defaultValue).toBe('Standard');
        // Basic has only $Default: the function then reads with it.
        expect(m.template.outputs?.consumerGroupName?.value).toBe(
          "[if(not(equals(parameters('sku'), 'Basic')), parameters('consumerGroupName'), '$Default')]",
        );
      });
    });

    describe('storage and monitoring', () => {
      it('storage: no shared key, no public blobs, TLS 1.2, HTTPS only, deployment container', () => {
        const m = mod('storage');
        const st = only(m, 'Microsoft.Storage/storageAccounts');
        expect(st.properties).toMatchObject({
          allowSharedKeyAccess: false,
          allowBlobPublicAccess: false,
          minimumTlsVersion: 'TLS1_2',
          supportsHttpsTrafficOnly: true,
        });
        only(m, 'Microsoft.Storage/storageAccounts/blobServices/containers');
      });

      it('Application Insights: workspace-based, local auth disabled', () => {
        const m = mod('monitoring');
        only(m, 'Microsoft.OperationalInsights/workspaces');
        const appi = only(m, 'Microsoft.Insights/components');
        expect(appi.properties).toMatchObject({
          DisableLocalAuth: true,
          WorkspaceResourceId:
            "[resourceId('Microsoft.OperationalInsights/workspaces', parameters('logAnalyticsName'))]",
        });
      });
    });

    describe('diagnostic settings', () => {
      it('send all logs of the IoT hub, Event Hubs and blob storage to the Log Analytics workspace', () => {
        const m = mod('diagnostic-settings');
        expect(fedBy(m, 'logAnalyticsWorkspaceId')).toEqual(['monitoring', 'logAnalyticsId']);
        expect(mod('monitoring').template.outputs?.logAnalyticsId?.value).toBe(
          "[resourceId('Microsoft.OperationalInsights/workspaces', parameters('logAnalyticsName'))]",
        );
        const settings = m.template.resources.filter(
          (r) => r.type === 'Microsoft.Insights/diagnosticSettings',
        );
        const byScope = new Map(settings.map((s) => [/resourceId\('([^']+)'/.exec(String(s.scope))?.[1], s]));
        for (const scope of [
          'Microsoft.Devices/IotHubs',
          'Microsoft.EventHub/namespaces',
          'Microsoft.Storage/storageAccounts/blobServices',
        ]) {
          const s = defined(byScope.get(scope), `diagnostic setting on ${scope}`);
          expect(s.properties).toMatchObject({
            workspaceId: "[parameters('logAnalyticsWorkspaceId')]",
            logs: [{ categoryGroup: 'allLogs', enabled: true }],
          });
        }
        expect(inMain(m, "[parameters('iotHubName')]")).toBe(inMain(mod('iothub'), "[parameters('name')]"));
        // After the route exists, so that its logs cover the final hub.
        expect(waitsFor('diagnostic-settings')).toContain('iothub-routing');
      });

      it('none on the function app: Flex Consumption does not support diagnostic settings', () => {
        const scopes = allResources(main)
          .filter(({ resource }) => resource.type === 'Microsoft.Insights/diagnosticSettings')
          .map(({ resource }) => String(resource.scope));
        expect(scopes.join('\n')).not.toMatch(/Microsoft\.Web/);
      });
    });

    describe('private networking (PRIVATE_NETWORKING=true)', () => {
      it('is off by default', () => {
        expect(param('privateNetworking').defaultValue).toBe(false);
        expect(deployment('network').condition).toBe("[parameters('privateNetworking')]");
        expect(deployment('storage-private-endpoint').condition).toBe("[parameters('privateNetworking')]");
      });

      it('closes the storage account to public networks', () => {
        const st = only(mod('storage'), 'Microsoft.Storage/storageAccounts');
        expect((st.properties as JsonObject).publicNetworkAccess).toBe(
          "[if(parameters('privateNetworking'), 'Disabled', 'Enabled')]",
        );
        expect((st.properties as JsonObject).networkAcls).toBe(
          "[if(parameters('privateNetworking'), createObject('bypass', 'None', 'defaultAction', 'Deny'), createObject('bypass', 'AzureServices', 'defaultAction', 'Allow'))]",
        );
        expect(mod('storage').parameters.privateNetworking).toBe("[parameters('privateNetworking')]");
      });

      it('reaches blob storage through a private endpoint with its privatelink DNS zone', () => {
        const m = mod('storage-private-endpoint');
        const pe = only(m, 'Microsoft.Network/privateEndpoints');
        expect(pe.properties?.privateLinkServiceConnections).toEqual([
          {
            name: 'blob',
            properties: {
              privateLinkServiceId:
                "[resourceId('Microsoft.Storage/storageAccounts', parameters('storageAccountName'))]",
              groupIds: ['blob'],
            },
          },
        ]);
        expect(fedBy(m, 'subnetId')).toBeUndefined(); // conditional module output, read with tryGet
        expect(JSON.stringify(m.parameters.subnetId)).toContain("'network'");
        expect(JSON.stringify(m.parameters.subnetId)).toContain("'privateEndpointSubnetId'");
        expect(only(m, 'Microsoft.Network/privateDnsZones').name).toBe(
          "[format('privatelink.blob.{0}', environment().suffixes.storage)]",
        );
        only(m, 'Microsoft.Network/privateDnsZones/virtualNetworkLinks');
        only(m, 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups');
      });

      it('integrates the app with a subnet delegated to Microsoft.App/environments', () => {
        const vnet = only(mod('network'), 'Microsoft.Network/virtualNetworks');
        const subnets = (vnet.properties as JsonObject).subnets as JsonObject[];
        const delegations = subnets.flatMap((s) =>
          (((s.properties as JsonObject).delegations as JsonObject[] | undefined) ?? []).map(
            (d) => (d.properties as JsonObject).serviceName,
          ),
        );
        expect(delegations).toEqual(['Microsoft.App/environments']);
        const site = only(mod('functionapp'), 'Microsoft.Web/sites');
        expect((site.properties as JsonObject).virtualNetworkSubnetId).toBe(
          "[if(empty(parameters('virtualNetworkSubnetId')), null(), parameters('virtualNetworkSubnetId'))]",
        );
        expect(JSON.stringify(mod('functionapp').parameters.virtualNetworkSubnetId)).toMatch(
          /'network'.*'outputs', 'appSubnetId'/s,
        );
        expect(waitsFor('functionapp')).toContain('storage-private-endpoint');
      });
    });

    describe('function app', () => {
      const m = (): Module => mod('functionapp');
      const site = (): ArmResource => only(m(), 'Microsoft.Web/sites');
      const settings = (): JsonObject => {
        const cfg = m().template.resources.filter(
          (r) => r.type === 'Microsoft.Web/sites/config' && /'appsettings'/.test(r.name),
        );
        expect(cfg).toHaveLength(1);
        return defined(cfg[0], 'appsettings config resource').properties as JsonObject;
      };

      it('runs on Flex Consumption (FC1) with a supported Node.js (22 by default, or 24)', () => {
        const plan = only(m(), 'Microsoft.Web/serverfarms');
        expect(plan.sku).toEqual({ name: 'FC1', tier: 'FlexConsumption' });
        expect(plan.properties).toMatchObject({ reserved: true });
        const runtime = ((site().properties as JsonObject).functionAppConfig as JsonObject)
          .runtime as JsonObject;
        expect(runtime.name).toBe('node');
        expect(inMain(m(), runtime.version)).toBe("[parameters('nodeVersion')]");
        const allowed = (param('nodeVersion').allowedValues ?? []).map(String);
        expect(param('nodeVersion').defaultValue).toBe('22');
        for (const v of allowed) expect(NODE_SUPPORTED).toContain(v);
        for (const v of NODE_END_OF_LIFE) expect(allowed).not.toContain(v);
        expect((m().template.parameters?.nodeVersion?.allowedValues ?? []).map(String)).toEqual(allowed);
      });

      it('offers only Node.js versions that package.json engines accepts', () => {
        const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
          engines?: { node?: string };
        };
        const range = pkg.engines?.node ?? '';
        const min = /^>=\s*(\d+)(?:\.(\d+))?/.exec(range);
        expect(min).not.toBeNull();
        const below = /<\s*(\d+)/.exec(range);
        for (const v of (param('nodeVersion').allowedValues ?? []).map(Number)) {
          expect(v).toBeGreaterThanOrEqual(Number(min?.[1]));
          if (below) expect(v).toBeLessThan(Number(below[1]));
        }
      });

      it('sets nothing that Flex Consumption does not support (FTPS, legacy runtime settings)', () => {
        const siteConfig = ((site().properties as JsonObject).siteConfig as JsonObject | undefined) ?? {};
        for (const key of FLEX_UNSUPPORTED_SITE_CONFIG) expect(Object.keys(siteConfig)).not.toContain(key);
        for (const key of FLEX_UNSUPPORTED_APP_SETTINGS) expect(Object.keys(settings())).not.toContain(key);
        const all = JSON.stringify(m().template);
        for (const key of [...FLEX_UNSUPPORTED_SITE_CONFIG, ...FLEX_UNSUPPORTED_APP_SETTINGS]) {
          expect(`${key}: ${String(all.includes(`"${key}"`))}`).toBe(`${key}: false`);
        }
        const policies = m().template.resources.filter(
          (r) => r.type === 'Microsoft.Web/sites/basicPublishingCredentialsPolicies',
        );
        expect(policies.map((r) => /'(ftp|scm)'/.exec(r.name)?.[1])).toEqual(['scm']);
      });

      it('is HTTPS only with TLS 1.2 and basic-auth publishing off', () => {
        const p = site().properties as JsonObject;
        expect(p.httpsOnly).toBe(true);
        expect(p.siteConfig).toEqual({ minTlsVersion: '1.2', scmMinTlsVersion: '1.2' });
        const scm = only(m(), 'Microsoft.Web/sites/basicPublishingCredentialsPolicies');
        expect(scm.properties?.allow).toBe(false);
      });

      it('runs as the function user-assigned identity, including for the deployment package', () => {
        expect(fedBy(m(), 'identityId')).toEqual(['function-identity', 'id']);
        expect(fedBy(m(), 'identityClientId')).toEqual(['function-identity', 'clientId']);
        expect(site().identity).toEqual({
          type: 'UserAssigned',
          userAssignedIdentities: { "[format('{0}', parameters('identityId'))]": {} },
        });
        const storage = (
          ((site().properties as JsonObject).functionAppConfig as JsonObject).deployment as JsonObject
        ).storage as JsonObject;
        expect(storage.type).toBe('blobContainer');
        expect(storage.authentication).toEqual({
          type: 'UserAssignedIdentity',
          userAssignedIdentityResourceId: "[parameters('identityId')]",
        });
      });

      it('has exactly the identity-based settings the functions read', () => {
        const s = settings();
        expect(Object.keys(s).sort()).toEqual(
          [
            'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
            'APPLICATIONINSIGHTS_CONNECTION_STRING',
            'AZURE_CLIENT_ID',
            'AzureWebJobsStorage__blobServiceUri',
            'AzureWebJobsStorage__clientId',
            'AzureWebJobsStorage__credential',
            'IOTHUB_EVENTS_CONNECTION__clientId',
            'IOTHUB_EVENTS_CONNECTION__credential',
            'IOTHUB_EVENTS_CONNECTION__fullyQualifiedNamespace',
            'IOTHUB_EVENTS_CONSUMER_GROUP',
            'IOTHUB_EVENTS_HUB_NAME',
            'IOTHUB_HOST_NAME',
          ].sort(),
        );
        const clientId = "[parameters('identityClientId')]";
        expect(s).toMatchObject({
          AzureWebJobsStorage__credential: 'managedidentity',
          AzureWebJobsStorage__clientId: clientId,
          IOTHUB_EVENTS_CONNECTION__credential: 'managedidentity',
          IOTHUB_EVENTS_CONNECTION__clientId: clientId,
          AZURE_CLIENT_ID: clientId,
          APPLICATIONINSIGHTS_AUTHENTICATION_STRING:
            "[format('ClientId={0};Authorization=AAD', parameters('identityClientId'))]",
          IOTHUB_HOST_NAME: "[parameters('iotHubHostName')]",
          IOTHUB_EVENTS_CONNECTION__fullyQualifiedNamespace:
            "[parameters('eventHubsFullyQualifiedNamespace')]",
          IOTHUB_EVENTS_HUB_NAME: "[parameters('eventHubName')]",
          IOTHUB_EVENTS_CONSUMER_GROUP: "[parameters('eventHubConsumerGroup')]",
        });
        expect(s.AzureWebJobsStorage__blobServiceUri).toMatch(/\)\.primaryEndpoints\.blob\]$/);
        expect(s.APPLICATIONINSIGHTS_CONNECTION_STRING).toMatch(
          /'Microsoft\.Insights\/components'.*\.ConnectionString\]$/,
        );
        // Each value comes from the resource that this template creates.
        expect(fedBy(m(), 'iotHubHostName')).toEqual(['iothub', 'hostName']);
        expect(fedBy(m(), 'eventHubsFullyQualifiedNamespace')).toEqual([
          'eventhubs',
          'fullyQualifiedNamespace',
        ]);
        expect(fedBy(m(), 'eventHubConsumerGroup')).toEqual(['eventhubs', 'consumerGroupName']);
        expect(fedBy(m(), 'eventHubName')).toEqual(['eventhubs', 'eventHubName']);
        expect(inMain(mod('eventhubs'), "[parameters('eventHubName')]")).toBe('telemetry');
      });
    });

    describe('role assignments', () => {
      interface Assignment {
        module: string;
        principal: string;
        roles: string[];
        scope: Json | undefined;
        principalType: Json | undefined;
        conditional: boolean;
      }
      const assignments = (): Assignment[] =>
        allResources(main)
          .filter(({ resource }) => resource.type === 'Microsoft.Authorization/roleAssignments')
          .map(({ module: m, resource: r }) => {
            if (!m) throw new Error(`role assignment ${r.name} is not in a module`);
            const props = r.properties as JsonObject;
            const principal = inMain(m, props.principalId);
            const out = moduleOutput(principal);
            return {
              module: m.name,
              principal: out ? `${out.module}.${out.output}` : JSON.stringify(principal ?? null),
              // Role names from the documentation table, not ids: a wrong id shows as "unknown <id>".
              roles: builtInRoleIds(inMain(m, props.roleDefinitionId)).map(
                (id) => builtInRoleName(id) ?? `unknown ${id}`,
              ),
              scope: inMain(m, r.scope),
              principalType: inMain(m, props.principalType),
              conditional: r.condition !== undefined,
            };
          });
      /** A module's name parameter as an operand of a main-level expression. */
      const nameOf = (m: string, p: string): string => {
        const v = inMain(mod(m), `[parameters('${p}')]`);
        if (typeof v !== 'string') throw new Error(`${m}.${p} is not a string`);
        return v.startsWith('[') ? v.slice(1, -1) : `'${v}'`;
      };
      const hubScope = (): string => `[resourceId('Microsoft.Devices/IotHubs', ${nameOf('iothub', 'name')})]`;
      const eventHubScope = (): string =>
        `[resourceId('Microsoft.EventHub/namespaces/eventhubs', ${nameOf('eventhubs', 'namespaceName')}, ${nameOf(
          'eventhubs',
          'eventHubName',
        )})]`;

      it('are exactly the expected ones, each on the narrowest resource', () => {
        const got = assignments().map(({ principal, roles, scope, principalType, conditional }) => ({
          principal,
          roles,
          scope,
          principalType,
          conditional,
        }));
        const expected = [
          {
            principal: 'iothub-identity.principalId',
            roles: ['Azure Event Hubs Data Sender'],
            scope: eventHubScope(),
            principalType: 'ServicePrincipal',
            conditional: false,
          },
          {
            // The custom direct-methods-only role by default, IoT Hub Data Contributor when switched off.
            principal: 'function-identity.principalId',
            roles: ['IoT Hub Data Contributor'],
            scope: hubScope(),
            principalType: 'ServicePrincipal',
            conditional: false,
          },
          {
            principal: 'function-identity.principalId',
            roles: ['Azure Event Hubs Data Receiver'],
            scope: eventHubScope(),
            principalType: 'ServicePrincipal',
            conditional: false,
          },
          {
            principal: 'function-identity.principalId',
            roles: ['Storage Blob Data Owner'],
            scope: `[resourceId('Microsoft.Storage/storageAccounts', ${nameOf('storage', 'name')})]`,
            principalType: 'ServicePrincipal',
            conditional: false,
          },
          {
            principal: 'function-identity.principalId',
            roles: ['Monitoring Metrics Publisher'],
            scope: `[resourceId('Microsoft.Insights/components', ${nameOf('monitoring', 'applicationInsightsName')})]`,
            principalType: 'ServicePrincipal',
            conditional: false,
          },
          {
            principal: JSON.stringify("[parameters('principalId')]"),
            roles: ['IoT Hub Registry Contributor'],
            scope: hubScope(),
            principalType: "[parameters('principalType')]",
            conditional: true, // skipped when AZURE_PRINCIPAL_ID is empty
          },
        ];
        const key = (a: { principal: string; roles: string[] }): string => `${a.principal} ${a.roles.join()}`;
        expect([...got].sort((a, b) => key(a).localeCompare(key(b)))).toEqual(
          [...expected].sort((a, b) => key(a).localeCompare(key(b))),
        );
        // The documentation table covers every built-in role the template is expected to assign.
        for (const a of expected) for (const r of a.roles) expect(Object.keys(BUILTIN_ROLES)).toContain(r);
      });

      it('gives the hub identity its Data Sender role before the hub (identity-based endpoint) is created', () => {
        expect(waitsFor('iothub')).toContain('iothub-routing-role');
      });

      it('gives the function the narrow custom role (methods, twins, jobs) by default', () => {
        expect(param('directMethodsOnlyRole').defaultValue).toBe(true);
        const m = mod('role-assignments');
        expect(m.template.parameters?.directMethodsOnlyRole?.defaultValue).toBe(true);
        const def = only(m, 'Microsoft.Authorization/roleDefinitions');
        expect(inMain(m, def.condition as Json)).toBe("[parameters('directMethodsOnlyRole')]");
        const perms = (def.properties as JsonObject).permissions as JsonObject[];
        expect(perms).toEqual([
          {
            actions: [],
            notActions: [],
            dataActions: [...FUNCTION_IOTHUB_DATA_ACTIONS],
            notDataActions: [],
          },
        ]);
        // Nothing broader than the functions need: no wildcard, no registry or key access.
        for (const action of FUNCTION_IOTHUB_DATA_ACTIONS) expect(action).not.toMatch(/\*|devices\/|\/keys/);
        expect((def.properties as JsonObject).assignableScopes).toEqual(['[resourceGroup().id]']);
        const toHub = m.template.resources.filter(
          (r) =>
            r.type === 'Microsoft.Authorization/roleAssignments' &&
            inMain(m, (r.properties as JsonObject).principalId) !== "[parameters('principalId')]" &&
            inMain(m, r.scope) === hubScope(),
        );
        expect(toHub).toHaveLength(1);
        const assignment = defined(toHub[0], 'role assignment on the hub');
        expect(inMain(m, (assignment.properties as JsonObject).roleDefinitionId)).toMatch(
          /^\[if\(parameters\('directMethodsOnlyRole'\), resourceId\('Microsoft\.Authorization\/roleDefinitions', guid\(resourceGroup\(\)\.id, 'iothub-direct-methods-invoker'\)\), /,
        );
        expect(def.name).toBe("[guid(resourceGroup().id, 'iothub-direct-methods-invoker')]");
      });

      it('outputs the assignment of the role not chosen, for the postprovision hook to delete', () => {
        const m = mod('role-assignments');
        const vars = m.template.variables ?? {};
        const assignment = defined(
          m.template.resources.find(
            (r) =>
              r.type === 'Microsoft.Authorization/roleAssignments' &&
              /directMethodsOnlyRole/.test(
                JSON.stringify(inMain(m, (r.properties as JsonObject).roleDefinitionId)),
              ),
          ),
          'function assignment on the hub',
        );
        expect(assignment.name).toBe(
          "[if(parameters('directMethodsOnlyRole'), variables('narrowAssignmentName'), variables('broadAssignmentName'))]",
        );
        expect(m.template.outputs?.unusedFunctionIotHubRoleAssignmentId?.value).toBe(
          "[extensionResourceId(resourceId('Microsoft.Devices/IotHubs', parameters('iotHubName')), 'Microsoft.Authorization/roleAssignments', if(parameters('directMethodsOnlyRole'), variables('broadAssignmentName'), variables('narrowAssignmentName')))]",
        );
        // Same names as before this change, so an environment that had the broad role gets it removed.
        expect(vars.narrowAssignmentName).toBe(
          "[guid(resourceId('Microsoft.Devices/IotHubs', parameters('iotHubName')), parameters('functionPrincipalId'), 'direct-methods-invoker')]",
        );
        expect(vars.broadAssignmentName).toBe(
          "[guid(resourceId('Microsoft.Devices/IotHubs', parameters('iotHubName')), parameters('functionPrincipalId'), variables('roles').iotHubDataContributor)]",
        );
        expect(moduleOutput(main.outputs?.IOTHUB_FUNCTION_UNUSED_ROLE_ASSIGNMENT_ID?.value)).toEqual({
          module: 'role-assignments',
          output: 'unusedFunctionIotHubRoleAssignmentId',
        });
      });
    });

    describe('secrets', () => {
      it('no key, SAS or list*() anywhere in the template', () => {
        expect(JSON.stringify(main)).not.toMatch(SECRET_PATTERN);
      });

      it('no secret in outputs, and no secure outputs', () => {
        const all = [
          { name: 'main', outputs: main.outputs },
          ...[...mods.values()].map((m) => ({ name: m.name, outputs: m.template.outputs })),
        ];
        for (const { name, outputs } of all) {
          for (const [key, o] of Object.entries(outputs ?? {})) {
            expect(`${name}.${key}: ${o?.type ?? ''}`).not.toMatch(/: secure/i);
            expect(JSON.stringify(o?.value ?? null)).not.toMatch(SECRET_PATTERN);
            expect(key).not.toMatch(/connectionstring|key|secret|password/i);
          }
        }
      });

      it('exports what azd, the hooks and the README need', () => {
        expect(Object.keys(main.outputs ?? {})).toEqual(
          expect.arrayContaining([
            'AZURE_LOCATION',
            'AZURE_TENANT_ID',
            'AZURE_RESOURCE_GROUP',
            'AZURE_FUNCTION_APP_NAME',
            'AZURE_FUNCTION_APP_URL',
            'IOTHUB_NAME',
            'IOTHUB_HOST_NAME',
            'IOTHUB_EVENTS_HUB_NAME',
            'IOTHUB_EVENTS_CONSUMER_GROUP',
            'IOTHUB_ROUTING_PRINCIPAL_ID',
            'IOTHUB_FUNCTION_UNUSED_ROLE_ASSIGNMENT_ID',
            'APPLICATIONINSIGHTS_NAME',
          ]),
        );
        expect(main.outputs?.AZURE_FUNCTION_APP_URL?.value).toMatch(/^\[format\('https:\/\/\{0\}', /);
      });
    });
  });
}
