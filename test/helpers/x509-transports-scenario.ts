/**
 * X.509 devices on the unmodified device SDK over the transports that need Azure's ports: `MqttWs` and `AmqpWs`
 * (which dial 443) and `Http` (which dials `HostName` on 443), plus a SAS device on `Http`, with
 * `HostName=localhost` connection strings and nothing else. Run by test/integration/x509-transports.test.ts as root
 * in a network namespace of its own (bundled by esbuild), with NODE_EXTRA_CA_CERTS set before node starts; prints
 * a JSON report as its last line, which the test asserts.
 */
import { Client as DeviceClient, Message, type Twin } from 'azure-iot-device';
import { AmqpWs } from 'azure-iot-device-amqp';
import { Http } from 'azure-iot-device-http';
import { MqttWs } from 'azure-iot-device-mqtt';
import { Client as ServiceClient, Registry } from 'azure-iothub';
// azure-iothub carries its own copy of azure-iot-common's Message, which its Client.send takes.
import { Message as ServiceMessage } from 'azure-iothub/dist/common-core/message';
import type * as EmulatorApi from 'iothub-emulator';
// Not from standard-ports-scenario: bundled together, its `require.main === module` would start its own run.
import { METHOD_PAYLOADS } from './method-payloads';
import { outcome, readTelemetry, withTimeout, type Outcome } from './scenario-steps';

export const X509_TRANSPORTS = ['MqttWs', 'AmqpWs', 'Http'] as const;
export type X509TransportName = (typeof X509_TRANSPORTS)[number];
const CTORS = { MqttWs, AmqpWs, Http } as const;

export interface DeviceRun {
  readonly transport: X509TransportName;
  /** `x509`: a certificateAuthority device (CA-signed); `x509-thumbprint`: a selfSigned one; `sas`: keys. */
  readonly auth: Auth;
  readonly open: Outcome<true>;
  /** Each payload case of a direct method and what came back (MQTT and AMQP only; Http does not offer methods). */
  readonly methods: { readonly label: string; readonly sent: unknown; readonly result: Outcome<unknown> }[];
  /** The desired property the device was pushed, as it received it (not on Http). */
  readonly desired: Outcome<unknown>;
  readonly telemetryId: Outcome<string>;
  readonly cloudToDevice: Outcome<{ readonly messageId: string; readonly body: string }>;
  readonly reported: Outcome<unknown>;
  /** A certificate of another device, refused. */
  readonly wrongCertificate: Outcome<string>;
}

export type Auth = 'x509' | 'x509-thumbprint' | 'sas';

export interface X509Report {
  readonly runs: DeviceRun[];
  /** Message id -> the device id the hub stamped on it, read back on the Event Hub-compatible endpoint. */
  readonly telemetry: Outcome<Record<string, string>>;
}

/** A step with a deadline, its outcome recorded. */
function step<T>(action: () => Promise<T>, ms = 20_000): Promise<Outcome<T>> {
  return outcome(() => withTimeout(action(), ms, 'step'));
}

function openDevice(
  connectionString: string,
  transport: X509TransportName,
  pem: { cert: string; key: string } | undefined,
): Promise<DeviceClient> {
  const client = DeviceClient.fromConnectionString(connectionString, CTORS[transport]);
  const options: Record<string, unknown> = pem ? { cert: pem.cert, key: pem.key } : {};
  // azure-iot-device-http calls setOptions back only when a receive policy is given; poll C2D every second.
  if (transport === 'Http') options.http = { receivePolicy: { interval: 1 } };
  return client.setOptions(options).then(() => client.open().then(() => client));
}

