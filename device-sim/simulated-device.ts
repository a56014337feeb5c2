import { EventEmitter } from 'node:events';
import { ConnectionString } from 'azure-iot-common';
import {
  Client,
  X509AuthenticationProvider,
  type DeviceMethodRequest,
  type DeviceMethodResponse,
  type Message,
  type Twin,
} from 'azure-iot-device';
import { Amqp } from 'azure-iot-device-amqp';
import { Mqtt } from 'azure-iot-device-mqtt';
import {
  cloudToDeviceLogLine,
  readCloudToDeviceMessage,
  type CloudToDeviceOutcome,
  type ReceivedCloudToDeviceMessage,
} from './c2d-messages';
import { parseTelemetryInterval } from './interval';
import { randomReading, telemetryMessage, type Reading } from './telemetry';
import { packageVersion, readDesiredInterval, reportedState, type ReportedState } from './twin-state';
import { answerUnknownMethods } from './unknown-methods';

/** How long a stop waits for the SDK to close its connection. */
const CLOSE_TIMEOUT_MS = 5_000;

/** The device SDK transport: MQTT (azure-iot-device-mqtt) or AMQP (azure-iot-device-amqp), both over TLS. */
export type DeviceTransport = 'mqtt' | 'amqp';

export interface SimulatedDeviceOptions {
  readonly connectionString: string;
  /** Default mqtt. Over AMQP the connection string's GatewayHostName must name the AMQPS endpoint. */
  readonly transport?: DeviceTransport;
  /**
   * Reject (instead of complete) cloud-to-device messages whose body is not JSON. AMQP only: MQTT acknowledges
   * every message on receipt and cannot reject.
   */
  readonly rejectUnparseable?: boolean;
  /** CA certificate (PEM) to trust, for the local emulator. */
  readonly ca?: string;
  /**
   * Client certificate and key (PEM) of an X.509 device, whose connection string has `x509=true` instead of a
   * key.
   */
  readonly x509?: { readonly cert: string; readonly key: string };
  readonly intervalSeconds?: number;
  /** One line per event; defaults to console.log. */
  readonly log?: (line: string) => void;
  /** Print a line per telemetry message (true for a single device). */
  readonly logTelemetry?: boolean;
  readonly random?: () => number;
  /** Reported as `firmware.version`; defaults to this repository's package version. */
  readonly firmwareVersion?: string;
}

interface SimulatedDeviceEvents {
  telemetry: [reading: Reading, sequence: number];
  'interval-changed': [seconds: number];
  /** The hub acknowledged a reported-properties update. */
  reported: [state: ReportedState];
  /** A desired telemetryInterval the device refused (invalid), with why. */
  'desired-refused': [value: unknown, message: string];
  'method-called': [methodName: string, status: number];
  'c2d-message': [message: ReceivedCloudToDeviceMessage, outcome: CloudToDeviceOutcome];
}

/** The direct methods this device handles; any other gets 404 at once. */
export const SUPPORTED_METHODS = ['SetTelemetryInterval'] as const;

const RECONNECT_MIN_MS = 1_000;
const RECONNECT_MAX_MS = 30_000;

/**
 * A device on the official SDK over MQTT or AMQP, like the IoT Hub quickstart's: it sends temperature and humidity
 * on a schedule, handles the SetTelemetryInterval direct method, and logs and completes cloud-to-device messages.
 * It keeps reconnecting until stopped.
 */
export class SimulatedDevice extends EventEmitter<SimulatedDeviceEvents> {
  readonly deviceId: string;
  private client: Client | undefined;
  private telemetryTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectDelayMs = RECONNECT_MIN_MS;
  private sending = false;
  private stopped = false;
  private sequence = 0;
  private interval: number;
  private twin: Twin | undefined;
  /** The newest desired-properties `$version` seen: older documents (resent on reconnect) are not re-applied. */
  private desiredVersion = 0;
  private readonly firmwareVersion: string;
  private readonly log: (line: string) => void;
  readonly transport: DeviceTransport;

  constructor(private readonly options: SimulatedDeviceOptions) {
    super();
    const deviceId = /(?:^|;)DeviceId=([^;]+)/.exec(options.connectionString)?.[1];
    if (!deviceId) throw new Error('The device connection string has no DeviceId.');
    this.deviceId = deviceId;
    this.transport = options.transport ?? 'mqtt';
    if (options.rejectUnparseable && this.transport !== 'amqp') {
      throw new Error('Rejecting cloud-to-device messages needs the AMQP transport: MQTT cannot reject.');
    }
    this.interval = options.intervalSeconds ?? 1;
    this.firmwareVersion = options.firmwareVersion ?? packageVersion();
    this.log =
      options.log ??
      ((line) => {
        console.log(line);
      });
  }

  get intervalSeconds(): number {
    return this.interval;
  }

  get messagesSent(): number {
    return this.sequence;
  }

