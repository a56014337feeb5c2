// Compiles infra/main.bicep with the Bicep CLI and checks the ARM JSON that azd would deploy.
// Without the CLI the suite is skipped with a message, except in CI (CI=true), where it fails.
// Install the CLI with: bash infra/scripts/install-bicep.sh
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
  toMain,
} from './arm';

const ROLE = {
  iotHubDataContributor: '4fc6c259-987e-4a07-842e-c321cc9d413f',
  iotHubRegistryContributor: '4ea46cd5-c1b2-4a8e-910b-273211f9ce47',
  eventHubsDataReceiver: 'a638d3c7-ab3a-418d-83e6-5f17a39d4fde',
  eventHubsDataSender: '2b629674-e913-4c01-ae53-ef4638d8f975',
  storageBlobDataOwner: 'b7e6dc6d-7839-4dc5-ab27-b4acd8e8d9f1',
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb',
};

const SECRET_PATTERN = /AccountKey=|SharedAccessKey=|\blist[A-Z]\w*\(|listKeys/;

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
        for (const [m, param] of [
          ['iothub', 'name'],
          ['eventhubs', 'namespaceName'],
          ['storage', 'name'],
          ['functionapp', 'name'],
          ['function-identity', 'name'],
          ['iothub-identity', 'name'],
        ] as const) {
          expect(inMain(mod(m), `[parameters('${param}')]`)).toEqual(
            expect.stringContaining('uniqueString('),
          );
        }
      });
    });

    describe('IoT hub', () => {
      const hub = (): ArmResource => only(mod('iothub'), 'Microsoft.Devices/IotHubs');
      const props = (): JsonObject => hub().properties as JsonObject;

      it('defaults to S1, allows F1/S2/S3 and rejects the basic tiers', () => {
        const p = main.parameters?.iotHubSku;
        expect(p?.defaultValue).toBe('S1');
        expect([...(p?.allowedValues ?? [])].sort()).toEqual(['F1', 'S1', 'S2', 'S3']);
        expect(p?.allowedValues).not.toEqual(expect.arrayContaining([expect.stringMatching(/^B/)]));
        expect(inMain(mod('iothub'), hub().sku?.name)).toBe("[parameters('iotHubSku')]");
      });

      it('has 4 partitions (2 on F1), 1-day retention and TLS 1.2 minimum', () => {
        const events = (props().eventHubEndpoints as JsonObject).events as JsonObject;
        expect(events.partitionCount).toBe("[if(equals(parameters('sku'), 'F1'), 2, 4)]");
        expect(events.retentionTimeInDays).toBe(1);
        expect(props().minTlsVersion).toBe('1.2');
      });

      it('disables hub-level SAS by default (parameter re-enables it) and keeps device SAS', () => {
        expect(inMain(mod('iothub'), props().disableLocalAuth)).toBe(
          "[not(parameters('iotHubLocalAuthEnabled'))]",
        );
        expect(main.parameters?.iotHubLocalAuthEnabled?.defaultValue).toBe(false);
        expect(props().disableDeviceSAS).toBe(false);
        expect(props().disableModuleSAS).toBe(false);
        expect(props().authorizationPolicies).toBeUndefined();
      });

      it('routes telemetry to the Event Hubs hub with its own identity, and to the built-in endpoint', () => {
        const m = mod('iothub');
        const routing = props().routing as JsonObject;
        const endpoints = (routing.endpoints as JsonObject).eventHubs as JsonObject[];
        expect(endpoints).toHaveLength(1);
        const ep = defined(endpoints[0], 'Event Hubs routing endpoint');
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

        const customName = inMain(m, ep.name);
        const routes = (routing.routes as JsonObject[]).map((r) => ({
          source: r.source,
          condition: r.condition,
          endpoints: (r.endpointNames as Json[]).map((e) => inMain(m, e)),
          enabled: r.isEnabled,
        }));
        expect(routes).toEqual(
          expect.arrayContaining([
            { source: 'DeviceMessages', condition: 'true', endpoints: [customName], enabled: true },
            { source: 'DeviceMessages', condition: 'true', endpoints: ['events'], enabled: true },
          ]),
        );
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
        expect(main.parameters?.eventHubsSku?.defaultValue).toBe('Standard');
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

      it('runs on Flex Consumption (FC1) with Node 20 or 22', () => {
        const plan = only(m(), 'Microsoft.Web/serverfarms');
        expect(plan.sku).toEqual({ name: 'FC1', tier: 'FlexConsumption' });
        expect(plan.properties).toMatchObject({ reserved: true });
        const runtime = ((site().properties as JsonObject).functionAppConfig as JsonObject)
          .runtime as JsonObject;
        expect(runtime.name).toBe('node');
        expect(inMain(m(), runtime.version)).toBe("[parameters('nodeVersion')]");
        expect([...(main.parameters?.nodeVersion?.allowedValues ?? [])].sort()).toEqual(['20', '22']);
      });

      it('is HTTPS only with TLS 1.2, FTP off and basic-auth publishing off', () => {
        const p = site().properties as JsonObject;
        expect(p.httpsOnly).toBe(true);
        expect(p.siteConfig).toMatchObject({
          minTlsVersion: '1.2',
          scmMinTlsVersion: '1.2',
          ftpsState: 'Disabled',
        });
        const policies = m().template.resources.filter(
          (r) => r.type === 'Microsoft.Web/sites/basicPublishingCredentialsPolicies',
        );
        expect(policies.map((r) => [r.name.match(/'(ftp|scm)'/)?.[1], r.properties?.allow]).sort()).toEqual([
          ['ftp', false],
          ['scm', false],
        ]);
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
              roles: builtInRoleIds(inMain(m, props.roleDefinitionId)),
              scope: inMain(m, r.scope),
              principalType: inMain(m, props.principalType),
              conditional: r.condition !== undefined,
            };
          });
      /** A module's name parameter as an operand of a main-level expression. */
      const nameOf = (m: string, param: string): string => {
        const v = inMain(mod(m), `[parameters('${param}')]`);
        if (typeof v !== 'string') throw new Error(`${m}.${param} is not a string`);
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
            roles: [ROLE.eventHubsDataSender],
            scope: eventHubScope(),
            principalType: 'ServicePrincipal',
            conditional: false,
          },
          {
            // IoT Hub Data Contributor, or the custom direct-methods-only role (see below).
            principal: 'function-identity.principalId',
            roles: [ROLE.iotHubDataContributor],
            scope: hubScope(),
            principalType: 'ServicePrincipal',
            conditional: false,
          },
          {
            principal: 'function-identity.principalId',
            roles: [ROLE.eventHubsDataReceiver],
            scope: eventHubScope(),
            principalType: 'ServicePrincipal',
            conditional: false,
          },
          {
            principal: 'function-identity.principalId',
            roles: [ROLE.storageBlobDataOwner],
            scope: `[resourceId('Microsoft.Storage/storageAccounts', ${nameOf('storage', 'name')})]`,
            principalType: 'ServicePrincipal',
            conditional: false,
          },
          {
            principal: 'function-identity.principalId',
            roles: [ROLE.monitoringMetricsPublisher],
            scope: `[resourceId('Microsoft.Insights/components', ${nameOf('monitoring', 'applicationInsightsName')})]`,
            principalType: 'ServicePrincipal',
            conditional: false,
          },
          {
            principal: JSON.stringify("[parameters('principalId')]"),
            roles: [ROLE.iotHubRegistryContributor],
            scope: hubScope(),
            principalType: "[parameters('principalType')]",
            conditional: true, // skipped when AZURE_PRINCIPAL_ID is empty
          },
        ];
        const key = (a: { principal: string; roles: string[] }): string => `${a.principal} ${a.roles.join()}`;
        expect([...got].sort((a, b) => key(a).localeCompare(key(b)))).toEqual(
          [...expected].sort((a, b) => key(a).localeCompare(key(b))),
        );
      });

      it('gives the hub identity its Data Sender role before the hub (identity-based endpoint) is created', () => {
        const hub = main.resources.find(
          (r) => r.type === 'Microsoft.Resources/deployments' && r.name === 'iothub',
        );
        expect(hub?.dependsOn?.join(' ')).toContain("'iothub-routing-role'");
      });

      it('can swap IoT Hub Data Contributor for a custom role that only invokes direct methods', () => {
        expect(main.parameters?.directMethodsOnlyRole?.defaultValue).toBe(false);
        const m = mod('role-assignments');
        const def = only(m, 'Microsoft.Authorization/roleDefinitions');
        expect(inMain(m, def.condition as Json)).toBe("[parameters('directMethodsOnlyRole')]");
        const perms = (def.properties as JsonObject).permissions as JsonObject[];
        expect(perms).toEqual([
          {
            actions: [],
            notActions: [],
            dataActions: ['Microsoft.Devices/IotHubs/directMethods/invoke/action'],
            notDataActions: [],
          },
        ]);
        expect((def.properties as JsonObject).assignableScopes).toEqual(['[resourceGroup().id]']);
        const toHub = m.template.resources.filter(
          (r) =>
            r.type === 'Microsoft.Authorization/roleAssignments' &&
            inMain(m, (r.properties as JsonObject).principalId) !== "[parameters('principalId')]" &&
            inMain(m, r.scope) === hubScope(),
        );
        expect(toHub).toHaveLength(1);
        const assignment = defined(toHub[0], 'role assignment on the hub');
        const roleId = inMain(m, (assignment.properties as JsonObject).roleDefinitionId);
        expect(roleId).toMatch(
          /^\[if\(parameters\('directMethodsOnlyRole'\), resourceId\('Microsoft\.Authorization\/roleDefinitions', guid\(resourceGroup\(\)\.id, 'iothub-direct-methods-invoker'\)\), /,
        );
        expect(def.name).toBe("[guid(resourceGroup().id, 'iothub-direct-methods-invoker')]");
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

      it('exports what azd, the hook and the README need', () => {
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
            'APPLICATIONINSIGHTS_NAME',
          ]),
        );
        expect(main.outputs?.AZURE_FUNCTION_APP_URL?.value).toMatch(/^\[format\('https:\/\/\{0\}', /);
      });
    });
  });
}
