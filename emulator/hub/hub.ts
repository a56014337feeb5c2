import { join } from 'node:path';
import { JsonFile, StateFileError } from '../../devkit/json-file';
import type { Logger } from '../log';
import { HubActivity } from './activity';
import {
  authenticateDevice,
  authenticateModule,
  type DeviceAuthResult,
  type DeviceSession,
} from './auth/device-auth';
import { verifyEventHubToken, type VerifiedToken } from './auth/event-hub-auth';
import { HubNames } from './auth/hub-names';
import { authenticateServiceRequest, authorizeServiceCaller, type ServiceCaller } from './auth/service-auth';
import {
  CloudToDeviceQueues,
  type NewCloudToDeviceMessage,
  type Settlement,
  type StoredCloudToDeviceMessage,
} from './c2d/cloud-to-device';
import { CloudToDeviceDispatcher } from './c2d/c2d-dispatcher';
import { FEEDBACK_DESCRIPTIONS, FeedbackQueue, type FeedbackBatch } from './c2d/feedback';
import { ConnectedDevices } from './connections/connected-devices';
import { hubErrors } from './errors';
import { isValidHubName } from './identifiers';
import { JobService, S1_JOB_LIMITS, type JobLimits } from './jobs/job-service';
import { MethodDispatcher } from './methods/method-dispatcher';
import { restoreModules } from './modules/module-state';
import { identityKey, ModuleRegistry, type ModuleRecord } from './modules/module-registry';
import { ensureBuiltInPolicies, type Right, type SharedAccessPolicy } from './policies';
import { DeviceRegistry, type DeviceRecord } from './registry';
import type { QueryDocument } from './query/evaluate';
import { QueryService } from './query/query-service';
import { EventStore } from './telemetry/event-store';
import { MAX_MESSAGE_BYTES, messageSize } from './telemetry/message-size';
import type { TelemetryEvent } from './telemetry/record';
import type { DeviceTwin } from './twins/device-twin';
import { DeviceTwins } from './twins/device-twins';
import { ModuleTwinService } from './twins/module-twin-service';
import { TwinService } from './twins/twin-service';

export interface IotHubOptions {
  readonly hubName: string;
  /** Where the registry (`state.json`) and the telemetry (`events/`) live. */
  readonly dataDir: string;
  /** Devices to create (or keep) when the hub opens. */
  readonly devices?: readonly string[];
  readonly partitionCount: number;
  /** Consumer groups of the Event Hub-compatible endpoint besides `$Default`. */
  readonly consumerGroups: readonly string[];
  readonly retentionHours: number;
  readonly maxPartitionMiB: number;
  /** fdatasync each group of telemetry before acknowledging it. */
  readonly fsync: boolean;
  readonly log: Logger;
  /** Jobs v2 limits; IoT Hub's S1 defaults when absent. */
  readonly jobLimits?: JobLimits;
}

/** A device-to-cloud message as a transport received it, before the hub checks and stores it. */
export interface IncomingMessage {
  readonly body: Buffer;
  readonly systemProperties: Readonly<Record<string, string>>;
  readonly applicationProperties: Readonly<Record<string, string>>;
}

interface PersistedMessages {
  formatVersion: 1;
  cloudToDevice: StoredCloudToDeviceMessage[];
  feedback: FeedbackBatch[];
}

/** How often locks and TTLs of cloud-to-device messages and feedback are checked. */
const C2D_SWEEP_MS = 1000;

interface PersistedState {
  formatVersion: 1;
  /** When the hub was created: the Event Hub-compatible endpoint's `created_at`. */
  createdAt?: string;
  policies: SharedAccessPolicy[];
  devices: DeviceRecord[];
  /** Twins something wrote to (absent in files written before twins were kept: every twin starts empty then). */
  twins?: DeviceTwin[];
  /** Module identities (absent in files written before modules existed: no modules then). */
  modules?: ModuleRecord[];
  /** Module twins something wrote to, each keyed `<device>/<module>` in its `deviceId` field. */
  moduleTwins?: DeviceTwin[];
}

/**
 * The local IoT hub's core, which knows no transport: identity registry and policies (persisted), token checks
 * for devices, services and the Event Hub-compatible endpoint, connected devices, direct methods, twins and the
 * durable telemetry log. The fronts under emulator/transports turn protocol frames into calls on it.
 */
