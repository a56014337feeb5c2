import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client as DeviceClient, Message } from 'azure-iot-device';
import { Mqtt } from 'azure-iot-device-mqtt';
import mqtt, { type MqttClient } from 'mqtt';
import { createSasToken, type RunningEmulator, startEmulator } from 'iothub-emulator';
import { loadOrCreateTlsMaterial } from 'iothub-emulator/in-process';
import { parseEventHubsOptions } from '../local/eventhub/eventhub-options';
import { emulatorHostSettings } from '../local/emulator-settings';
import { FunctionsHost } from '../local/host/functions-host';
import { readHostConfig } from '../local/host/host-config';
import { figure, knob, recordFigures } from './report';

/** Issue 13, target 3: SDK devices -> function at least half the bare rate; the emulator's ingest 0.9 of it. */
const MIN_FUNCTION_RATIO = 0.5;
const MIN_INGEST_RATIO = 0.9;

/**
 * Telemetry throughput, all in one run:
 *  1. bare: 100 mqtt.js clients publishing QoS 1 to a bare aedes broker behind TLS (its own process);
 *  2. ingest: the same clients publishing to the emulator as devices (each message on disk before its PUBACK);
 *  3. end to end: 100 devices on the official SDK -> emulator -> Event Hub-compatible endpoint (AMQP) -> local
 *     host (@azure/event-hubs) -> the telemetry function, counted by its log lines.
 * Each client keeps WINDOW messages in flight. The emulator runs with its defaults: every event is on disk
 * (fdatasync) before its PUBACK. Usage: node dist/bench/telemetry-throughput.js [devices=100]
 * [messagesPerDevice=300], or BENCH_TELEMETRY_DEVICES and BENCH_TELEMETRY_MESSAGES (which win).
 */
const WINDOW = 10;

const DATA_DIR = join('.iothub-emulator', 'bench-telemetry');
const deviceIdsFor = (count: number) =>
  Array.from({ length: count }, (_, i) => `tp-${String(i).padStart(3, '0')}`);
const payload = (i: number) => JSON.stringify({ temperature: 20 + (i % 10), humidity: 60 + (i % 7) });

type FunctionPhase = 'concurrent' | 'backlog';
interface PhaseResult {
  sendMs: number;
  functionMs: number;
  /** From the first event the function logged to the last. */
  steadyMs: number;
  batchSize: number;
}