  /** Connects, registers the direct-method handlers and starts the telemetry schedule. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.connect();
    this.scheduleTelemetry(this.interval * 1000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.telemetryTimer);
    clearTimeout(this.reconnectTimer);
    const client = this.client;
    this.client = undefined;
    this.twin?.removeAllListeners();
    this.twin = undefined;
    if (client) {
      client.removeAllListeners();
      client.on('error', () => undefined);
      // Bounded: the SDK's close waits for the transport, which never answers once the hub is gone (a stack
      // stopping, or a benchmark's emulator stopped first), and a stop must not hang the process.
      let timer: NodeJS.Timeout | undefined;
      const gaveUp = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, CLOSE_TIMEOUT_MS);
      });
      await Promise.race([client.close().catch(() => undefined), gaveUp]);
      clearTimeout(timer);
    }
  }

  private async connect(): Promise<void> {
    const { client, transport } = createClient(
      this.options.connectionString,
      this.transport,
      this.options.x509,
    );
    answerUnknownMethods(
      transport,
      () => SUPPORTED_METHODS,
      (line) => {
        this.log(`[${this.deviceId}] ${line}`);
      },
    );
    transport.on('disconnect', (error?: Error) => {
      if (this.stopped || this.client !== client) return;
      this.log(
        `[${this.deviceId}] disconnected${error ? ` (${error.message})` : ''}; the SDK is reconnecting`,
      );
    });
    if (this.options.ca) await client.setOptions({ ca: this.options.ca });
    client.on('error', (error: Error) => {
      this.log(`[${this.deviceId}] error: ${error.message}`);
    });
    client.on('disconnect', () => {
      if (this.stopped || this.client !== client) return;
      this.log(`[${this.deviceId}] the SDK gave up reconnecting; starting over`);
      this.client = undefined;
      client.removeAllListeners();
      client.on('error', () => undefined);
      void client.close().catch(() => undefined);
      this.scheduleReconnect();
    });
    client.on('connect', () => {
      this.log(`[${this.deviceId}] connected`);
    });
    await client.open();
    if (this.stopped) {
      await client.close().catch(() => undefined);
      return;
    }
    this.client = client;
    this.reconnectDelayMs = RECONNECT_MIN_MS;
    client.onDeviceMethod('SetTelemetryInterval', (request, response) => {
      this.onSetTelemetryInterval(request, response);
    });
    // Listening subscribes (MQTT) or attaches the C2D link (AMQP); the SDK reports a failure as an 'error' event.
    client.on('message', (message: Message) => {
      this.onCloudToDeviceMessage(client, message);
    });
    await this.startTwin(client);
  }

  /**
   * Follows desired `telemetryInterval` and reports what the device runs with: once connected (after applying a
   * desired interval set while it was away), and after every change, whether by method or desired property.
   */
  private async startTwin(client: Client): Promise<void> {
    const twin = await client.getTwin();
    if (this.stopped || this.client !== client) return;
    this.twin = twin;
    // The SDK calls this with the whole desired document first, then with each patch the hub pushes.
    twin.on('properties.desired', (desired: unknown) => {
      this.onDesiredProperties(desired);
    });
    if (this.desiredVersion === 0) this.onDesiredProperties(twin.properties.desired);
    this.reportState();
  }

  private onDesiredProperties(desired: unknown): void {
    const read = readDesiredInterval(desired, this.desiredVersion);
    if (read.kind === 'stale') return;
    if (read.version !== undefined) this.desiredVersion = read.version;
    if (read.kind === 'absent') return;
    if (!read.ok) {
      this.log(`[${this.deviceId}] desired telemetryInterval refused: ${read.message}`);
      const value = (desired as { telemetryInterval?: unknown }).telemetryInterval;
      this.emit('desired-refused', value, read.message);
      return;
    }
    if (read.seconds === this.interval) {
      this.reportState();
      return;
    }
    this.log(`[${this.deviceId}] desired telemetryInterval: telemetry now every ${read.seconds} s`);
    this.applyInterval(read.seconds);
  }

  private applyInterval(seconds: number): void {
    this.interval = seconds;
    // The next message comes one new interval from now, not on the old schedule.
    this.scheduleTelemetry(seconds * 1000);
    this.emit('interval-changed', seconds);
    this.reportState();
  }

  /** Reports the running state; a failure is logged and the next change reports again. */
  private reportState(): void {
    const twin = this.twin;
    if (!twin) return;
    const state = reportedState(this.interval, this.firmwareVersion, this.transport);
    // The SDK types reported properties loosely; update() sends a patch and calls back on the hub's answer.
    const reported = twin.properties.reported as {
      update: (patch: ReportedState, done: (error?: Error) => void) => void;
    };
    reported.update(state, (error) => {
      if (error) this.log(`[${this.deviceId}] could not report properties: ${error.message}`);
      else this.emit('reported', state);
    });
  }

  /**
   * Logs a cloud-to-device message and settles it: complete, or reject when asked to and the body is not JSON (a
   * rejected message is dead-lettered, with negative feedback to a sender that asked for it).
   */
  private onCloudToDeviceMessage(client: Client, message: Message): void {
    const received = readCloudToDeviceMessage(message);
    const outcome: CloudToDeviceOutcome =
      this.options.rejectUnparseable && !received.isJson ? 'rejected' : 'completed';
    const settle = outcome === 'rejected' ? client.reject(message) : client.complete(message);
    settle
      .then(() => {
        this.log(`[${this.deviceId}] ${cloudToDeviceLogLine(received, outcome)}`);
        this.emit('c2d-message', received, outcome);
      })
      .catch((error: unknown) => {
        this.log(
          `[${this.deviceId}] could not settle C2D message ${received.messageId ?? '(no id)'}: ${(error as Error).message}; the hub redelivers it`,
        );
      });
  }

