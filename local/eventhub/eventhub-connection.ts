import type { TokenCredential } from '@azure/identity';
import { DefaultAzureCredential, ManagedIdentityCredential } from '@azure/identity';
import type { BindingMetadata, RegisteredFunction } from '../host/functions-core-shim';
import { resolveSettingReferences } from '../host/settings';

/** A trigger's configuration cannot be resolved; `setting` names the app setting to fix, when there is one. */
export class TriggerConfigurationError extends Error {
  override readonly name = 'TriggerConfigurationError';
  constructor(
    message: string,
    readonly setting?: string,
  ) {
    super(message);
  }
}

export type EventHubConnection =
  | {
      readonly kind: 'connectionString';
      /** Secret: never log it. */
      readonly connectionString: string;
      /** Whether the connection string names the Event Hub itself (EntityPath). */
      readonly hasEntityPath: boolean;
      readonly fullyQualifiedNamespace: string;
      /** The app setting it came from. */
      readonly setting: string;
    }
  | {
      readonly kind: 'identity';
      readonly fullyQualifiedNamespace: string;
      readonly credential: TokenCredential;
      readonly credentialDescription: string;
      readonly setting: string;
    };

/** Everything needed to run one Event Hub-triggered function, with settings resolved. */
export interface EventHubTriggerTarget {
  readonly functionName: string;
  readonly bindingName: string;
  readonly binding: BindingMetadata;
  readonly eventHubName: string;
  readonly consumerGroup: string;
  readonly cardinality: 'one' | 'many';
  /** The binding's `dataType` (passed through by @azure/functions v4), lower-cased. */
  readonly dataType: 'string' | 'binary' | 'stream' | undefined;
  readonly connection: EventHubConnection;
  /** Things the user should know that do not stop the function. */
  readonly notes: readonly string[];
}

export type CredentialFactory = (
  kind: 'managedidentity' | 'default',
  clientId: string | undefined,
) => TokenCredential;

const defaultCredentialFactory: CredentialFactory = (kind, clientId) => {
  if (kind === 'managedidentity') {
    return clientId ? new ManagedIdentityCredential({ clientId }) : new ManagedIdentityCredential();
  }
  return new DefaultAzureCredential(clientId ? { managedIdentityClientId: clientId } : {});
};

export function findEventHubTrigger(fn: RegisteredFunction): [string, BindingMetadata] | undefined {
  return Object.entries(fn.bindings).find(([, binding]) => binding.type.toLowerCase() === 'eventhubtrigger');
}

/**
 * Resolves an Event Hub trigger the way the Functions host's Event Hubs extension does: `%NAME%` references in
 * eventHubName, consumerGroup and connection; the connection as an app setting holding a connection string
 * (`<connection>` or `AzureWebJobs<connection>`), or as `<connection>__fullyQualifiedNamespace` with an Entra ID
 * credential (`__credential=managedidentity`, `__clientId`); the connection string's EntityPath wins over
 * eventHubName. Throws TriggerConfigurationError naming what to fix; its message never holds a secret.
 */
export function resolveEventHubTrigger(
  fn: RegisteredFunction,
  settings: Readonly<Record<string, string>>,
  createCredential: CredentialFactory = defaultCredentialFactory,
): EventHubTriggerTarget {
  const found = findEventHubTrigger(fn);
  if (!found) throw new TriggerConfigurationError(`Function ${fn.name} has no eventHubTrigger binding.`);
  const [bindingName, binding] = found;
  const where = `Function ${fn.name}`;
  const resolve = (value: string, what: string) => {
    try {
      return resolveSettingReferences(value, settings, `${where} (${what})`);
    } catch (error) {
      const missing = /%([^%]+)%/.exec(value)?.[1];
      throw new TriggerConfigurationError((error as Error).message, missing);
    }
  };

  const connectionName =
    typeof binding.connection === 'string' ? resolve(binding.connection, 'connection') : '';
  if (connectionName.trim() === '') {
    throw new TriggerConfigurationError(
      `${where}: the eventHubTrigger has no connection; set it to the name of an app setting that holds the Event Hubs connection.`,
    );
  }
  const configuredHub =
    typeof binding.eventHubName === 'string' ? resolve(binding.eventHubName, 'eventHubName') : '';
  const consumerGroupValue =
    typeof binding.consumerGroup === 'string' && binding.consumerGroup !== ''
      ? resolve(binding.consumerGroup, 'consumerGroup')
      : '$Default';
  const consumerGroup = consumerGroupValue === '' ? '$Default' : consumerGroupValue;
  const cardinality =
    typeof binding.cardinality === 'string' && binding.cardinality.toLowerCase() === 'many' ? 'many' : 'one';
  const dataTypeText = typeof binding.dataType === 'string' ? binding.dataType.toLowerCase() : undefined;
  const dataType =
    dataTypeText === 'string' || dataTypeText === 'binary' || dataTypeText === 'stream'
      ? dataTypeText
      : undefined;

  const notes: string[] = [];
  const connection = resolveConnection(connectionName, settings, where, createCredential);
  let eventHubName = configuredHub;
  if (connection.kind === 'connectionString') {
    const entityPath = connectionStringField(connection.connectionString, 'EntityPath');
    if (entityPath) {
      if (configuredHub && configuredHub.toLowerCase() !== entityPath.toLowerCase()) {
        notes.push(
          `the connection string in ${connection.setting} names Event Hub "${entityPath}" (EntityPath), which wins over eventHubName "${configuredHub}", as in Azure.`,
        );
      }
      eventHubName = entityPath;
    }
  }
  if (eventHubName.trim() === '') {
    throw new TriggerConfigurationError(
      `${where}: no Event Hub name: set the trigger's eventHubName (or EntityPath in the connection string).`,
    );
  }
  return {
    functionName: fn.name,
    bindingName,
    binding,
    eventHubName,
    consumerGroup,
    cardinality,
    dataType,
    connection,
    notes,
  };
}