export class IotHub {
  readonly connections: ConnectedDevices;
  readonly methods: MethodDispatcher;
  /** Finished method calls and refused connections, for observers. */
  readonly activity = new HubActivity();
  /** Device twins: service reads and changes, device reads and reported patches, desired pushes. */
  readonly twins: TwinService;
  /** Module twins: the same operations on `/twins/{d}/modules/{m}` and module connections. */
  readonly moduleTwins: ModuleTwinService;
  /** `POST /devices/query`: the query language over device twins, module twins and device jobs. */
  readonly queries: QueryService;
  /** Jobs v2: scheduled direct methods and twin updates over many devices. */
  readonly jobs: JobService;
  private readonly sweepTimer: NodeJS.Timeout;
  private hubNames: HubNames | undefined;

  private constructor(
    readonly hubName: string,
    readonly createdAt: Date,
    readonly registry: DeviceRegistry,
    /** Module identities of the registry's devices. */
    readonly modules: ModuleRegistry,
    private readonly policies: readonly SharedAccessPolicy[],
    private readonly state: JsonFile<PersistedState>,
    readonly telemetry: EventStore,
    /** Consumer groups besides `$Default`. */
    readonly consumerGroups: readonly string[],
    /** Cloud-to-device queues, one per device. */
    readonly cloudToDevice: CloudToDeviceQueues,
    /** The service's feedback on cloud-to-device messages. */
    readonly feedback: FeedbackQueue,
    private readonly messages: JsonFile<PersistedMessages>,
    twinStore: DeviceTwins,
    moduleTwinStore: DeviceTwins,
    log: Logger,
    jobLimits: JobLimits,
  ) {
    this.connections = new ConnectedDevices(registry, log, modules);
    this.methods = new MethodDispatcher(this.connections, this.activity);
    this.twins = new TwinService(twinStore, registry, this.connections, () => this.state.save());
    this.moduleTwins = new ModuleTwinService(moduleTwinStore, registry, modules, this.connections, () =>
      this.state.save(),
    );
    modules.on('revoked', (deviceId, moduleId) => {
      // Deleted (not re-keyed): a module created again under its id starts with a new twin.
      if (!modules.find(deviceId, moduleId)) moduleTwinStore.forget(identityKey(deviceId, moduleId));
    });
    this.jobs = new JobService(
      {
        devices: () => this.deviceTwinDocuments(),
        invokeMethod: (deviceId, invocation) => {
          // A disabled device is not reached, as `POST /twins/{id}/methods` does not reach it.
          if (this.registry.find(deviceId)?.status !== 'enabled') {
            return Promise.reject(hubErrors.deviceNotFound(deviceId));
          }
          return this.methods.invoke(deviceId, invocation);
        },
        updateTwin: async (deviceId, patch) => {
          await this.twins.update(deviceId, patch);
        },
      },
      jobLimits,
    );
    this.queries = new QueryService({
      devices: () => this.deviceTwinDocuments(),
      'devices.modules': () => this.moduleTwinDocuments(),
      'devices.jobs': () => this.jobs.deviceJobs() as Iterable<QueryDocument>,
    });
    new CloudToDeviceDispatcher(cloudToDevice, this.connections);
    registry.on('revoked', (deviceId) => {
      if (registry.find(deviceId)) return;
      // IoT Hub deletes a device's modules with it; the registry save that follows the deletion writes both.
      modules.forgetDevice(deviceId);
      twinStore.forget(deviceId);
      this.cloudToDevice.forget(deviceId);
    });
    registry.describeMessageCount = (deviceId) => this.cloudToDevice.pendingCount(deviceId);
    cloudToDevice.on('settled', (settlement) => {
      this.recordFeedback(settlement);
    });
    const save = () =>
      void this.messages.save().catch((error: unknown) => {
        log.warn(`Could not save cloud-to-device messages: ${(error as Error).message}`);
      });
    cloudToDevice.on('changed', save);
    feedback.on('changed', save);
    this.sweepTimer = setInterval(() => {
      cloudToDevice.sweep();
      feedback.sweep();
    }, C2D_SWEEP_MS).unref();
  }