async function main(): Promise<void> {
  const deviceCount = knob('BENCH_TELEMETRY_DEVICES', 100, process.argv[2]);
  const perDevice = knob('BENCH_TELEMETRY_MESSAGES', 300, process.argv[3]);
  const total = deviceCount * perDevice;
  const deviceIds = deviceIdsFor(deviceCount);
  const dataDir = DATA_DIR;

  const tls = await loadOrCreateTlsMaterial(join(dataDir, 'bare'));
  const bare = await barePublishRate(
    { cert: tls.cert, key: tls.key, ca: readFileSync(tls.caPath, 'utf8') },
    deviceIds,
    perDevice,
    payload,
  );
  console.log(`bare aedes QoS 1 publish:        ${rate(total, bare)}`);

  // Each phase gets a fresh emulator, so that the function reads only the end-to-end phase's events.
  const ingestEmulator = await startEmulator({
    mqttPort: 0,
    httpsPort: 0,
    amqpPort: 0,
    iothubAmqpsPort: 0,
    dataDir: join(dataDir, 'ingest'),
    reset: true,
    devices: deviceIds,
  });
  let ingest: number;
  try {
    const ca = readFileSync(ingestEmulator.info.caPath, 'utf8');
    ingest = await emulatorIngestRate(ingestEmulator, ca, deviceIds, perDevice, payload);
    console.log(`emulator ingest (durable):       ${rate(total, ingest)}`);
  } finally {
    await ingestEmulator.stop();
  }

  const concurrent = await inChildProcess('concurrent', deviceCount, perDevice, 'sdk');
  console.log(
    `devices (SDK) -> emulator:       ${rate(total, concurrent.sendMs)}  (while the function reads)`,
  );
  console.log(`devices (SDK) -> function:       ${rate(total, concurrent.functionMs)}`);
  const bareDevices = await inChildProcess('concurrent', deviceCount, perDevice, 'mqtt');
  console.log(`devices (mqtt.js) -> function:   ${rate(total, bareDevices.functionMs)}`);
  const backlog = await inChildProcess('backlog', deviceCount, perDevice, 'mqtt');
  console.log(
    `backlog -> function:             ${rate(total, backlog.steadyMs)}  (devices idle; from the first event logged, ${rate(total, backlog.functionMs)} from the host's start)`,
  );
  console.log(`batch size (host.json maxEventBatchSize): ${backlog.batchSize}`);
  console.log(
    `rate / bare rate: ingest ${(bare / ingest).toFixed(2)}, SDK devices -> function ${(bare / concurrent.functionMs).toFixed(2)}, ` +
      `mqtt.js devices -> function ${(bare / bareDevices.functionMs).toFixed(2)}, backlog ${(bare / backlog.steadyMs).toFixed(2)}`,
  );
  const perSecond = (ms: number) => (total * 1000) / ms;
  const bareRate = perSecond(bare);
  const note = `${deviceCount} devices x ${perDevice} events, ${WINDOW} in flight per device, QoS 1`;
  const baselineName = 'bare aedes QoS 1, mqtt.js';
  recordFigures([
    figure({
      target: 3,
      name: "telemetry, SDK devices -> telemetry function's handler",
      unit: 'events/s',
      measured: perSecond(concurrent.functionMs),
      goal: `>= ${MIN_FUNCTION_RATIO} of bare`,
      baseline: bareRate,
      baselineName,
      met: perSecond(concurrent.functionMs) >= MIN_FUNCTION_RATIO * bareRate,
      note: `${note}; from the first send to the handler's last log line, durable before PUBACK`,
    }),
    figure({
      target: 3,
      name: 'telemetry, emulator ingest (durable before PUBACK)',
      unit: 'events/s',
      measured: perSecond(ingest),
      goal: `>= ${MIN_INGEST_RATIO} of bare`,
      baseline: bareRate,
      baselineName,
      met: perSecond(ingest) >= MIN_INGEST_RATIO * bareRate,
      note: `${note}; the same mqtt.js clients as the baseline, authenticated as devices`,
    }),
    figure({
      target: 0,
      name: 'telemetry, mqtt.js devices -> function',
      unit: 'events/s',
      measured: perSecond(bareDevices.functionMs),
      baseline: bareRate,
      baselineName,
      note,
    }),
    figure({
      target: 0,
      name: 'telemetry, backlog -> function',
      unit: 'events/s',
      measured: perSecond(backlog.steadyMs),
      baseline: bareRate,
      baselineName,
      note: `${note}; batch size ${backlog.batchSize}`,
    }),
  ]);
}

/**
 * 100 devices on the official SDK -> emulator -> Event Hub-compatible endpoint -> local host -> the telemetry
 * function, counted by its log lines. `concurrent`: the host reads while the devices send, timed from the first
 * send to the last line. `backlog`: the devices send everything first; timed from the host's start.
 */
async function throughFunction(
  dataDir: string,
  deviceIds: readonly string[],
  perDevice: number,
  mode: FunctionPhase,
): Promise<PhaseResult> {
  const total = deviceIds.length * perDevice;
  const emulator = await startEmulator({
    mqttPort: 0,
    httpsPort: 0,
    amqpPort: 0,
    iothubAmqpsPort: 0,
    dataDir,
    reset: true,
    devices: deviceIds,
  });
  try {
    // The devices run in a process of their own, as a fleet does, not inside the functions host.
    const fleet = await startFleet(
      deviceIds.map((id) => emulator.deviceConnectionString(id)),
      readFileSync(emulator.info.caPath, 'utf8'),
      perDevice,
    );
    const send = () => fleet.send();
    let sendMs = 0;
    if (mode === 'backlog') sendMs = await send();

    let logged = 0;
    let firstLoggedAt: number | undefined;
    let done: () => void = () => undefined;
    const allLogged = new Promise<void>((resolve) => (done = resolve));
    const hostStarted = performance.now();
    const host = await FunctionsHost.start({
      projectDir: join(__dirname, '..', '..'),
      port: 0,
      // Checkpoints inside the emulator's (reset) data directory: those of an earlier run would skip these events.
      settingsOverrides: emulatorHostSettings(emulator.info),
      log: (line) => {
        if (line.includes('Telemetry device=tp-')) {
          firstLoggedAt ??= performance.now();
          if (++logged >= total) done();
        } else if (process.env.BENCH_VERBOSE) console.error(line);
      },
    });
    try {
      const started = performance.now();
      if (mode === 'concurrent') sendMs = await send();
      await allLogged;
      const functionMs = performance.now() - (mode === 'concurrent' ? started : hostStarted);
      await fleet.close();
      const { options } = parseEventHubsOptions(
        readHostConfig(join(__dirname, '..', '..'), definedOnly(process.env)),
      );
      const steadyMs = performance.now() - (firstLoggedAt ?? 0);
      return { sendMs, functionMs, steadyMs, batchSize: options.maxEventBatchSize };
    } finally {
      await host.stop();
    }
  } finally {
    await emulator.stop();
  }
}

