import { DefaultAzureCredential } from '@azure/identity';
import { anHourFromNow, NoRetry } from 'azure-iot-common';
import { RestApiClient } from 'azure-iot-http-base';
import { Amqp, Client, Registry, SharedAccessSignature } from 'azure-iothub';
import { EmulatorAmqp, EmulatorRestApiClient, type ServiceConfig } from './emulator-gateway';
import { readIotHubSettings, type IotHubSettings } from './settings';
import { USER_AGENT } from './user-agent';

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

/** azure-iothub's AMQP transport (cloud-to-device messages, feedback), through the emulator's port when local. */
function amqpTransport(settings: IotHubSettings, config: ServiceConfig): Amqp {
  if (settings.auth === 'shared-access-key' && settings.emulator) {
    // azure-iothub types its own copy of the AMQP base class; EmulatorAmqp extends the published one, which is
    // the same code (azure-iot-amqp-base), so the transport uses it as it would its own.
    const base = new EmulatorAmqp(settings.emulator) as unknown as ConstructorParameters<typeof Amqp>[1];
    return new Amqp(config, base);
  }
  return new Amqp(config);
}

/**
 * A service client for direct methods (HTTPS) and cloud-to-device messages (AMQP). Retries are off: the caller's
 * timeouts bound each call, and the function turns throttling into 429 + Retry-After for its own caller instead of
 * retrying for minutes.
 */
export function createIotHubClient(settings: IotHubSettings = readIotHubSettings()): Client {
  const config = serviceConfig(settings);
  const client = new Client(amqpTransport(settings, config), restClient(settings, config) as never);
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
