import { isAbsolute, resolve } from 'node:path';
import { parseConnectionString } from './connection-string';
import { SettingsError } from './errors';

export const SETTING = {
  serviceConnectionString: 'IOTHUB_SERVICE_CONNECTION_STRING',
  hostName: 'IOTHUB_HOST_NAME',
  emulatorCaCert: 'IOTHUB_EMULATOR_CA_CERT',
} as const;

/** Where the emulator keeps its CA certificate by default, relative to the working directory. */
export const DEFAULT_EMULATOR_CA_CERT = '.iothub-emulator/certs/ca.pem';
const DEFAULT_EMULATOR_GATEWAY = { host: 'localhost', port: 8443 };
/** IoT Hub's own AMQPS port, where the emulator serves it unless the connection string says otherwise. */
const DEFAULT_EMULATOR_AMQP_GATEWAY = { host: 'localhost', port: 5671 };

/** Where one of the emulator's endpoints really listens. */
export interface GatewayAddress {
  readonly host: string;
  readonly port: number;
}

export interface EmulatorEndpoint {
  /** Where the emulator's HTTPS endpoint (the service REST API) really listens. */
  readonly host: string;
  readonly port: number;
  /** Where its IoT Hub AMQPS endpoint listens: cloud-to-device messages and feedback (azure-iothub's Amqp). */
  readonly amqp: GatewayAddress;
  /** The emulator's CA certificate file. */
  readonly caPath: string;
}

export type IotHubSettings =
  | {
      readonly auth: 'shared-access-key';
      readonly hostName: string;
      readonly connectionString: string;
      readonly keyName: string;
      readonly key: string;
      /** Present when the connection string says UseDevelopmentEmulator=true. */
      readonly emulator?: EmulatorEndpoint;
    }
  | { readonly auth: 'token-credential'; readonly hostName: string };

const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

/**
 * How the functions reach IoT Hub: a service connection string (local development, the emulator) or, in Azure,
 * the hub's host name with a managed identity. Errors name the setting to fix and never echo secrets.
 */
export function readIotHubSettings(env: NodeJS.ProcessEnv = process.env): IotHubSettings {
  const connectionString = env[SETTING.serviceConnectionString]?.trim();
  if (connectionString) return fromConnectionString(connectionString, env);
  const hostName = env[SETTING.hostName]?.trim();
  if (hostName) {
    if (!HOST_NAME.test(hostName)) {
      throw new SettingsError(
        SETTING.hostName,
        `${SETTING.hostName} must be the hub's host name, like "my-hub.azure-devices.net" (no scheme, path or port).`,
      );
    }
    return { auth: 'token-credential', hostName };
  }
  throw new SettingsError(
    SETTING.serviceConnectionString,
    `Set ${SETTING.hostName} (Azure, with a managed identity) or ${SETTING.serviceConnectionString} ` +
      '(a service connection string, e.g. the one the local emulator prints).',
  );
}

function fromConnectionString(connectionString: string, env: NodeJS.ProcessEnv): IotHubSettings {
  const name = SETTING.serviceConnectionString;
  const fields = parseConnectionString(connectionString);
  if (!fields)
    throw new SettingsError(name, `${name} is not a connection string (Key=Value pairs separated by ";").`);
  const hostName = fields.get('HostName');
  const keyName = fields.get('SharedAccessKeyName');
  const key = fields.get('SharedAccessKey');
  const missing = [
    !hostName && 'HostName',
    !keyName && 'SharedAccessKeyName',
    !key && 'SharedAccessKey',
  ].filter(Boolean);
  if (!hostName || !keyName || !key) {
    throw new SettingsError(
      name,
      `${name} lacks ${missing.join(', ')}. Use a shared access policy connection string (e.g. policy "service"), ` +
        'not a device connection string.',
    );
  }
  if (!HOST_NAME.test(hostName)) throw new SettingsError(name, `${name} has an invalid HostName.`);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(key))
    throw new SettingsError(name, `${name} has a SharedAccessKey that is not base64.`);

  const useEmulator = fields.get('UseDevelopmentEmulator');
  if (useEmulator === undefined || /^false$/i.test(useEmulator)) {
    return { auth: 'shared-access-key', hostName, connectionString, keyName, key };
  }
  if (!/^true$/i.test(useEmulator)) {
    throw new SettingsError(name, `${name} has UseDevelopmentEmulator=${useEmulator}; use true or false.`);
  }
  const { host, port } = readGateway(fields, 'GatewayHostName', DEFAULT_EMULATOR_GATEWAY);
  const amqp = readGateway(fields, 'AmqpGatewayHostName', DEFAULT_EMULATOR_AMQP_GATEWAY);
  const caSetting = env[SETTING.emulatorCaCert]?.trim() || DEFAULT_EMULATOR_CA_CERT;
  const caPath = isAbsolute(caSetting) ? caSetting : resolve(caSetting);
  return {
    auth: 'shared-access-key',
    hostName,
    connectionString,
    keyName,
    key,
    emulator: { host, port, amqp, caPath },
  };
}

/** A `host:port` key of the emulator's connection string (an IPv6 host in brackets); the default when absent. */
function readGateway(
  fields: ReadonlyMap<string, string>,
  key: 'GatewayHostName' | 'AmqpGatewayHostName',
  fallback: GatewayAddress,
): GatewayAddress {
  const value = fields.get(key);
  if (!value) return fallback;
  const match = /^([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\])(?::(\d{1,5}))?$/.exec(value);
  const port = match?.[2] === undefined ? fallback.port : Number(match[2]);
  if (!match?.[1] || port < 1 || port > 65535) {
    const name = SETTING.serviceConnectionString;
    throw new SettingsError(
      name,
      `${name} has an invalid ${key}; use host:port, e.g. ${fallback.host}:${fallback.port}.`,
    );
  }
  return { host: match[1].replace(/^\[|\]$/g, ''), port };
}
