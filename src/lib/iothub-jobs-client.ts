import { DefaultAzureCredential } from '@azure/identity';
import { anHourFromNow } from 'azure-iot-common';
import { JobClient, SharedAccessSignature } from 'azure-iothub';
import { EmulatorRestApiClient } from './emulator-gateway';
import { readIotHubSettings, type IotHubSettings } from './settings';

/**
 * azure-iothub's JobClient (jobs v2: scheduled direct methods and twin updates) with the same settings as the other
 * clients: the managed identity in Azure, a connection string locally, the emulator's gateway when the string says
 * UseDevelopmentEmulator=true. (iothub-client.ts builds Client and Registry; JobClient takes its REST client in its
 * constructor, which is all this module needs.)
 */
export function createIotHubJobClient(settings: IotHubSettings = readIotHubSettings()): JobClient {
  if (settings.auth === 'token-credential') {
    return JobClient.fromTokenCredential(settings.hostName, new DefaultAzureCredential());
  }
  if (!settings.emulator) return JobClient.fromConnectionString(settings.connectionString);
  const config = {
    host: settings.hostName,
    keyName: settings.keyName,
    sharedAccessSignature: SharedAccessSignature.create(
      settings.hostName,
      settings.keyName,
      settings.key,
      anHourFromNow(),
    ),
  };
  return new JobClient(new EmulatorRestApiClient(config, settings.emulator) as never);
}

let sharedJobClient: JobClient | undefined;

/** One job client per process, reused between invocations (keep-alive). */
export function getIotHubJobClient(): JobClient {
  sharedJobClient ??= createIotHubJobClient();
  return sharedJobClient;
}
