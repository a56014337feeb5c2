import { lookup } from 'node:dns';
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import type { DefaultAzureCredential } from '@azure/identity';
import { RestApiClient } from 'azure-iot-http-base';
import type { SharedAccessSignature } from 'azure-iothub';
import { SettingsError } from './errors';
import { SETTING, type EmulatorEndpoint } from './settings';
import { USER_AGENT } from './user-agent';

/**
 * The one place where deployed code adapts to the local emulator: a connection string with
 * `UseDevelopmentEmulator=true` (settings.ts reads it) makes iothub-client.ts use this REST client. Against Azure
 * nothing here runs.
 */

/** The configuration object azure-iothub's transports and REST client are built from. */
export interface ServiceConfig {
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
export class EmulatorRestApiClient extends RestApiClient {
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
