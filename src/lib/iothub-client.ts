import { lookup } from 'node:dns';
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { DefaultAzureCredential } from '@azure/identity';
import { anHourFromNow, NoRetry } from 'azure-iot-common';
import { RestApiClient } from 'azure-iot-http-base';
import { Amqp, Client, Registry, SharedAccessSignature } from 'azure-iothub';
import { SettingsError } from './errors';
import { readIotHubSettings, SETTING, type EmulatorEndpoint, type IotHubSettings } from './settings';

const USER_AGENT = 'iot-direct-methods-functions/0.1';

/** The configuration object azure-iothub's transports and REST client are built from. */
interface ServiceConfig {
  host: string;
  keyName: string;
  sharedAccessSignature?: string | ReturnType<typeof SharedAccessSignature.create>;
  tokenCredential?: DefaultAzureCredential;
  tokenScope?: string;
}

/**
 * azure-iothub always connects to `https://<HostName>:443`. For the emulator, this REST client keeps the hub's
 * host name (tokens stay valid for it) but sends every request through an agent that connects to the emulator's
 * gateway port and trusts its CA. Client and Registry constructors call setOptions with their own agent, so
 * setOptions re-applies ours whatever it is given.
 */
class EmulatorRestApiClient extends RestApiClient {
  private readonly agent: Agent;

  constructor(config: ServiceConfig, endpoint: EmulatorEndpoint) {
    super(config as ConstructorParameters<typeof RestApiClient>[0], USER_AGENT);
    this.agent = emulatorAgent(endpoint);
    super.setOptions({ http: { agent: this.agent } });
  }

  override setOptions(): void {
    super.setOptions({ http: { agent: this.agent } });
  }
}

function emulatorAgent(endpoint: EmulatorEndpoint): Agent {
  let ca: Buffer;
  try {
    ca = readFileSync(endpoint.caPath);
  } catch {
    throw new SettingsError(
      SETTING.emulatorCaCert,
      `Cannot read the emulator's CA certificate at ${endpoint.caPath}. Start the emulator once (it creates the ` +
        `certificate), or set ${SETTING.emulatorCaCert} to the path it prints.`,
    );
  }
  const agent = new Agent({
    keepAlive: true,
    ca,
    servername: endpoint.host,
    // Connect to the emulator whatever the hub's host name resolves to (it does not resolve offline).
    lookup: (_hostname, options, callback) => {
      lookup(endpoint.host, options, callback);
    },
    // The certificate is issued to the gateway (localhost), not to <hub>.azure-devices.net.
    checkServerIdentity: (_hostname: string, certificate: PeerCertificate) =>
      checkServerIdentity(endpoint.host, certificate),
  });
  // Requests carry no port, so they go to the agent's default port: the emulator's.
  (agent as Agent & { defaultPort: number }).defaultPort = endpoint.port;
  return agent;
}

function serviceConfig(settings: IotHubSettings): ServiceConfig {
  if (settings.auth === 'token-credential') {
    return {
      host: settings.hostName,
      keyName: '',
      // In Azure: the app's managed identity (AZURE_CLIENT_ID selects a user-assigned one); locally: az/azd login.
      tokenCredential: new DefaultAzureCredential(),
      tokenScope: 'https://iothubs.azure.net/.default',
    };
  }
  return {
    host: settings.hostName,
    keyName: settings.keyName,
    sharedAccessSignature: SharedAccessSignature.create(
      settings.hostName,
      settings.keyName,
      settings.key,
      anHourFromNow(),
    ),
  };
}

function restClient(settings: IotHubSettings, config: ServiceConfig): RestApiClient {
  return settings.auth === 'shared-access-key' && settings.emulator
    ? new EmulatorRestApiClient(config, settings.emulator)
    : new RestApiClient(config as ConstructorParameters<typeof RestApiClient>[0], USER_AGENT);
}

/**
 * A service client for direct methods. Retries are off: the caller's timeouts bound each call, and the function
 * turns throttling into 429 + Retry-After for its own caller instead of retrying for minutes.
 */
export function createIotHubClient(settings: IotHubSettings = readIotHubSettings()): Client {
  const config = serviceConfig(settings);
  const client = new Client(new Amqp(config), restClient(settings, config) as never);
  client.setRetryPolicy(new NoRetry());
  return client;
}

/** A registry client (device identities) with the same settings and emulator support. */
export function createIotHubRegistry(settings: IotHubSettings = readIotHubSettings()): Registry {
  const config = serviceConfig(settings);
  return new Registry(config, restClient(settings, config) as never);
}

let sharedClient: Client | undefined;

/** One client per process, created on first use and reused, so connections stay alive between invocations. */
export function getIotHubClient(): Client {
  sharedClient ??= createIotHubClient();
  return sharedClient;
}
