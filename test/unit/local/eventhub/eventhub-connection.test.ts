import type { TokenCredential } from '@azure/identity';
import {
  resolveEventHubTrigger,
  TriggerConfigurationError,
  type CredentialFactory,
} from '../../../../local/eventhub/eventhub-connection';
import type { RegisteredFunction } from '../../../../local/host/functions-core-shim';
import { isFunctionDisabled } from '../../../../local/host/settings';

const KEY = Buffer.alloc(32, 7).toString('base64');
const CONNECTION = `Endpoint=sb://localhost:5672/;SharedAccessKeyName=service;SharedAccessKey=${KEY};EntityPath=local-iothub;UseDevelopmentEmulator=true`;

function eventHubFunction(binding: Record<string, unknown>): RegisteredFunction {
  return {
    name: 'telemetry',
    bindings: { eventHubTrigger1a2b: { type: 'eventHubTrigger', direction: 'in', ...binding } },
    handler: () => undefined,
  };
}

const APP_BINDING = {
  connection: 'IOTHUB_EVENTS_CONNECTION',
  eventHubName: '%IOTHUB_EVENTS_HUB_NAME%',
  consumerGroup: '%IOTHUB_EVENTS_CONSUMER_GROUP%',
  cardinality: 'many',
  dataType: 'string',
};

const fakeCredential: TokenCredential = { getToken: () => Promise.resolve(null) };
const credentials: { kind: string; clientId: string | undefined }[] = [];
const recordingFactory: CredentialFactory = (kind, clientId) => {
  credentials.push({ kind, clientId });
  return fakeCredential;
};

function errorOf(action: () => unknown): TriggerConfigurationError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(TriggerConfigurationError);
    return error as TriggerConfigurationError;
  }
  throw new Error('expected a TriggerConfigurationError');
}

