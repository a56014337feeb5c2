import { lookup } from 'node:dns';
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import type { DefaultAzureCredential } from '@azure/identity';
import { Amqp as AmqpBase, type AmqpBaseTransportConfig } from 'azure-iot-amqp-base';
import { RestApiClient } from 'azure-iot-http-base';
import type { SharedAccessSignature } from 'azure-iothub';
import { SettingsError } from './errors';
import { SETTING, type EmulatorEndpoint, type GatewayAddress } from './settings';
import { USER_AGENT } from './user-agent';

/**
 * The one place where deployed code adapts to the local emulator: a connection string with
 * `UseDevelopmentEmulator=true` (settings.ts reads it) makes iothub-client.ts use this REST client and this AMQP
 * connection. Against Azure nothing here runs.
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

/**
 * azure-iothub's Amqp transport (C2D sends, the feedback receiver) always connects to `amqps://<HostName>` on port
 * 5671 and trusts only the system CAs. This AMQP connection, given to that transport for the emulator, connects to
 * the emulator's IoT Hub AMQPS port instead and trusts its CA. Only the socket's address changes: the transport
 * still puts its CBS token for the hub's HostName, so tokens stay valid.
 */
export class EmulatorAmqp extends AmqpBase {
  private readonly uri: string;
  private readonly ca: Buffer;

  constructor(endpoint: EmulatorEndpoint) {
    // azure-iothub builds its own AMQP connection the same way: messages settled automatically.
    super(true);
    this.uri = amqpsUri(endpoint.amqp);
    this.ca = readEmulatorCa(endpoint);
  }

  override connect(config: AmqpBaseTransportConfig, done: Parameters<AmqpBase['connect']>[1]): void {
    const sslOptions = { ...(config.sslOptions as Record<string, unknown> | undefined), ca: this.ca };
    super.connect({ ...config, uri: this.uri, sslOptions }, done);
  }
}

/** `amqps://host:port`, with an IPv6 host in brackets. */
export function amqpsUri(address: GatewayAddress): string {
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return `amqps://${host}:${address.port}`;
}

function readEmulatorCa(endpoint: EmulatorEndpoint): Buffer {
  try {
    return readFileSync(endpoint.caPath);
  } catch {
    throw new SettingsError(
      SETTING.emulatorCaCert,
      `Cannot read the emulator's CA certificate at ${endpoint.caPath}. Start the emulator once (it creates the ` +
        `certificate), or set ${SETTING.emulatorCaCert} to the path it prints.`,
    );
  }
}

function emulatorAgent(endpoint: EmulatorEndpoint): Agent {
  const ca = readEmulatorCa(endpoint);
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
