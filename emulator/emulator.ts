import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadOrCreateTlsMaterial, type TlsMaterial } from './certificates';
import { isValidHubName } from './hub/identifiers';
import { JsonFile } from '../devkit/json-file';
import { consoleLogger, type Logger } from './log';
import { MethodDispatcher } from './hub/methods/method-dispatcher';
import { MqttFront } from './transports/mqtt/mqtt-front';
import { ensureBuiltInPolicies, type SharedAccessPolicy } from './hub/policies';
import { DeviceRegistry, type DeviceRecord } from './hub/registry';
import { RestFront } from './transports/https/https-front';
import { AmqpFront } from './transports/amqp/event-hub-endpoint';
import { EventStore } from './hub/telemetry/event-store';
import { DEFAULT_PENDING_LIMITS } from './transports/shared/pending-connections';

export interface EmulatorOptions {
  /** Hub name; the host name is `<hubName>.azure-devices.net`, as in Azure. */
  readonly hubName?: string;
  /** Address the servers bind to. */
  readonly bindAddress?: string;
  /** Host name written in connection strings as the gateway (must match the certificate). */
  readonly gatewayHost?: string;
  /** 0 picks a free port. */
  readonly mqttPort?: number;
  readonly httpsPort?: number;
  readonly dataDir?: string;
  /** Devices to create (or keep) at start. */
  readonly devices?: readonly string[];
  /** Wipe the data directory first. */
  readonly reset?: boolean;
  /** Plain AMQP port of the Event Hub-compatible endpoint (0 picks a free port). */
  readonly amqpPort?: number;
  /** AMQP over TLS port of the Event Hub-compatible endpoint; not opened unless given (0 picks a free port). */
  readonly amqpsPort?: number;
  /** Partitions of the Event Hub-compatible endpoint, 1 to 32. */
  readonly partitionCount?: number;
  /** Consumer groups besides `$Default`. */
  readonly consumerGroups?: readonly string[];
  /** How long telemetry is kept, in hours (IoT Hub: 1 to 168, default 24). */
  readonly retentionHours?: number;
  /** Size cap of each partition's log, in MiB; the oldest events go first. */
  readonly maxPartitionMiB?: number;
  /** Connections per port that may be waiting to authenticate at once (default 1000). */
  readonly maxPendingConnections?: number;
  /** Seconds a connection may take to authenticate: TLS, then CONNECT or AMQP OPEN (default 10). */
  readonly handshakeTimeoutSeconds?: number;
  /** fdatasync each group of telemetry before acknowledging it (default true). */
  readonly fsync?: boolean;
  readonly log?: Logger;
}

export const EMULATOR_DEFAULTS = {
  hubName: 'local-iothub',
  bindAddress: '127.0.0.1',
  gatewayHost: 'localhost',
  mqttPort: 8883,
  httpsPort: 8443,
  dataDir: '.iothub-emulator',
  amqpPort: 5672,
  partitionCount: 4,
  retentionHours: 24,
  maxPartitionMiB: 256,
} as const;

/** Consumer groups besides `$Default` that every emulator has. */
export const DEFAULT_CONSUMER_GROUPS: readonly string[] = ['functions'];

interface PersistedState {
  formatVersion: 1;
  /** When the hub was created: the Event Hub-compatible endpoint's `created_at`. */
  createdAt?: string;
  policies: SharedAccessPolicy[];
  devices: DeviceRecord[];
}

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
}

/** The local IoT Hub: registry and policies on disk, an MQTT/TLS device front and an HTTPS service front. */
export class Emulator {
  private constructor(
    readonly hubName: string,
    readonly dataDir: string,
    private readonly gatewayHost: string,
    private readonly tls: TlsMaterial,
    private readonly policies: SharedAccessPolicy[],
    readonly registry: DeviceRegistry,
    private readonly state: JsonFile<PersistedState>,
    readonly mqtt: MqttFront,
    readonly rest: RestFront,
    readonly methods: MethodDispatcher,
    readonly events: EventStore,
    readonly amqp: AmqpFront,
    readonly consumerGroups: readonly string[],
  ) {}