async function runDevice(
  emulator: EmulatorApi.RunningEmulator,
  service: ServiceClient,
  registry: Registry,
  transport: X509TransportName,
  auth: Auth,
): Promise<DeviceRun> {
  const deviceId = `xt-${auth}-${transport.toLowerCase()}`;
  let pem: { cert: string; key: string } | undefined;
  let connectionString: string;
  if (auth === 'x509') {
    pem = await emulator.issueDeviceCertificate({ deviceId, style: 'ca-signed' });
    await registry.create({ deviceId, authentication: { type: 'certificateAuthority' } });
    connectionString = `HostName=localhost;DeviceId=${deviceId};x509=true`;
  } else if (auth === 'x509-thumbprint') {
    const issued = await emulator.issueDeviceCertificate({ deviceId, style: 'self-signed' });
    pem = issued;
    await registry.create({
      deviceId,
      authentication: { x509Thumbprint: { primaryThumbprint: issued.thumbprint } },
    });
    connectionString = `HostName=localhost;DeviceId=${deviceId};x509=true`;
  } else {
    await emulator.ensureDevices([deviceId]);
    connectionString = emulator.sdkDeviceConnectionStrings(deviceId)[0]?.connectionString ?? '';
  }
  let device: DeviceClient | undefined;
  const open = await step(async () => {
    device = await openDevice(connectionString, transport, pem);
    return true as const;
  });
  const methods: DeviceRun['methods'] = [];
  if (device && transport !== 'Http') {
    device.onDeviceMethod('echo', (request, response) => {
      void response.send(200, request.payload);
    });
  }
  for (const [label, sent] of METHOD_PAYLOADS) {
    const result = await step(async () => {
      if (!device) throw new Error('not open');
      if (transport === 'Http') throw new Error('not offered');
      const { result } = (await service.invokeDeviceMethod(deviceId, {
        methodName: 'echo',
        payload: sent,
        responseTimeoutInSeconds: 10,
        connectTimeoutInSeconds: 5,
      })) as { result: unknown };
      return result;
    });
    methods.push({ label, sent, result });
  }
  const telemetryId = await step(async () => {
    if (!device) throw new Error('not open');
    const message = new Message(JSON.stringify({ transport, auth }));
    message.messageId = `${deviceId}-telemetry`;
    await device.sendEvent(message);
    return message.messageId;
  });
  const cloudToDevice = await step(async () => {
    if (!device) throw new Error('not open');
    const open = device;
    const messageId = `${deviceId}-c2d`;
    const received = new Promise<{ messageId: string; body: string }>((resolve) => {
      open.on('message', (message: Message) => {
        void open.complete(message);
        resolve({ messageId: message.messageId, body: (message.getData() as Buffer).toString() });
      });
    });
    const sent = new ServiceMessage(JSON.stringify({ to: deviceId }));
    sent.messageId = messageId;
    await service.send(deviceId, sent);
    return received;
  });
  const reported = await step(async () => {
    if (!device) throw new Error('not open');
    if (transport === 'Http') throw new Error('not offered');
    const twin: Twin = await device.getTwin();
    await new Promise<void>((resolve, reject) => {
      (twin.properties.reported as { update: (p: object, done: (error?: Error) => void) => void }).update(
        { via: transport },
        (error) => {
          if (error) reject(error);
          else resolve();
        },
      );
    });
    const serviceTwin = await registry.getTwin(deviceId);
    return (serviceTwin.responseBody.properties.reported as Record<string, unknown>).via;
  });
  const desired = await step(async () => {
    if (!device) throw new Error('not open');
    if (transport === 'Http') throw new Error('not offered');
    const twin: Twin = await device.getTwin();
    const pushed = new Promise<unknown>((resolve) => {
      twin.on('properties.desired', (patch: { interval?: number }) => {
        if (patch.interval === 9) resolve(patch.interval);
      });
    });
    await registry.updateTwin(deviceId, { properties: { desired: { interval: 9 } } }, '*');
    return pushed;
  });
  await device?.close().catch(() => undefined);
  const wrongCertificate = await step(async () => {
    if (auth === 'sas') return 'not applicable';
    const stranger = await emulator.issueDeviceCertificate({
      deviceId: `${deviceId}-other`,
      style: 'ca-signed',
    });
    try {
      const intruder = await openDevice(connectionString, transport, stranger);
      // Http opens nothing until a request: send one, which must be refused.
      await intruder.sendEvent(new Message('intruder'));
      await intruder.close();
      return 'accepted';
    } catch (error) {
      return error instanceof Error ? error.name : String(error);
    }
  });
  return { transport, auth, open, methods, telemetryId, cloudToDevice, reported, desired, wrongCertificate };
}

async function main(): Promise<void> {
  const apiPath = process.env.SCENARIO_EMULATOR_API;
  const dataDir = process.env.SCENARIO_DATA_DIR;
  if (!apiPath || !dataDir) throw new Error('SCENARIO_EMULATOR_API and SCENARIO_DATA_DIR must be set');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const api = require(apiPath) as typeof EmulatorApi;
  const emulator = await api.startEmulator({ standardPorts: true, amqpPort: 0, dataDir, output: 'pipe' });
  try {
    const serviceString = emulator.info.sdkServiceConnectionStrings[0]?.connectionString ?? '';
    const service = ServiceClient.fromConnectionString(serviceString);
    await service.open();
    const registry = Registry.fromConnectionString(serviceString);
    const runs: DeviceRun[] = [];
    for (const transport of X509_TRANSPORTS)
      runs.push(await runDevice(emulator, service, registry, transport, 'x509'));
    runs.push(await runDevice(emulator, service, registry, 'MqttWs', 'x509-thumbprint'));
    runs.push(await runDevice(emulator, service, registry, 'AmqpWs', 'x509-thumbprint'));
    runs.push(await runDevice(emulator, service, registry, 'Http', 'sas'));
    const ids = runs.flatMap((run) => (run.telemetryId.ok ? [run.telemetryId.value] : []));
    const telemetry = await step(() => readTelemetry(emulator.info.eventHubConnectionString, ids));
    await service.close();
    process.stdout.write(`\nX509-REPORT ${JSON.stringify({ runs, telemetry } satisfies X509Report)}\n`);
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
