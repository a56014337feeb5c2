/**
 * The unmodified SDKs against an emulator on Azure's ports (443, 8883, 5671), with `HostName=localhost`
 * connection strings and nothing else: no GatewayHostName, no UseDevelopmentEmulator, no seam. Port 443 needs root,
 * so test/integration/standard-ports.test.ts runs this file (bundled by esbuild into dist/test/) as root inside a
 * network namespace of its own, with NODE_EXTRA_CA_CERTS set before node starts, and reads the JSON report it
 * prints as its last line. Each step records what happened (or its error); the test asserts.
 */
import { Client as DeviceClient, Message, type Twin } from 'azure-iot-device';
import { Amqp, AmqpWs } from 'azure-iot-device-amqp';
import { Mqtt, MqttWs } from 'azure-iot-device-mqtt';
// azure-iothub carries its own copy of azure-iot-common's Message, which its Client.send takes.
import { Message as ServiceMessage } from 'azure-iothub/dist/common-core/message';
import { Client as ServiceClient, Registry } from 'azure-iothub';
import { Amqp as ServiceAmqp, AmqpWs as ServiceAmqpWs } from 'azure-iothub';
import type * as EmulatorApi from 'iothub-emulator';

export { METHOD_PAYLOADS } from './method-payloads';
import { METHOD_PAYLOADS } from './method-payloads';
import { outcome, readTelemetry, withTimeout, type Outcome } from './scenario-steps';

export type { Outcome } from './scenario-steps';
export const DEVICE_TRANSPORTS = ['MqttWs', 'AmqpWs', 'Mqtt', 'Amqp'] as const;
export type DeviceTransportName = (typeof DEVICE_TRANSPORTS)[number];

export interface TransportReport {
  readonly transport: DeviceTransportName;
  /** The service transport that sent the cloud-to-device message. */
  readonly serviceTransport: 'Amqp' | 'AmqpWs';
  readonly connectionString: Outcome<{ readonly keys: string[]; readonly hostName: string }>;
  readonly open: Outcome<true>;
  readonly methods: { readonly label: string; readonly sent: unknown; readonly result: Outcome<unknown> }[];
  readonly telemetrySent: Outcome<string>;
  readonly cloudToDevice: Outcome<{ readonly messageId: string; readonly body: string }>;
  readonly desiredReceived: Outcome<unknown>;
  readonly reportedSeenByService: Outcome<unknown>;
  /** Median of the direct-method round trips, in milliseconds. */
  readonly methodRoundTripMs: Outcome<{ readonly median: number; readonly calls: number }>;
}

export interface ScenarioReport {
  readonly ports: { readonly https: number; readonly mqtt: number; readonly iothubAmqps: number };
  readonly standardPorts: boolean;
  readonly serviceConnectionString: Outcome<{ readonly keys: string[]; readonly hostName: string }>;
  readonly serviceOpen: { readonly Amqp: Outcome<true>; readonly AmqpWs: Outcome<true> };
  readonly registryCreate: Outcome<{ readonly deviceId: string; readonly status: string }>;
  readonly transports: TransportReport[];
  /** Telemetry message ids read back from the Event Hub-compatible endpoint, with the device id the hub stamped. */
  readonly telemetryReceived: Outcome<Record<string, string>>;
}

const DEVICE_CTORS = { MqttWs, AmqpWs, Mqtt, Amqp } as const;
const ROUND_TRIPS = 50;

/** A connection string's keys and host name, without its secret. */
function shapeOf(connectionString: string): { keys: string[]; hostName: string } {
  const pairs = connectionString.split(';').map((part) => part.split('=')[0] ?? '');
  const hostName = /(?:^|;)HostName=([^;]+)/.exec(connectionString)?.[1] ?? '';
  return { keys: pairs, hostName };
}

