import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadOrCreateTlsMaterial, type TlsMaterial } from './certificates';
import { isValidHubName } from './identifiers';
import { JsonFile } from './json-file';
import { consoleLogger, type Logger } from './log';
import { MethodDispatcher } from './methods';
import { MqttFront } from './mqtt/front';
import { ensureBuiltInPolicies, type SharedAccessPolicy } from './policies';
import { DeviceRegistry, type DeviceRecord } from './registry';
import { RestFront } from './rest/server';
import { TelemetryLog } from './telemetry-log';

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
  readonly partitionCount?: number;
  readonly log?: Logger;
}

export const EMULATOR_DEFAULTS = {
  hubName: 'local-iothub',
  bindAddress: '127.0.0.1',
  gatewayHost: 'localhost',
  mqttPort: 8883,
  httpsPort: 8443,
  dataDir: '.iothub-emulator',
  partitionCount: 4,
} as const;

interface PersistedState {
  formatVersion: 1;
  policies: SharedAccessPolicy[];
  devices: DeviceRecord[];
}

/** Everything a client needs to reach a running emulator. */
export interface EmulatorInfo {
  readonly hubName: string;
  readonly hostName: string;
  readonly mqttPort: number;
  readonly httpsPort: number;
  readonly caPath: string;
  readonly dataDir: string;
  readonly serviceConnectionString: string;
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
    readonly telemetry: TelemetryLog,
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
    const state = new JsonFile<PersistedState>(statePath, () => ({
      formatVersion: 1,
      policies,
      devices: registry.records(),
    }));
    for (const deviceId of options.devices ?? []) registry.ensure(deviceId);
    await state.save();

    const hostName = `${hubName}.azure-devices.net`;
    const policy = (keyName: string) => policies.find((p) => p.keyName === keyName);
    const telemetry = new TelemetryLog(options.partitionCount ?? EMULATOR_DEFAULTS.partitionCount);
    const bindAddress = options.bindAddress ?? EMULATOR_DEFAULTS.bindAddress;
    const mqtt = await MqttFront.start({
      host: bindAddress,
      port: options.mqttPort ?? EMULATOR_DEFAULTS.mqttPort,
      tls,
      auth: { hostName, registry, policy },
      registry,
      telemetry,
      log,
    });
    const methods = new MethodDispatcher(mqtt);
    let rest: RestFront;
    try {
      rest = await RestFront.start({
        host: bindAddress,
        port: options.httpsPort ?? EMULATOR_DEFAULTS.httpsPort,
        tls,
        auth: { hostName, policy },
        registry,
        methods,
        onRegistryChanged: () => state.save(),
        log,
      });
    } catch (error) {
      await mqtt.close();
      throw error;
    }
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
      telemetry,
    );
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
      caPath: this.tls.caPath,
      dataDir: this.dataDir,
      serviceConnectionString: this.serviceConnectionString('iothubowner'),
    };
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

  /** Creates the devices that do not exist yet and persists the registry. */
  async ensureDevices(deviceIds: readonly string[]): Promise<void> {
    for (const deviceId of deviceIds) this.registry.ensure(deviceId);
    await this.state.save();
  }

  async stop(): Promise<void> {
    this.methods.cancelAll();
    await Promise.all([this.rest.close(), this.mqtt.close()]);
    await this.state.flush();
  }
}