/**
 * Each function phase runs in a process of its own, as a fresh `npm start` would: the functions host registers
 * the app's functions when their modules load, once per process.
 */
async function inChildProcess(
  phase: FunctionPhase,
  deviceCount: number,
  perDevice: number,
  fleetClient: 'sdk' | 'mqtt',
): Promise<PhaseResult> {
  const child = fork(__filename, ['--phase', phase, String(deviceCount), String(perDevice)], {
    env: { ...process.env, BENCH_FLEET_CLIENT: fleetClient },
  });
  const result = await new Promise<PhaseResult>((resolve, reject) => {
    child.once('message', (message: PhaseResult) => {
      resolve(message);
    });
    child.once('exit', (code) => {
      reject(new Error(`The ${phase} phase exited with code ${code ?? '?'}`));
    });
  });
  child.disconnect();
  return result;
}

interface Fleet {
  /** Sends every device's messages; resolves with the time it took. */
  send(): Promise<number>;
  close(): Promise<void>;
}

/** Forks this script as a fleet of devices on the official SDK; they connect before `send()`. */
async function startFleet(
  connectionStrings: readonly string[],
  ca: string,
  perDevice: number,
): Promise<Fleet> {
  const child = fork(__filename, ['--fleet', String(perDevice)], {
    env: { ...process.env, BENCH_FLEET_JSON: JSON.stringify({ connectionStrings, ca }) },
  });
  const next = <T>() =>
    new Promise<T>((resolve, reject) => {
      child.once('message', (message: T) => {
        resolve(message);
      });
      child.once('exit', (code) => {
        reject(new Error(`The device fleet exited with code ${code ?? '?'}`));
      });
    });
  await next<{ ready: true }>();
  return {
    send: async () => {
      const sent = next<{ sendMs: number }>();
      child.send('go');
      return (await sent).sendMs;
    },
    close: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.disconnect();
      await exited;
    },
  };
}

async function fleetMain(perDevice: number): Promise<void> {
  const { connectionStrings, ca } = JSON.parse(process.env.BENCH_FLEET_JSON ?? '{}') as {
    connectionStrings: string[];
    ca: string;
  };
  // The official device SDK, as the simulator uses it; or bare mqtt.js clients speaking the same MQTT as devices,
  // to see the emulator and the function when the devices' own cost is out of the way.
  const useSdk = process.env.BENCH_FLEET_CLIENT !== 'mqtt';
  const senders = await Promise.all(
    connectionStrings.map(async (connectionString) => {
      if (useSdk) {
        const client = DeviceClient.fromConnectionString(connectionString, Mqtt);
        await client.setOptions({ ca });
        await client.open();
        return {
          send: async (body: string) => {
            await client.sendEvent(new Message(body));
          },
          close: async () => {
            await client.close();
          },
        };
      }
      const client = await connectAsDevice(connectionString, ca);
      const topic = `devices/${client.options.clientId ?? ''}/messages/events/`;
      return {
        send: async (body: string) => {
          await client.publishAsync(topic, body, { qos: 1 });
        },
        close: () => client.endAsync(),
      };
    }),
  );
  process.send?.({ ready: true });
  await new Promise((resolve) => process.once('message', resolve));
  const started = performance.now();
  await Promise.all(senders.map((sender) => pipelined(perDevice, (i) => sender.send(payload(i)))));
  process.send?.({ sendMs: performance.now() - started });
  await new Promise((resolve) => process.once('disconnect', resolve));
  await Promise.all(senders.map((sender) => sender.close()));
}