  private scheduleReconnect(): void {
    const delay = this.reconnectDelayMs;
    this.reconnectDelayMs = Math.min(RECONNECT_MAX_MS, this.reconnectDelayMs * 2);
    this.reconnectTimer = setTimeout(() => {
      this.connect().catch((error: unknown) => {
        this.log(
          `[${this.deviceId}] reconnect failed: ${(error as Error).message}; retrying in ${this.reconnectDelayMs / 1000} s`,
        );
        if (!this.stopped) this.scheduleReconnect();
      });
    }, delay);
  }

  private onSetTelemetryInterval(request: DeviceMethodRequest, response: DeviceMethodResponse): void {
    const parsed = parseTelemetryInterval(request.payload);
    const status = parsed.ok ? 200 : 400;
    if (parsed.ok) {
      this.log(`[${this.deviceId}] SetTelemetryInterval called: telemetry now every ${parsed.seconds} s`);
      this.applyInterval(parsed.seconds);
    } else {
      this.log(`[${this.deviceId}] SetTelemetryInterval refused: ${parsed.message}`);
    }
    const body = parsed.ok ? { interval: parsed.seconds } : { message: parsed.message };
    response.send(status, body).catch((error: unknown) => {
      this.log(`[${this.deviceId}] could not answer SetTelemetryInterval: ${(error as Error).message}`);
    });
    this.emit('method-called', 'SetTelemetryInterval', status);
  }

  private scheduleTelemetry(delayMs: number): void {
    clearTimeout(this.telemetryTimer);
    if (this.stopped) return;
    this.telemetryTimer = setTimeout(() => {
      this.scheduleTelemetry(this.interval * 1000);
      this.sendTelemetry();
    }, delayMs);
  }

  private sendTelemetry(): void {
    const client = this.client;
    // Never stack sends: while offline or while the previous message is unacknowledged, skip this tick.
    if (!client || this.sending) return;
    const reading = randomReading(this.options.random);
    this.sending = true;
    client
      .sendEvent(telemetryMessage(reading))
      .then(() => {
        const sequence = ++this.sequence;
        if (this.options.logTelemetry ?? true) {
          this.log(
            `[${this.deviceId}] telemetry #${sequence}: temperature ${reading.temperature.toFixed(2)} °C, humidity ${reading.humidity.toFixed(2)} %`,
          );
        }
        this.emit('telemetry', reading, sequence);
      })
      .catch((error: unknown) => {
        this.log(`[${this.deviceId}] telemetry not sent: ${(error as Error).message}`);
      })
      .finally(() => {
        this.sending = false;
      });
  }
}

/**
 * A device client on the chosen transport, with the transport it created: the SDK builds its transport inside
 * `fromConnectionString`, and the simulator needs it to watch drops and answer unknown methods.
 */
function createClient(
  connectionString: string,
  kind: DeviceTransport,
  x509: SimulatedDeviceOptions['x509'],
): { client: Client; transport: Mqtt | Amqp } {
  const created: { transport?: Mqtt | Amqp } = {};
  class ObservedMqtt extends Mqtt {
    constructor(...args: ConstructorParameters<typeof Mqtt>) {
      super(...args);
      created.transport = this;
    }
  }
  class ObservedAmqp extends Amqp {
    constructor(...args: ConstructorParameters<typeof Amqp>) {
      super(...args);
      created.transport = this;
    }
  }
  const transportClass = kind === 'amqp' ? ObservedAmqp : ObservedMqtt;
  const client = x509
    ? Client.fromAuthenticationProvider(x509Provider(connectionString, x509), transportClass)
    : Client.fromConnectionString(connectionString, transportClass);
  const transport = created.transport;
  if (!transport) {
    throw new Error(
      `The device SDK did not create its ${kind.toUpperCase()} transport through the class given.`,
    );
  }
  return { client, transport };
}

/**
 * The SDK's X.509 authentication for an `x509=true` connection string. `Client.fromConnectionString` drops the
 * string's GatewayHostName for X.509 (it keeps only HostName and DeviceId), so the provider is made here with it:
 * against Azure there is none and this is what the SDK itself makes.
 */
function x509Provider(
  connectionString: string,
  x509: NonNullable<SimulatedDeviceOptions['x509']>,
): X509AuthenticationProvider {
  const fields = ConnectionString.parse(connectionString, ['HostName', 'DeviceId']);
  return new X509AuthenticationProvider({
    host: fields.HostName ?? '',
    deviceId: fields.DeviceId ?? '',
    ...(fields.GatewayHostName ? { gatewayHostName: fields.GatewayHostName } : {}),
    x509: { cert: x509.cert, key: x509.key },
  });
}