  static async open(options: IotHubOptions): Promise<IotHub> {
    if (!isValidHubName(options.hubName)) {
      throw new Error(
        `Invalid hub name ${JSON.stringify(options.hubName)}: use 3 to 50 letters, digits or hyphens.`,
      );
    }
    const statePath = join(options.dataDir, 'state.json');
    const saved = await JsonFile.read<PersistedState>(
      statePath,
      'the device registry and the shared access policy keys (deleting it makes new keys)',
    );
    const policies = ensureBuiltInPolicies(saved?.policies);
    const registry = new DeviceRegistry(saved?.devices);
    const modules = restoreModules(saved?.modules, registry, statePath);
    const createdAt = saved?.createdAt ?? new Date().toISOString();
    const twins = restoreTwins(saved?.twins, registry, statePath);
    const moduleTwins = restoreTwins(saved?.moduleTwins, registry, statePath, (key) => {
      const [deviceId = '', moduleId = ''] = key.split('/');
      return modules.find(deviceId, moduleId) !== undefined;
    });
    const state = new JsonFile<PersistedState>(statePath, () => ({
      formatVersion: 1,
      createdAt,
      policies,
      devices: registry.records(),
      twins: twins.stored(),
      modules: modules.records(),
      moduleTwins: moduleTwins.stored(),
    }));
    for (const deviceId of options.devices ?? []) registry.ensure(deviceId);
    await state.save();
    const messagesPath = join(options.dataDir, 'messages.json');
    const savedMessages = await JsonFile.read<PersistedMessages>(
      messagesPath,
      'the pending cloud-to-device messages and their feedback',
    );
    const cloudToDevice = new CloudToDeviceQueues(savedMessages?.cloudToDevice);
    const feedback = new FeedbackQueue(savedMessages?.feedback);
    const messages = new JsonFile<PersistedMessages>(messagesPath, () => ({
      formatVersion: 1,
      cloudToDevice: cloudToDevice.stored(),
      feedback: feedback.stored(),
    }));
    const telemetry = await EventStore.open({
      dir: join(options.dataDir, 'events'),
      partitionCount: options.partitionCount,
      retentionMs: options.retentionHours * 3_600_000,
      maxPartitionBytes: options.maxPartitionMiB * 1024 * 1024,
      fsync: options.fsync,
      warn: (message) => {
        options.log.warn(message);
      },
    });
    return new IotHub(
      options.hubName,
      new Date(createdAt),
      registry,
      modules,
      policies,
      state,
      telemetry,
      options.consumerGroups,
      cloudToDevice,
      feedback,
      messages,
      twins,
      moduleTwins,
      options.log,
      options.jobLimits ?? S1_JOB_LIMITS,
    );
  }

  /** Every device's twin as the service API shows it, in registry order (queries and jobs read these). */
  private *deviceTwinDocuments(): Generator<QueryDocument> {
    for (const record of this.registry.records()) {
      yield this.twins.read(record.deviceId) as unknown as QueryDocument;
    }
  }

  /** Every module's twin as the service API shows it, device by device (`FROM devices.modules`). */
  private *moduleTwinDocuments(): Generator<QueryDocument> {
    for (const record of this.modules.records()) {
      yield this.moduleTwins.read(record.deviceId, record.moduleId) as unknown as QueryDocument;
    }
  }

  get hostName(): string {
    return `${this.hubName}.azure-devices.net`;
  }

  /** Every name the hub answers to in tokens and MQTT user names: its host name, and local names once listening. */
  get names(): HubNames {
    this.hubNames ??= new HubNames(this.hostName);
    return this.hubNames;
  }

  policy(keyName: string): SharedAccessPolicy | undefined {
    return this.policies.find((policy) => policy.keyName === keyName);
  }

  authenticateDevice(deviceId: string, token: string | undefined): DeviceAuthResult {
    return authenticateDevice(this.authContext, deviceId, token);
  }

  /** A module's credentials (MQTT client id `<device>/<module>`): a module token or a DeviceConnect policy's. */
  authenticateModule(deviceId: string, moduleId: string, token: string | undefined): DeviceAuthResult {
    return authenticateModule(this.authContext, deviceId, moduleId, token);
  }

  /** A service caller's `Authorization` header, checked before any routing (401 otherwise). */
  authenticateService(header: string | undefined): ServiceCaller {
    return authenticateServiceRequest(this.authContext, header);
  }