  static async start(options: EmulatorOptions = {}): Promise<Emulator> {
    const hubName = options.hubName ?? EMULATOR_DEFAULTS.hubName;
    if (!isValidHubName(hubName)) {
      throw new Error(`Invalid hub name ${JSON.stringify(hubName)}: use 3 to 50 letters, digits or hyphens.`);
    }
    const log = options.log ?? consoleLogger;
    const dataDir = resolve(options.dataDir ?? EMULATOR_DEFAULTS.dataDir);
    if (options.reset) await rm(dataDir, { recursive: true, force: true });

    const tls = await loadOrCreateTlsMaterial(dataDir);
    const statePath = join(dataDir, 'state.json');
    const saved = await JsonFile.read<PersistedState>(statePath);
    const policies = ensureBuiltInPolicies(saved?.policies);
    const registry = new DeviceRegistry(saved?.devices);
    const createdAt = saved?.createdAt ?? new Date().toISOString();
    const state = new JsonFile<PersistedState>(statePath, () => ({
      formatVersion: 1,
      createdAt,
      policies,
      devices: registry.records(),
    }));
    for (const deviceId of options.devices ?? []) registry.ensure(deviceId);
    await state.save();

    const hostName = `${hubName}.azure-devices.net`;
    const policy = (keyName: string) => policies.find((p) => p.keyName === keyName);
    const partitionCount = options.partitionCount ?? EMULATOR_DEFAULTS.partitionCount;
    if (!Number.isInteger(partitionCount) || partitionCount < 1 || partitionCount > 32) {
      throw new Error(`Invalid partition count ${partitionCount}: use 1 to 32.`);
    }
    // `functions` always exists, as `azd up` creates it in Azure: the local function app reads with it, so that
    // `$Default` stays free for other readers (a script, `az iot hub monitor-events`).
    const consumerGroups = [
      ...new Set([...DEFAULT_CONSUMER_GROUPS, ...(options.consumerGroups ?? [])]),
    ].filter((g) => g.toLowerCase() !== '$default');
    const events = await EventStore.open({
      dir: join(dataDir, 'events'),
      partitionCount,
      retentionMs: (options.retentionHours ?? EMULATOR_DEFAULTS.retentionHours) * 3_600_000,
      maxPartitionBytes: (options.maxPartitionMiB ?? EMULATOR_DEFAULTS.maxPartitionMiB) * 1024 * 1024,
      fsync: options.fsync ?? true,
      warn: (message) => {
        log.warn(message);
      },
    });
    const bindAddress = options.bindAddress ?? EMULATOR_DEFAULTS.bindAddress;
    const pendingLimits = {
      maxPending: options.maxPendingConnections ?? DEFAULT_PENDING_LIMITS.maxPending,
      timeoutMs: (options.handshakeTimeoutSeconds ?? DEFAULT_PENDING_LIMITS.timeoutMs / 1000) * 1000,
    };
    // Started in order and unwound in reverse if a later one fails (a port in use, say).
    const started: { close: () => Promise<void> }[] = [events];
    try {
      const mqtt = await MqttFront.start({
        host: bindAddress,
        port: options.mqttPort ?? EMULATOR_DEFAULTS.mqttPort,
        tls,
        auth: { hostName, registry, policy },
        registry,
        telemetry: events,
        pendingLimits,
        log,
      });
      started.push(mqtt);
      const methods = new MethodDispatcher(mqtt);
      const rest = await RestFront.start({
        host: bindAddress,
        port: options.httpsPort ?? EMULATOR_DEFAULTS.httpsPort,
        tls,
        auth: { hostName, policy },
        registry,
        methods,
        onRegistryChanged: () => state.save(),
        log,
      });
      started.push(rest);
      const amqp = await AmqpFront.start({
        host: bindAddress,
        port: options.amqpPort ?? EMULATOR_DEFAULTS.amqpPort,
        tlsPort: options.amqpsPort,
        tls,
        hubName,
        consumerGroups,
        createdAt: new Date(createdAt),
        store: events,
        policy,
        pendingLimits,
        log,
      });
      const gatewayHost = options.gatewayHost ?? EMULATOR_DEFAULTS.gatewayHost;
      return new Emulator(
        hubName,
        dataDir,
        gatewayHost,
        tls,
        policies,
        registry,
        state,
        mqtt,
        rest,
        methods,
        events,
        amqp,
        consumerGroups,
      );
    } catch (error) {
      for (const part of started.reverse()) await part.close();
      throw error;
    }
  }

