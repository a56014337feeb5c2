import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import {
  ensureDeviceCertificateFiles,
  issueDeviceCertificate,
  loadOrCreateTlsMaterial,
  readEmulatorCa,
  type DeviceCertificate,
  type DeviceCertificateRequest,
  type TlsMaterial,
} from './certificates';
import { DEFAULT_CONSUMER_GROUPS, resolveEmulatorOptions, type EmulatorOptions } from './config/options';
import { Dashboard, type DashboardOptions } from './dashboard/dashboard';
import { IotHub } from './hub/hub';
import { persistCertificateAuthorities, registerCaFiles } from './hub/auth/ca-file';
import { consoleLogger, type Logger } from './log';
import { EventHubEndpoint } from './transports/amqp/event-hub-endpoint';
import { IotHubAmqpEndpoint } from './transports/amqp/iothub-endpoint';
import { HttpsFront } from './transports/https/https-front';
import { MqttFront } from './transports/mqtt/mqtt-front';
import { WebSocketGateway } from './transports/websocket/websocket-gateway';
import { explainListenError, type ListenTarget } from './config/listen-errors';
import {
  onStandardPorts,
  sdkDeviceConnectionStrings,
  sdkServiceConnectionStrings,
  type SdkConnectionString,
  type SdkEndpoints,
} from './config/sdk-connection-strings';

export type { EmulatorOptions } from './config/options';
export { DEFAULT_CONSUMER_GROUPS, EMULATOR_DEFAULTS } from './config/options';

/** What a running emulator holds, for diagnostics and tests. */
export interface EmulatorStats {
  /** Resident memory of the emulator process, in bytes. */
  readonly residentBytes: number;
  readonly connectedDevices: number;
  /** Connections accepted on the MQTT port that have not authenticated yet. */
  readonly pendingDeviceConnections: number;
  /** Messages the MQTT broker keeps for later subscribers (IoT Hub keeps none). */
  readonly retainedMessages: number;
}

/** Everything a client needs to reach a running emulator. */
export interface EmulatorInfo {
  readonly hubName: string;
  readonly hostName: string;
  readonly mqttPort: number;
  readonly httpsPort: number;
  /** IoT Hub's own AMQP endpoint (AMQP over TLS) for devices and services. */
  readonly iothubAmqpsPort: number;
  /** Event Hub-compatible endpoint: plain AMQP, and AMQP over TLS when enabled. */
  readonly amqpPort: number;
  readonly amqpsPort: number | undefined;
  readonly eventHubName: string;
  readonly partitionCount: number;
  readonly consumerGroups: readonly string[];
  readonly caPath: string;
  readonly dataDir: string;
  readonly serviceConnectionString: string;
  /** For Event Hubs clients: `Endpoint=sb://localhost:<amqp port>/;...;EntityPath=<hub>;UseDevelopmentEmulator=true`. */
  readonly eventHubConnectionString: string;
  /** `http://127.0.0.1:<port>/?token=<token>` (a new token each start); undefined when the dashboard is off. */
  readonly dashboardUrl: string | undefined;
  /** The host the connection strings name as the gateway (`localhost`). */
  readonly gatewayHost: string;
  /** Whether HTTPS, MQTT and IoT Hub's AMQP listen on Azure's ports (443, 8883, 5671): `--standard-ports`. */
  readonly standardPorts: boolean;
  /** Service connection strings (iothubowner) that unmodified SDKs of any language take, and which ones. */
  readonly sdkServiceConnectionStrings: readonly SdkConnectionString[];
}

interface Fronts {
  readonly mqtt: MqttFront;
  readonly https: HttpsFront;
  readonly iothubAmqp: IotHubAmqpEndpoint;
  readonly eventHub: EventHubEndpoint;
  readonly dashboard: Dashboard | undefined;
}

/** The device transports a connection string can point at. */
export type DeviceTransport = 'mqtt' | 'amqp';

/** A device's two symmetric keys. */
export type DeviceKeyName = 'primary' | 'secondary';

/**
 * The local IoT Hub: the hub core (emulator/hub) with its protocol fronts (emulator/transports) over one TLS
 * identity. This class only assembles the parts and writes connection strings.
 */
export class Emulator {
  private constructor(
    readonly hub: IotHub,
    readonly dataDir: string,
    private readonly gatewayHost: string,
    private readonly tls: TlsMaterial,
    private readonly fronts: Fronts,
    /** The devices named at start (`--device`), made again by `reset`. */
    private readonly startDevices: readonly string[],
  ) {}