async function phaseMain(phase: FunctionPhase, deviceCount: number, perDevice: number): Promise<void> {
  const result = await throughFunction(join(DATA_DIR, phase), deviceIdsFor(deviceCount), perDevice, phase);
  process.send?.(result);
}

/** A bare mqtt.js client authenticated as the device of a connection string (SAS token as the SDK makes it). */
function connectAsDevice(connectionString: string, ca: string): Promise<MqttClient> {
  const field = (name: string) => new RegExp(`(?:^|;)${name}=([^;]+)`).exec(connectionString)?.[1] ?? '';
  const [hostName, deviceId, gateway] = [field('HostName'), field('DeviceId'), field('GatewayHostName')];
  const expiry = Math.floor(Date.now() / 1000) + 3600;
  return mqtt.connectAsync(`mqtts://${gateway}`, {
    ca,
    clientId: deviceId,
    username: `${hostName}/${deviceId}/?api-version=2021-04-12`,
    password: createSasToken(`${hostName}/devices/${deviceId}`, field('SharedAccessKey'), expiry),
    protocolVersion: 4,
    clean: false,
    reconnectPeriod: 0,
  });
}

function definedOnly(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).flatMap(([k, v]) => (v === undefined ? [] : [[k, v]])));
}

function rate(events: number, ms: number): string {
  return `${Math.round((events * 1000) / ms).toLocaleString('en-US')} events/s (${(ms / 1000).toFixed(2)} s)`;
}

/** Runs `count` calls of `send`, keeping WINDOW in flight. */
async function pipelined(count: number, send: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(WINDOW, count) }, async () => {
      while (next < count) await send(next++);
    }),
  );
}

async function publishAll(
  clients: MqttClient[],
  topicOf: (client: number) => string,
  perClient: number,
  payload: (i: number) => string,
): Promise<number> {
  const started = performance.now();
  await Promise.all(
    clients.map((client, c) =>
      pipelined(perClient, async (i) => {
        await client.publishAsync(topicOf(c), payload(i), { qos: 1 });
      }),
    ),
  );
  return performance.now() - started;
}

async function barePublishRate(
  tls: { cert: string; key: string; ca: string },
  clientIds: readonly string[],
  perClient: number,
  payload: (i: number) => string,
): Promise<number> {
  const broker = fork(join(__dirname, 'bare-broker.js'), [], {
    env: { ...process.env, BARE_BROKER_TLS_JSON: JSON.stringify({ cert: tls.cert, key: tls.key }) },
  });
  const port = await new Promise<number>((resolve) =>
    broker.once('message', (message: { port: number }) => {
      resolve(message.port);
    }),
  );
  const clients = await Promise.all(
    clientIds.map((clientId) =>
      mqtt.connectAsync(`mqtts://localhost:${port}`, {
        ca: tls.ca,
        clientId,
        protocolVersion: 4,
        reconnectPeriod: 0,
      }),
    ),
  );
  const ms = await publishAll(
    clients,
    (c) => `devices/${clientIds[c] ?? ''}/messages/events/`,
    perClient,
    payload,
  );
  await Promise.all(clients.map((client) => client.endAsync()));
  const exited = new Promise((resolve) => broker.once('exit', resolve));
  broker.disconnect();
  await exited;
  return ms;
}

/** The bare clients again, this time authenticated as the emulator's devices. */
async function emulatorIngestRate(
  emulator: RunningEmulator,
  ca: string,
  deviceIds: readonly string[],
  perClient: number,
  payload: (i: number) => string,
): Promise<number> {
  const clients = await Promise.all(
    deviceIds.map((deviceId) => connectAsDevice(emulator.deviceConnectionString(deviceId), ca)),
  );
  const ms = await publishAll(
    clients,
    (c) => `devices/${deviceIds[c] ?? ''}/messages/events/`,
    perClient,
    payload,
  );
  await Promise.all(clients.map((client) => client.endAsync()));
  return ms;
}

const run =
  process.argv[2] === '--phase'
    ? phaseMain(process.argv[3] as FunctionPhase, Number(process.argv[4]), Number(process.argv[5]))
    : process.argv[2] === '--fleet'
      ? fleetMain(Number(process.argv[3]))
      : main();
run.catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