  get hostName(): string {
    return `${this.hubName}.azure-devices.net`;
  }

  get info(): EmulatorInfo {
    return {
      hubName: this.hubName,
      hostName: this.hostName,
      mqttPort: this.mqtt.port,
      httpsPort: this.rest.port,
      amqpPort: this.amqp.port,
      amqpsPort: this.amqp.tlsPort,
      eventHubName: this.hubName,
      partitionCount: this.events.partitionCount,
      consumerGroups: ['$Default', ...this.consumerGroups],
      caPath: this.tls.caPath,
      dataDir: this.dataDir,
      serviceConnectionString: this.serviceConnectionString('iothubowner'),
      eventHubConnectionString: this.eventHubConnectionString('service'),
    };
  }

  /**
   * The built-in endpoint's connection string, as the portal shows it for IoT Hub, pointing at the local AMQP
   * port. `UseDevelopmentEmulator=true` makes the Event Hubs clients (JS and .NET) use plain AMQP there.
   */
  eventHubConnectionString(policyName = 'service'): string {
    const policy = this.policies.find((p) => p.keyName === policyName);
    if (!policy) throw new Error(`Unknown policy ${policyName}`);
    return (
      `Endpoint=sb://${this.gatewayHost}:${this.amqp.port}/;SharedAccessKeyName=${policy.keyName};` +
      `SharedAccessKey=${policy.primaryKey};EntityPath=${this.hubName};UseDevelopmentEmulator=true`
    );
  }

  /**
   * A service connection string in Azure's shape plus `GatewayHostName` (where the HTTPS endpoint listens) and
   * `UseDevelopmentEmulator=true`, the convention of Microsoft's emulators, which tells our code to use them.
   */
  serviceConnectionString(policyName = 'iothubowner'): string {
    const policy = this.policies.find((p) => p.keyName === policyName);
    if (!policy) throw new Error(`Unknown policy ${policyName}`);
    return (
      `HostName=${this.hostName};SharedAccessKeyName=${policy.keyName};SharedAccessKey=${policy.primaryKey};` +
      `GatewayHostName=${this.gatewayHost}:${this.rest.port};UseDevelopmentEmulator=true`
    );
  }

  /** A device connection string that the unmodified device SDK uses: TLS to the gateway, tokens for the hub. */
  deviceConnectionString(deviceId: string): string {
    const device = this.registry.get(deviceId);
    return `HostName=${this.hostName};DeviceId=${deviceId};SharedAccessKey=${device.primaryKey};GatewayHostName=${this.gatewayHost}:${this.mqtt.port}`;
  }

  async stats(): Promise<EmulatorStats> {
    const mqtt = await this.mqtt.stats();
    return {
      residentBytes: process.memoryUsage.rss(),
      connectedDevices: mqtt.connectedDevices,
      pendingDeviceConnections: mqtt.pendingConnections,
      retainedMessages: mqtt.retainedMessages,
    };
  }

  /** Creates the devices that do not exist yet and persists the registry. */
  async ensureDevices(deviceIds: readonly string[]): Promise<void> {
    for (const deviceId of deviceIds) this.registry.ensure(deviceId);
    await this.state.save();
  }

  async stop(): Promise<void> {
    this.methods.cancelAll();
    await Promise.all([this.rest.close(), this.mqtt.close(), this.amqp.close()]);
    // After the fronts: telemetry accepted before they closed is written and acknowledged first.
    await this.events.close();
    await this.state.flush();
  }
}