  static async start(given: EmulatorOptions = {}): Promise<Emulator> {
    const options = resolveEmulatorOptions(given);
    const log = given.log ?? consoleLogger;
    const dataDir = resolve(options.dataDir);
    if (options.reset) await rm(dataDir, { recursive: true, force: true });
    const tls = await loadOrCreateTlsMaterial(dataDir, `${options.hubName}.azure-devices.net`);
    const hub = await IotHub.open({
      hubName: options.hubName,
      dataDir,
      devices: options.devices,
      partitionCount: options.partitionCount,
      // `functions` always exists, as `azd up` creates it in Azure: the local function app reads with it, so that
      // `$Default` stays free for other readers (a script, `az iot hub monitor-events`).
      consumerGroups: [...new Set([...DEFAULT_CONSUMER_GROUPS, ...options.consumerGroups])].filter(
        (group) => group.toLowerCase() !== '$default',
      ),
      retentionHours: options.retentionHours,
      maxPartitionMiB: options.maxPartitionMiB,
      fsync: options.fsync,
      log,
    });
    try {
      await setUpX509(hub, dataDir, tls, options.caCertificates, options.x509Devices);
    } catch (error) {
      await hub.close();
      throw error;
    }
    const common = {
      host: options.bindAddress,
      tls,
      hub,
      pendingLimits: {
        maxPending: options.maxPendingConnections,
        timeoutMs: options.handshakeTimeoutSeconds * 1000,
      },
      log,
    };
    // Started in order and unwound in reverse if a later one fails (a port in use, say).
    const started: { close: () => Promise<void> }[] = [];
    try {
      const mqtt = await MqttFront.start({ ...common, port: options.mqttPort });
      started.push(mqtt);
      const https = await HttpsFront.start({ ...common, port: options.httpsPort });
      started.push(https);
      const eventHub = await EventHubEndpoint.start({
        ...common,
        port: options.amqpPort,
        tlsPort: options.amqpsPort,
      });
      started.push(eventHub);
      const iothubAmqp = await IotHubAmqpEndpoint.start({
        ...common,
        tlsPort: options.iothubAmqpsPort,
        // Readers of the hub's /messages/events go to the Event Hub-compatible endpoint, over TLS when it has it.
        eventHub: () => ({
          host: options.gatewayHost,
          port: eventHub.tlsPort ?? eventHub.port,
          tls: eventHub.tlsPort !== undefined,
        }),
      });
      started.push(iothubAmqp);
      // MQTT and AMQP over WebSockets on the HTTPS port, as IoT Hub serves them on 443.
      const webSockets = new WebSocketGateway({
        mqtt: (stream, socket) => {
          mqtt.acceptStream(stream, socket);
        },
        amqp: (stream, socket) => {
          iothubAmqp.acceptStream(stream, socket);
        },
        log,
      });
      https.onUpgrade((request, socket, head) => {
        webSockets.upgrade(request, socket, head);
      });
      // Tokens may also name the hub `localhost:<port>` for the ports it listens on (`HostName=localhost:<port>`).
      hub.names.listeningOn([mqtt.port, https.port, iothubAmqp.tlsPort], options.gatewayHost);
      const ports = { mqtt: mqtt.port, amqp: iothubAmqp.tlsPort };
      const dashboard = options.dashboard
        ? await startDashboard(hub, options.dashboardPort, log, (deviceId, key, transport) =>
            deviceConnectionString(hub, options.gatewayHost, ports, deviceId, transport, key),
          )
        : undefined;
      return new Emulator(
        hub,
        dataDir,
        options.gatewayHost,
        tls,
        {
          mqtt,
          https,
          iothubAmqp,
          eventHub,
          dashboard,
        },
        options.devices,
      );
    } catch (error) {
      for (const part of started.reverse()) await part.close();
      await hub.close();
      throw explainListenError(error, options.bindAddress, listenTargets(options));
    }
  }

  get info(): EmulatorInfo {
    const { hub, fronts } = this;
    return {
      hubName: hub.hubName,
      hostName: hub.hostName,
      mqttPort: fronts.mqtt.port,
      httpsPort: fronts.https.port,
      iothubAmqpsPort: fronts.iothubAmqp.tlsPort,
      amqpPort: fronts.eventHub.port,
      amqpsPort: fronts.eventHub.tlsPort,
      eventHubName: hub.hubName,
      partitionCount: hub.telemetry.partitionCount,
      consumerGroups: ['$Default', ...hub.consumerGroups],
      caPath: this.tls.caPath,
      dataDir: this.dataDir,
      serviceConnectionString: this.serviceConnectionString('iothubowner'),
      eventHubConnectionString: this.eventHubConnectionString('service'),
      dashboardUrl: fronts.dashboard?.url,
      gatewayHost: this.gatewayHost,
      standardPorts: onStandardPorts(this.sdkEndpoints),
      sdkServiceConnectionStrings: sdkServiceConnectionStrings(this.sdkEndpoints, {
        keyName: 'iothubowner',
        key: this.policy('iothubowner').primaryKey,
      }),
    };
  }