async function invoke(service: ServiceClient, deviceId: string, payload: unknown, connectTimeout = 0) {
  const response = await service.invokeDeviceMethod(deviceId, {
    methodName: 'echo',
    payload,
    responseTimeoutInSeconds: 10,
    connectTimeoutInSeconds: connectTimeout,
  });
  return response.result as unknown;
}

function reportProperties(twin: Twin, patch: Record<string, unknown>): Promise<void> {
  const reported = twin.properties.reported as {
    update: (patch: Record<string, unknown>, done: (error?: Error) => void) => void;
  };
  return new Promise((resolve, reject) => {
    reported.update(patch, (error) => {
      if (error) reject(error);
      else resolve();
    });
  });
}

async function runTransport(
  emulator: EmulatorApi.RunningEmulator,
  services: { Amqp: ServiceClient; AmqpWs: ServiceClient },
  registry: Registry,
  transport: DeviceTransportName,
): Promise<TransportReport> {
  const deviceId = `sp-${transport.toLowerCase()}`;
  const serviceTransport = transport.endsWith('Ws') ? 'AmqpWs' : 'Amqp';
  const service = services[serviceTransport];
  await emulator.ensureDevices([deviceId]);
  const connectionString = emulator.sdkDeviceConnectionStrings(deviceId)[0]?.connectionString ?? '';
  const device = DeviceClient.fromConnectionString(connectionString, DEVICE_CTORS[transport]);
  const cloudToDevice = new Promise<{ messageId: string; body: string }>((resolve) => {
    device.on('message', (message: Message) => {
      void device.complete(message).then(() => {
        const data: unknown = message.getData();
        const body = Buffer.isBuffer(data) ? data.toString('utf8') : JSON.stringify(data);
        resolve({ messageId: message.messageId, body });
      });
    });
  });
  const report: Partial<Record<keyof TransportReport, unknown>> = {
    transport,
    serviceTransport,
    connectionString: await outcome(() => Promise.resolve(shapeOf(connectionString))),
  };
  report.open = await outcome(async () => {
    await withTimeout(device.open(), 20_000, 'open');
    device.onDeviceMethod('echo', (request, response) => {
      void response.send(200, request.payload);
    });
    return true as const;
  });
  const methods: TransportReport['methods'] = [];
  let first = true;
  for (const [label, sent] of METHOD_PAYLOADS) {
    // The first call waits for the device's subscription to methods, which the SDK makes after open().
    methods.push({
      label,
      sent,
      result: await outcome(() => invoke(service, deviceId, sent, first ? 10 : 0)),
    });
    first = false;
  }
  report.methods = methods;
  report.telemetrySent = await outcome(async () => {
    const message = new Message(JSON.stringify({ transport }));
    message.messageId = `${deviceId}-telemetry`;
    message.contentType = 'application/json';
    message.contentEncoding = 'utf-8';
    message.properties.add('transport', transport);
    await withTimeout(device.sendEvent(message), 10_000, 'sendEvent');
    return message.messageId;
  });
  report.cloudToDevice = await outcome(async () => {
    const message = new ServiceMessage(`c2d over ${serviceTransport} to ${transport}`);
    message.messageId = `${deviceId}-c2d`;
    await withTimeout(service.send(deviceId, message), 10_000, 'service send');
    return withTimeout(cloudToDevice, 15_000, 'cloud-to-device delivery');
  });
  const twin = await outcome(() => withTimeout(device.getTwin(), 15_000, 'getTwin'));
  report.desiredReceived = await outcome(async () => {
    if (!twin.ok) throw new Error(twin.error);
    const desired = new Promise<unknown>((resolve) => {
      twin.value.on('properties.desired', (patch: { color?: unknown }) => {
        if (patch.color !== undefined) resolve(patch.color);
      });
    });
    // The listener makes the SDK subscribe in the background; this waits until the hub acknowledged it, so that
    // the change below is pushed rather than raced.
    await new Promise<void>((resolve, reject) => {
      twin.value.enableTwinDesiredPropertiesUpdates((error) => {
        if (error) reject(error);
        else resolve();
      });
    });
    await registry.updateTwin(deviceId, { properties: { desired: { color: `red-${transport}` } } }, '*');
    return withTimeout(desired, 15_000, 'desired properties');
  });
  report.reportedSeenByService = await outcome(async () => {
    if (!twin.ok) throw new Error(twin.error);
    await reportProperties(twin.value, { seenOver: transport });
    const { responseBody } = await registry.getTwin(deviceId);
    return (responseBody.properties.reported as { seenOver?: unknown }).seenOver;
  });
  report.methodRoundTripMs = await outcome(async () => {
    const times: number[] = [];
    for (let call = 0; call < ROUND_TRIPS; call++) {
      const started = process.hrtime.bigint();
      await invoke(service, deviceId, { call });
      times.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    times.sort((a, b) => a - b);
    const middle = times.length / 2;
    const median = ((times[Math.floor(middle - 0.5)] ?? 0) + (times[Math.ceil(middle - 0.5)] ?? 0)) / 2;
    return { median: Math.round(median * 100) / 100, calls: times.length };
  });
  await device.close();
  return report as unknown as TransportReport;
}

async function main(): Promise<void> {
  const apiPath = process.env.SCENARIO_EMULATOR_API;
  const dataDir = process.env.SCENARIO_DATA_DIR;
  if (!apiPath || !dataDir) throw new Error('SCENARIO_EMULATOR_API and SCENARIO_DATA_DIR must be set');
  // The built emulator (dist), as users run it; required at run time so that this bundle does not carry a copy.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const api = require(apiPath) as typeof EmulatorApi;
  const emulator = await api.startEmulator({ standardPorts: true, amqpPort: 0, dataDir, output: 'pipe' });
  try {
    const serviceString = emulator.info.sdkServiceConnectionStrings[0]?.connectionString ?? '';
    const services = {
      Amqp: ServiceClient.fromConnectionString(serviceString, ServiceAmqp),
      AmqpWs: ServiceClient.fromConnectionString(serviceString, ServiceAmqpWs),
    };
    const registry = Registry.fromConnectionString(serviceString);
    const serviceOpen = {
      Amqp: await outcome(async () => {
        await withTimeout(services.Amqp.open(), 15_000, 'service open (Amqp)');
        return true as const;
      }),
      AmqpWs: await outcome(async () => {
        await withTimeout(services.AmqpWs.open(), 15_000, 'service open (AmqpWs)');
        return true as const;
      }),
    };
    const registryCreate = await outcome(async () => {
      const { responseBody } = await registry.create({ deviceId: 'sp-created' });
      return { deviceId: responseBody.deviceId, status: String(responseBody.status) };
    });
    const transports: TransportReport[] = [];
    for (const transport of DEVICE_TRANSPORTS) {
      transports.push(await runTransport(emulator, services, registry, transport));
    }
    const sentIds = transports.flatMap((t) => (t.telemetrySent.ok ? [t.telemetrySent.value] : []));
    const telemetryReceived = await outcome(() =>
      readTelemetry(emulator.info.eventHubConnectionString, sentIds),
    );
    await Promise.all([services.Amqp.close(), services.AmqpWs.close()]);
    const report: ScenarioReport = {
      ports: {
        https: emulator.info.httpsPort,
        mqtt: emulator.info.mqttPort,
        iothubAmqps: emulator.info.iothubAmqpsPort,
      },
      standardPorts: emulator.info.standardPorts,
      serviceConnectionString: await outcome(() => Promise.resolve(shapeOf(serviceString))),
      serviceOpen,
      registryCreate,
      transports,
      telemetryReceived,
    };
    process.stdout.write(`\nSCENARIO-REPORT ${JSON.stringify(report)}\n`);
  } finally {
    await emulator.stop();
  }
}

if (require.main === module) {
  main().then(
    () => {
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(
        `scenario failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exit(1);
    },
  );
}