describe('Event Hub trigger resolution', () => {
  beforeEach(() => {
    credentials.length = 0;
  });

  it('resolves %NAME% references and a connection string setting', () => {
    const target = resolveEventHubTrigger(eventHubFunction(APP_BINDING), {
      IOTHUB_EVENTS_CONNECTION: CONNECTION,
      IOTHUB_EVENTS_HUB_NAME: 'local-iothub',
      IOTHUB_EVENTS_CONSUMER_GROUP: 'telemetry-readers',
    });
    expect(target).toMatchObject({
      functionName: 'telemetry',
      bindingName: 'eventHubTrigger1a2b',
      eventHubName: 'local-iothub',
      consumerGroup: 'telemetry-readers',
      cardinality: 'many',
      dataType: 'string',
      connection: {
        kind: 'connectionString',
        connectionString: CONNECTION,
        hasEntityPath: true,
        fullyQualifiedNamespace: 'localhost',
        setting: 'IOTHUB_EVENTS_CONNECTION',
      },
      notes: [],
    });
  });

  it('defaults to $Default and cardinality one, and finds AzureWebJobs<name> like the host', () => {
    const target = resolveEventHubTrigger(eventHubFunction({ connection: 'Hub', eventHubName: 'h1' }), {
      AzureWebJobsHub: CONNECTION.replace(';EntityPath=local-iothub', ''),
    });
    expect(target).toMatchObject({
      eventHubName: 'h1',
      consumerGroup: '$Default',
      cardinality: 'one',
      dataType: undefined,
      connection: { setting: 'AzureWebJobsHub', hasEntityPath: false },
    });
  });

  it("lets the connection string's EntityPath win over eventHubName, and says so", () => {
    const target = resolveEventHubTrigger(eventHubFunction({ connection: 'C', eventHubName: 'other-hub' }), {
      C: CONNECTION,
    });
    expect(target.eventHubName).toBe('local-iothub');
    expect(target.notes).toEqual([
      expect.stringMatching(/names Event Hub "local-iothub" \(EntityPath\), which wins/),
    ]);
  });

  it('uses an identity-based connection: DefaultAzureCredential, or a managed identity with a client id', () => {
    const target = resolveEventHubTrigger(eventHubFunction({ connection: 'EH', eventHubName: 'hub' }), {
      EH__fullyQualifiedNamespace: 'myns.servicebus.windows.net',
    });
    expect(target.connection).toMatchObject({
      kind: 'identity',
      fullyQualifiedNamespace: 'myns.servicebus.windows.net',
      credentialDescription: 'DefaultAzureCredential',
      setting: 'EH__fullyQualifiedNamespace',
    });
    resolveEventHubTrigger(
      eventHubFunction({ connection: 'EH', eventHubName: 'hub' }),
      {
        eh__fullyqualifiednamespace: 'sb://myns.servicebus.windows.net/',
        EH__credential: 'managedidentity',
        EH__clientId: '00000000-0000-0000-0000-000000000001',
      },
      recordingFactory,
    );
    resolveEventHubTrigger(
      eventHubFunction({ connection: 'EH', eventHubName: 'hub' }),
      { EH__fullyQualifiedNamespace: 'myns.servicebus.windows.net' },
      recordingFactory,
    );
    expect(credentials).toEqual([
      { kind: 'managedidentity', clientId: '00000000-0000-0000-0000-000000000001' },
      { kind: 'default', clientId: undefined },
    ]);
  });

  it('names the missing setting, never showing a connection string', () => {
    const missing = errorOf(() =>
      resolveEventHubTrigger(eventHubFunction(APP_BINDING), {
        IOTHUB_EVENTS_HUB_NAME: 'local-iothub',
        IOTHUB_EVENTS_CONSUMER_GROUP: '$Default',
      }),
    );
    expect(missing.setting).toBe('IOTHUB_EVENTS_CONNECTION');
    expect(missing.message).toMatch(
      /Function telemetry: the Event Hubs connection setting IOTHUB_EVENTS_CONNECTION is not defined\. Set the app setting IOTHUB_EVENTS_CONNECTION .* or IOTHUB_EVENTS_CONNECTION__fullyQualifiedNamespace/,
    );

    const reference = errorOf(() =>
      resolveEventHubTrigger(eventHubFunction(APP_BINDING), { IOTHUB_EVENTS_CONNECTION: CONNECTION }),
    );
    expect(reference.setting).toBe('IOTHUB_EVENTS_HUB_NAME');
    expect(reference.message).toMatch(
      /refers to %IOTHUB_EVENTS_HUB_NAME%, but no app setting IOTHUB_EVENTS_HUB_NAME/,
    );

    // A connection string pasted into the binding instead of a setting name.
    const pasted = errorOf(() =>
      resolveEventHubTrigger(eventHubFunction({ connection: CONNECTION, eventHubName: 'h' }), {}),
    );
    expect(pasted.message).toMatch(/<redacted: the binding holds a connection string/);
    expect(pasted.message).not.toContain(KEY);
  });

  it('refuses placeholders, malformed connection strings and incomplete identity settings', () => {
    const placeholder = errorOf(() =>
      resolveEventHubTrigger(eventHubFunction({ connection: 'C', eventHubName: 'h' }), {
        C: CONNECTION.replace(KEY, '<paste the key printed by npm run emulator>'),
      }),
    );
    expect(placeholder.message).toMatch(/C still holds a placeholder/);

    const malformed = errorOf(() =>
      resolveEventHubTrigger(eventHubFunction({ connection: 'C', eventHubName: 'h' }), {
        C: `HostName=x.azure-devices.net;SharedAccessKeyName=service;SharedAccessKey=${KEY}`,
      }),
    );
    expect(malformed.message).toMatch(
      /the app setting C is not an Event Hubs connection string: it needs Endpoint=sb:/,
    );
    expect(malformed.message).not.toContain(KEY);

    expect(
      errorOf(() =>
        resolveEventHubTrigger(eventHubFunction({ connection: 'EH', eventHubName: 'h' }), {
          EH__clientId: 'x',
        }),
      ).setting,
    ).toBe('EH__fullyQualifiedNamespace');
    expect(
      errorOf(() =>
        resolveEventHubTrigger(eventHubFunction({ connection: 'EH', eventHubName: 'h' }), {
          EH__fullyQualifiedNamespace: 'ns.servicebus.windows.net',
          EH__credential: 'clientsecret',
        }),
      ).message,
    ).toMatch(/EH__credential must be managedidentity/);
    expect(
      errorOf(() =>
        resolveEventHubTrigger(eventHubFunction({ connection: 'C', eventHubName: '' }), {
          C: CONNECTION.replace(';EntityPath=local-iothub', ''),
        }),
      ).message,
    ).toMatch(/no Event Hub name/);
  });

  it('disables a function with AzureWebJobs.<name>.Disabled', () => {
    expect(isFunctionDisabled('telemetry', { 'AzureWebJobs.telemetry.Disabled': 'true' })).toBe(true);
    expect(isFunctionDisabled('telemetry', { AzureWebJobs__telemetry__Disabled: '1' })).toBe(true);
    expect(isFunctionDisabled('telemetry', { 'AzureWebJobs.telemetry.Disabled': 'false' })).toBe(false);
    expect(isFunctionDisabled('telemetry', { 'AzureWebJobs.other.Disabled': 'true' })).toBe(false);
  });
});