  /** Whether the caller may perform an operation needing `right` on `resource` (401 or 403 otherwise). */
  authorizeService(caller: ServiceCaller, right: Right, resource: readonly string[]): void {
    authorizeServiceCaller(caller, right, resource);
  }

  /** A token for the Event Hub-compatible endpoint (Event Hubs' signing rule); throws TokenRefusedError. */
  verifyEventHubToken(token: string, audience: string): VerifiedToken {
    return verifyEventHubToken(token, audience, this.hubName, (name) => this.policy(name));
  }

  /**
   * Takes a device's message: refused over IoT Hub's 256 KB (body and properties), else appended to the
   * device's partition. Resolves once the event is on disk: only then may the transport acknowledge it.
   */
  receiveTelemetry(session: DeviceSession, message: IncomingMessage): Promise<TelemetryEvent> {
    const size = messageSize(message.body, message.systemProperties, message.applicationProperties);
    if (size > MAX_MESSAGE_BYTES) {
      return Promise.reject(
        hubErrors.messageTooLarge(
          `The message is ${size} bytes (body and properties); IoT Hub accepts at most ${MAX_MESSAGE_BYTES}.`,
        ),
      );
    }
    return this.telemetry.append({
      deviceId: session.device.deviceId,
      ...(session.module ? { moduleId: session.module.moduleId } : {}),
      authGenerationId: (session.module ?? session.device).generationId,
      ...message,
    });
  }

  /**
   * Queues a cloud-to-device message for a registered device; resolves once it is on disk, which is when IoT Hub's
   * answer to the service may say it was accepted. Throws IoT Hub's errors (unknown device, full queue, too large).
   */
  async sendCloudToDevice(deviceId: string, message: NewCloudToDeviceMessage): Promise<void> {
    if (!this.registry.find(deviceId)) throw hubErrors.deviceNotFound(deviceId);
    this.cloudToDevice.enqueue(deviceId, message);
    await this.messages.save();
  }

  /** A feedback record for the settlement, when the message's `iothub-ack` asks for one. */
  private recordFeedback({ message, status }: Settlement): void {
    const wanted =
      message.ack === 'full' ||
      (message.ack === 'positive' && status === 'Success') ||
      (message.ack === 'negative' && status !== 'Success');
    if (!wanted || message.messageId === undefined) return;
    this.feedback.add({
      originalMessageId: message.messageId,
      description: FEEDBACK_DESCRIPTIONS[status],
      deviceGenerationId: this.registry.find(message.deviceId)?.generationId ?? '',
      deviceId: message.deviceId,
      enqueuedTimeUtc: new Date().toISOString(),
      statusCode: status,
    });
  }

  /** Persists the registry (and the twins); resolves once a save that includes every change so far is on disk. */
  saveRegistry(): Promise<void> {
    return this.state.save();
  }

  /** Creates the devices that do not exist yet and persists the registry. */
  async ensureDevices(deviceIds: readonly string[]): Promise<void> {
    for (const deviceId of deviceIds) this.registry.ensure(deviceId);
    await this.state.save();
  }

  /** After the fronts closed: fails waiting calls, writes what was accepted, flushes the registry. */
  async close(): Promise<void> {
    clearInterval(this.sweepTimer);
    this.jobs.close();
    this.methods.cancelAll();
    this.connections.clear();
    this.feedback.close();
    await this.messages.save();
    await this.telemetry.close();
    await this.state.flush();
  }

  private get authContext() {
    return {
      hostName: this.hostName,
      names: this.names,
      registry: this.registry,
      modules: this.modules,
      policy: (name: string) => this.policy(name),
    };
  }
}

/** The twins of state.json, for the devices the registry holds; a malformed entry stops the start, naming it. */
function restoreTwins(
  saved: unknown,
  registry: DeviceRegistry,
  statePath: string,
  exists: (key: string) => boolean = (deviceId) => registry.find(deviceId) !== undefined,
): DeviceTwins {
  try {
    return DeviceTwins.restore(saved, exists);
  } catch (error) {
    throw new StateFileError(
      statePath,
      `${statePath} holds a device twin the emulator cannot read (${(error as Error).message}). Restore the file ` +
        'from a backup, or remove its "twins" entry to start every twin empty (the registry and keys stay).',
    );
  }
}