  /**
   * Connection strings of a device that unmodified SDKs of any language take as they are, and which ones:
   * `HostName=localhost` on the standard ports (see docs/any-language.md).
   */
  sdkDeviceConnectionStrings(deviceId: string): SdkConnectionString[] {
    const { primaryKey } = this.hub.registry.get(deviceId);
    return sdkDeviceConnectionStrings(this.sdkEndpoints, deviceId, primaryKey);
  }

  private get sdkEndpoints(): SdkEndpoints {
    return {
      hubHostName: this.hub.hostName,
      gatewayHost: this.gatewayHost,
      httpsPort: this.fronts.https.port,
      mqttPort: this.fronts.mqtt.port,
      iothubAmqpsPort: this.fronts.iothubAmqp.tlsPort,
    };
  }

  /**
   * The built-in endpoint's connection string, as the portal shows it for IoT Hub, pointing at the local AMQP
   * port. `UseDevelopmentEmulator=true` makes the Event Hubs clients (JS and .NET) use plain AMQP there.
   */
  eventHubConnectionString(policyName = 'service'): string {
    const policy = this.policy(policyName);
    return (
      `Endpoint=sb://${this.gatewayHost}:${this.fronts.eventHub.port}/;SharedAccessKeyName=${policy.keyName};` +
      `SharedAccessKey=${policy.primaryKey};EntityPath=${this.hub.hubName};UseDevelopmentEmulator=true`
    );
  }

  /**
   * A service connection string in Azure's shape plus `GatewayHostName` (where the HTTPS endpoint listens),
   * `AmqpGatewayHostName` (where IoT Hub's AMQP endpoint listens) and `UseDevelopmentEmulator=true`, the
   * convention of Microsoft's emulators, which tells our code to use them.
   */
  serviceConnectionString(policyName = 'iothubowner'): string {
    const policy = this.policy(policyName);
    return (
      `HostName=${this.hub.hostName};SharedAccessKeyName=${policy.keyName};SharedAccessKey=${policy.primaryKey};` +
      `GatewayHostName=${this.gatewayHost}:${this.fronts.https.port};` +
      `AmqpGatewayHostName=${this.gatewayHost}:${this.fronts.iothubAmqp.tlsPort};UseDevelopmentEmulator=true`
    );
  }

  /**
   * A device connection string that the unmodified device SDK uses: TLS to the gateway port of the transport
   * (MQTT or AMQP), tokens for the hub.
   */
  deviceConnectionString(
    deviceId: string,
    transport: DeviceTransport = 'mqtt',
    key: DeviceKeyName = 'primary',
  ): string {
    const ports = { mqtt: this.fronts.mqtt.port, amqp: this.fronts.iothubAmqp.tlsPort };
    return deviceConnectionString(this.hub, this.gatewayHost, ports, deviceId, transport, key);
  }

  /**
   * Back to a fresh registry between tests: every device goes (with its modules, twin and cloud-to-device queue,
   * and its connections), then the devices named at start are created again with new keys. Telemetry already
   * written stays in the Event Hub-compatible endpoint, as sequence numbers never go back: read from `latest` or
   * an enqueued time.
   */
  async reset(): Promise<void> {
    for (const record of this.hub.registry.records()) this.hub.registry.delete(record.deviceId);
    await this.hub.ensureDevices(this.startDevices);
  }

  /**
   * Issues a device certificate for local use: `self-signed` (register its thumbprint on a `selfSigned` device)
   * or `ca-signed` by the emulator's CA, which the hub trusts as `emulator-ca` (for a `certificateAuthority`
   * device whose id is the certificate's CN).
   */
  async issueDeviceCertificate(request: DeviceCertificateRequest): Promise<DeviceCertificate> {
    return issueDeviceCertificate(request, await readEmulatorCa(this.dataDir));
  }

  /**
   * Creates the modules that do not exist yet (their devices too), persists the registry and returns each
   * module's connection string (MQTT), keyed `<deviceId>/<moduleId>`.
   */
  async ensureModules(
    modules: readonly { readonly deviceId: string; readonly moduleId: string }[],
  ): Promise<Record<string, string>> {
    for (const { deviceId, moduleId } of modules) {
      this.hub.registry.ensure(deviceId);
      if (!this.hub.modules.find(deviceId, moduleId)) this.hub.modules.put(deviceId, moduleId, {});
    }
    await this.hub.saveRegistry();
    return Object.fromEntries(
      modules.map(({ deviceId, moduleId }) => {
        const module = this.hub.modules.get(deviceId, moduleId);
        const connectionString =
          `HostName=${this.hub.hostName};DeviceId=${deviceId};ModuleId=${moduleId};` +
          `SharedAccessKey=${module.primaryKey};GatewayHostName=${this.gatewayHost}:${this.fronts.mqtt.port}`;
        return [`${deviceId}/${moduleId}`, connectionString];
      }),
    );
  }