function resolveConnection(
  name: string,
  settings: Readonly<Record<string, string>>,
  where: string,
  createCredential: CredentialFactory,
): EventHubConnection {
  const lowerSettings = new Map(
    Object.entries(settings).map(([key, value]) => [key.toLowerCase(), { key, value }]),
  );
  // As the host's GetWebJobsConnectionStringSection: the name itself, then with the AzureWebJobs prefix.
  for (const candidate of [name, `AzureWebJobs${name}`]) {
    const direct = lowerSettings.get(candidate.toLowerCase());
    if (direct && direct.value.trim() !== '') return fromConnectionString(direct.value, direct.key, where);
    const prefix = `${candidate.toLowerCase()}__`;
    const children = [...lowerSettings.entries()].filter(([key]) => key.startsWith(prefix));
    if (children.length === 0) continue;
    const child = (field: string) =>
      lowerSettings.get(`${prefix}${field.toLowerCase()}`)?.value.trim() || undefined;
    const namespace = child('fullyQualifiedNamespace');
    if (!namespace) {
      throw new TriggerConfigurationError(
        `${where}: the connection ${candidate} has settings ${candidate}__... but no ${candidate}__fullyQualifiedNamespace (e.g. <namespace>.servicebus.windows.net), and ${candidate} holds no connection string.`,
        `${candidate}__fullyQualifiedNamespace`,
      );
    }
    const credentialSetting = child('credential');
    if (credentialSetting !== undefined && credentialSetting.toLowerCase() !== 'managedidentity') {
      throw new TriggerConfigurationError(
        `${where}: ${candidate}__credential must be managedidentity (or be left out for DefaultAzureCredential); got "${credentialSetting}".`,
        `${candidate}__credential`,
      );
    }
    const clientId = child('clientId');
    const kind = credentialSetting ? 'managedidentity' : 'default';
    return {
      kind: 'identity',
      fullyQualifiedNamespace: namespace.replace(/^sb:\/\//i, '').replace(/\/+$/, ''),
      credential: createCredential(kind, clientId),
      credentialDescription: `${kind === 'managedidentity' ? 'ManagedIdentityCredential' : 'DefaultAzureCredential'}${clientId ? ` (client id ${clientId})` : ''}`,
      setting: `${candidate}__fullyQualifiedNamespace`,
    };
  }
  // The host redacts a `connection` that is itself a connection string (a common mistake): do the same.
  const shown = /SharedAccess|Endpoint=/i.test(name)
    ? '<redacted: the binding holds a connection string instead of the name of an app setting>'
    : name;
  throw new TriggerConfigurationError(
    `${where}: the Event Hubs connection setting ${shown} is not defined. Set the app setting ${shown} to an Event Hubs connection string (npm start sets it from the emulator), or ${shown}__fullyQualifiedNamespace for an identity-based connection.`,
    shown,
  );
}

function fromConnectionString(value: string, setting: string, where: string): EventHubConnection {
  if (/<[^<>]*>/.test(value)) {
    throw new TriggerConfigurationError(
      `${where}: the app setting ${setting} still holds a placeholder (<...>). Paste the key printed by npm run emulator, or use npm start, which sets it.`,
      setting,
    );
  }
  const endpoint = connectionStringField(value, 'Endpoint');
  const host = endpoint ? /^sb:\/\/([^/:;]+)(?::\d+)?\/?$/i.exec(endpoint.trim())?.[1] : undefined;
  const hasKey =
    (connectionStringField(value, 'SharedAccessKeyName') &&
      connectionStringField(value, 'SharedAccessKey')) ||
    connectionStringField(value, 'SharedAccessSignature');
  if (!host || !hasKey) {
    throw new TriggerConfigurationError(
      `${where}: the app setting ${setting} is not an Event Hubs connection string: it needs Endpoint=sb://<host>/ and SharedAccessKeyName + SharedAccessKey (or SharedAccessSignature).`,
      setting,
    );
  }
  return {
    kind: 'connectionString',
    connectionString: value,
    hasEntityPath: Boolean(connectionStringField(value, 'EntityPath')),
    fullyQualifiedNamespace: host,
    setting,
  };
}

/** One `Key=value` field of a connection string (keys are case-insensitive; values may contain `=`). */
export function connectionStringField(connectionString: string, key: string): string | undefined {
  for (const part of connectionString.split(';')) {
    const index = part.indexOf('=');
    if (index > 0 && part.slice(0, index).trim().toLowerCase() === key.toLowerCase()) {
      const value = part.slice(index + 1).trim();
      return value === '' ? undefined : value;
    }
  }
  return undefined;
}
