import { EventEmitter } from 'node:events';
import { Client, type DeviceMethodRequest, type DeviceMethodResponse } from 'azure-iot-device';
import { Mqtt } from 'azure-iot-device-mqtt';
import { parseTelemetryInterval } from './interval';
import { randomReading, telemetryMessage, type Reading } from './telemetry';
import { answerUnknownMethods } from './unknown-methods';

export interface SimulatedDeviceOptions {
  readonly connectionString: string;
  /** CA certificate (PEM) to trust, for the local emulator. */
  readonly ca?: string;
  readonly intervalSeconds?: number;
  /** One line per event; defaults to console.log. */
  readonly log?: (line: string) => void;
  /** Print a line per telemetry message (true for a single device). */
  readonly logTelemetry?: boolean;
  readonly random?: () => number;
}

interface SimulatedDeviceEvents {
  telemetry: [reading: Reading, sequence: number];
  'interval-changed': [seconds: number];
  'method-called': [methodName: string, status: number];
}

/** The direct methods this device handles; any other gets 404 at once. */
export const SUPPORTED_METHODS = ['SetTelemetryInterval'] as const;

const RECONNECT_MIN_MS = 1_000;
const RECONNECT_MAX_MS = 30_000;

/**
 * A device on the official SDK over MQTT, like the IoT Hub quickstart's: it sends temperature and humidity on a
 * schedule and handles the SetTelemetryInterval direct method. It keeps reconnecting until stopped.
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
  private readonly log: (line: string) => void;

  constructor(private readonly options: SimulatedDeviceOptions) {
    super();
    const deviceId = /(?:^|;)DeviceId=([^;]+)/.exec(options.connectionString)?.[1];
    if (!deviceId) throw new Error('The device connection string has no DeviceId.');
    this.deviceId = deviceId;
    this.interval = options.intervalSeconds ?? 1;
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
    if (client) {
      client.removeAllListeners();
      client.on('error', () => undefined);
      await client.close().catch(() => undefined);
    }
  }

  private async connect(): Promise<void> {
    // The SDK reconnects by itself and tells the client only when it gives up; its transport reports every drop.
    const created: { transport?: Mqtt } = {};
    class ObservedMqtt extends Mqtt {
      constructor(...args: ConstructorParameters<typeof Mqtt>) {
        super(...args);
        created.transport = this;
      }
    }
    const client = Client.fromConnectionString(this.options.connectionString, ObservedMqtt);
    const transport = created.transport;
    if (!transport)
      throw new Error('The device SDK did not create its MQTT transport through the class given.');
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
      this.interval = parsed.seconds;
      this.log(`[${this.deviceId}] SetTelemetryInterval called: telemetry now every ${parsed.seconds} s`);
      // The next message comes one new interval from now, not on the old schedule.
      this.scheduleTelemetry(parsed.seconds * 1000);
      this.emit('interval-changed', parsed.seconds);
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