  async stats(): Promise<EmulatorStats> {
    const mqtt = await this.fronts.mqtt.stats();
    return {
      residentBytes: process.memoryUsage.rss(),
      connectedDevices: this.hub.connections.size,
      pendingDeviceConnections: mqtt.pendingConnections,
      retainedMessages: mqtt.retainedMessages,
    };
  }

  async stop(): Promise<void> {
    const { mqtt, https, iothubAmqp, eventHub, dashboard } = this.fronts;
    // The dashboard first: it only watches, and its streams must not hold the process open.
    await dashboard?.close();
    await Promise.all([https.close(), mqtt.close(), iothubAmqp.close(), eventHub.close()]);
    // After the fronts: telemetry accepted before they closed is written and acknowledged first.
    await this.hub.close();
  }

  private policy(name: string) {
    const policy = this.hub.policy(name);
    if (!policy) throw new Error(`Unknown policy ${name}`);
    return policy;
  }
}

function deviceConnectionString(
  hub: IotHub,
  gatewayHost: string,
  ports: { readonly mqtt: number; readonly amqp: number },
  deviceId: string,
  transport: DeviceTransport,
  key: DeviceKeyName,
): string {
  const device = hub.registry.get(deviceId);
  // An X.509 device has no key: the SDK takes its certificate through `setOptions({ cert, key })`.
  if ((device.authType ?? 'sas') !== 'sas') {
    return `HostName=${hub.hostName};DeviceId=${deviceId};x509=true;GatewayHostName=${gatewayHost}:${ports[transport]}`;
  }
  const sharedAccessKey = key === 'secondary' ? device.secondaryKey : device.primaryKey;
  return `HostName=${hub.hostName};DeviceId=${deviceId};SharedAccessKey=${sharedAccessKey};GatewayHostName=${gatewayHost}:${ports[transport]}`;
}

/**
 * X.509 at start: the registered CAs loaded (and kept on disk), the emulator's own CA trusted as `emulator-ca`, the
 * `--ca-certificate` files registered, and each `--x509-device` created as a `certificateAuthority` device with
 * its certificate written to `<dataDir>/devices/`.
 */
async function setUpX509(
  hub: IotHub,
  dataDir: string,
  tls: TlsMaterial,
  caFiles: readonly string[],
  x509Devices: readonly string[],
): Promise<void> {
  const authorities = hub.registry.certificateAuthorities;
  await persistCertificateAuthorities(authorities, dataDir);
  authorities.trustBuiltIn(EMULATOR_CA_NAME, tls.ca);
  await registerCaFiles(authorities, caFiles);
  if (x509Devices.length === 0) return;
  const ca = await readEmulatorCa(dataDir);
  for (const deviceId of x509Devices) {
    if (!hub.registry.find(deviceId)) {
      hub.registry.put(deviceId, { authentication: { type: 'certificateAuthority' } });
    }
    await ensureDeviceCertificateFiles(dataDir, deviceId, ca);
  }
  await hub.saveRegistry();
}

/** The name under which the emulator's own CA is trusted for X.509 devices. */
export const EMULATOR_CA_NAME = 'emulator-ca';

/** The ports a start may fail to get, named as the listen error's message names them. */
function listenTargets(options: {
  readonly httpsPort: number;
  readonly mqttPort: number;
  readonly iothubAmqpsPort: number;
  readonly amqpPort: number;
  readonly amqpsPort?: number | undefined;
}): ListenTarget[] {
  return [
    { port: options.httpsPort, what: 'HTTPS: REST and WebSockets', flag: '--https-port' },
    { port: options.mqttPort, what: 'MQTT over TLS', flag: '--mqtt-port' },
    { port: options.iothubAmqpsPort, what: "IoT Hub's AMQP over TLS", flag: '--iothub-amqps-port' },
    { port: options.amqpPort, what: 'Event Hub-compatible AMQP', flag: '--amqp-port' },
    ...(options.amqpsPort === undefined
      ? []
      : [{ port: options.amqpsPort, what: 'Event Hub-compatible AMQP over TLS', flag: '--amqps-port' }]),
  ].filter((target) => target.port > 0);
}

/** The dashboard, with a message that says what to do when its port is taken. */
async function startDashboard(
  hub: IotHub,
  port: number,
  log: Logger,
  connectionString: DashboardOptions['connectionString'],
): Promise<Dashboard> {
  try {
    return await Dashboard.start({ hub, port, log, connectionString });
  } catch (error) {
    throw new Error(
      `The dashboard could not listen on 127.0.0.1:${port} (${(error as Error).message}): pick another port ` +
        'with --dashboard-port, or start without it (--no-dashboard).',
    );
  }
}
