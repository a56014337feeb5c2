import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Message } from 'azure-iot-common';
import type { Client } from 'azure-iothub';
import type { ReceivedCloudToDeviceMessage } from '../../device-sim/c2d-messages';
import { SimulatedDevice } from '../../device-sim/simulated-device';
import type { RunningEmulator } from 'iothub-emulator';
import { emulatorHostSettings } from '../../local/emulator-settings';
import { startLocalHost, type LocalHostProcess } from '../../local/host/host-process';
import { serviceClient, startTestEmulator } from '../helpers/emulator';

interface ErrorBody {
  error: { code: string; message: string; target?: string; trackingId?: string };
}

/** A feedback record as IoT Hub documents it (C2D messaging guide, "Message feedback"). */
interface FeedbackRecord {
  originalMessageId: string;
  deviceId: string;
  statusCode: string;
}

/** Resolves with the first value `listen` hands to `accept`, then stops listening; the test's timeout bounds it. */
function waitFor<T>(listen: (accept: (value: T) => void) => () => void): Promise<T> {
  return new Promise<T>((resolve) => {
    let settled = false;
    const accept = (value: T) => {
      if (settled) return;
      settled = true;
      resolve(value);
      // Deferred: accept may run inside listen, before stop exists.
      queueMicrotask(() => {
        stop();
      });
    };
    const stop = listen(accept);
  });
}

describe('sendCloudToDeviceMessage over HTTP through the local Functions host', () => {
  let emulator: RunningEmulator & { removeData: () => void };
  let host: LocalHostProcess;
  let service: Client;
  let mqttDevice: SimulatedDevice;
  let amqpDevice: SimulatedDevice;
  const feedback: FeedbackRecord[] = [];
  const feedbackAdded = new EventEmitter();
  const logs: string[] = [];
  // Every message the simulators settle, from the start: a device may settle one before its sender hears 202.
  const settled: { deviceId: string; message: ReceivedCloudToDeviceMessage; outcome: string }[] = [];
  const settledAdded = new EventEmitter();

  const settledBy = (device: SimulatedDevice, messageId: string) =>
    waitFor<{ message: ReceivedCloudToDeviceMessage; outcome: string }>((accept) => {
      const check = () => {
        const found = settled.find(
          (s) => s.deviceId === device.deviceId && s.message.messageId === messageId,
        );
        if (found) accept(found);
      };
      settledAdded.on('added', check);
      check();
      return () => settledAdded.off('added', check);
    });

  const feedbackFor = (messageId: string) =>
    waitFor<FeedbackRecord>((accept) => {
      const check = () => {
        const record = feedback.find((r) => r.originalMessageId === messageId);
        if (record) accept(record);
      };
      feedbackAdded.on('added', check);
      check();
      return () => feedbackAdded.off('added', check);
    });

  beforeAll(async () => {
    emulator = await startTestEmulator({ devices: ['c2d-mqtt', 'c2d-amqp', 'c2d-offline'] });
    host = await startLocalHost(emulatorHostSettings(emulator.info));
    const ca = readFileSync(emulator.info.caPath, 'utf8');
    const log = (line: string) => logs.push(line);
    mqttDevice = new SimulatedDevice({
      connectionString: emulator.deviceConnectionString('c2d-mqtt', 'mqtt'),
      ca,
      intervalSeconds: 3600,
      log,
    });
    amqpDevice = new SimulatedDevice({
      connectionString: emulator.deviceConnectionString('c2d-amqp', 'amqp'),
      transport: 'amqp',
      rejectUnparseable: true,
      ca,
      intervalSeconds: 3600,
      log,
    });
    for (const device of [mqttDevice, amqpDevice]) {
      device.on('c2d-message', (message, outcome) => {
        settled.push({ deviceId: device.deviceId, message, outcome });
        settledAdded.emit('added');
      });
    }
    await Promise.all([mqttDevice.start(), amqpDevice.start()]);
    service = serviceClient(emulator);
    await service.open();
    const { result: receiver } = await service.getFeedbackReceiver();
    receiver.on('message', (message: Message) => {
      feedback.push(...(JSON.parse(message.getBytes().toString('utf8')) as FeedbackRecord[]));
      feedbackAdded.emit('added');
    });
  });

  afterAll(async () => {
    await Promise.all([mqttDevice.stop(), amqpDevice.stop()]);
    await service.close();
    await host.stop();
    await emulator.stop();
    emulator.removeData();
  });

  const post = (path: string, body?: unknown) =>
    fetch(`${host.baseUrl}/api/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
  const send = async (deviceId: string, body: unknown) => {
    const response = await post(`devices/${deviceId}/messages`, body);
    expect(response.status).toBe(202);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const answer = (await response.json()) as { messageId: string };
    expect(Object.keys(answer)).toEqual(['messageId']);
    return answer.messageId;
  };
  const errorOf = async (response: Response) => ((await response.json()) as ErrorBody).error;

  it('delivers a JSON payload with properties to an MQTT device, which completes it (feedback Success)', async () => {
    const messageId = await send('c2d-mqtt', {
      payload: { command: 'blink', times: 3 },
      properties: { priority: 'high' },
      ack: 'full',
    });
    // Generated for the caller, since feedback names messages by id.
    expect(messageId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const { message, outcome } = await settledBy(mqttDevice, messageId);
    expect(outcome).toBe('completed');
    expect(JSON.parse(message.text)).toEqual({ command: 'blink', times: 3 });
    expect(message.properties).toMatchObject({ priority: 'high' });
    expect(await feedbackFor(messageId)).toMatchObject({ deviceId: 'c2d-mqtt', statusCode: 'Success' });
    expect(logs.some((line) => line.startsWith(`[c2d-mqtt] C2D message ${messageId} `))).toBe(true);
  });

  it('delivers to an AMQP device with the caller’s message id, correlation id and content type', async () => {
    const messageId = await send('c2d-amqp', {
      body: '{"setpoint": 21.5}',
      messageId: 'order-42',
      correlationId: 'corr-42',
      contentType: 'application/json',
      ack: 'positive',
      ttlSeconds: 600,
    });
    expect(messageId).toBe('order-42');
    const { message, outcome } = await settledBy(amqpDevice, 'order-42');
    expect(outcome).toBe('completed');
    expect(message).toMatchObject({ correlationId: 'corr-42', contentType: 'application/json' });
    expect(message.text).toBe('{"setpoint": 21.5}');
    expect(await feedbackFor('order-42')).toMatchObject({ deviceId: 'c2d-amqp', statusCode: 'Success' });
  });

  it('has the AMQP simulator reject a body that is not JSON (feedback Rejected)', async () => {
    const messageId = await send('c2d-amqp', { body: 'reboot now', ack: 'negative' });
    expect((await settledBy(amqpDevice, messageId)).outcome).toBe('rejected');
    expect(await feedbackFor(messageId)).toMatchObject({ deviceId: 'c2d-amqp', statusCode: 'Rejected' });
  });

  it('runs direct methods on the AMQP simulator as on the MQTT one, unknown ones answered 404 at once', async () => {
    const changed = await post('devices/c2d-amqp/methods/SetTelemetryInterval', { payload: 3 });
    expect(await changed.json()).toEqual({ status: 200, payload: { interval: 3 } });
    expect(amqpDevice.intervalSeconds).toBe(3);
    const refused = await post('devices/c2d-amqp/methods/SetTelemetryInterval', { payload: 'often' });
    expect(((await refused.json()) as { status: number }).status).toBe(400);
    // Without the simulator's catch-all the call would end in 504 after the 30 s response timeout.
    const unknown = await post('devices/c2d-amqp/methods/Reboot', { responseTimeoutInSeconds: 30 });
    expect(await unknown.json()).toEqual({
      status: 404,
      payload: { message: 'Direct method Reboot not defined. This device supports: SetTelemetryInterval.' },
    });
  });

  it('answers 404 DeviceNotFound for a device IoT Hub does not know', async () => {
    const response = await post('devices/nobody/messages', { payload: 1 });
    expect(response.status).toBe(404);
    expect((await errorOf(response)).code).toBe('DeviceNotFound');
  });

  it('answers 403 DeviceMaximumQueueDepthExceeded once 50 messages wait for an offline device', async () => {
    // IoT Hub keeps at most 50 cloud-to-device messages a device.
    for (let i = 0; i < 50; i++) await send('c2d-offline', { payload: i });
    const response = await post('devices/c2d-offline/messages', { payload: 50 });
    expect(response.status).toBe(403);
    expect((await errorOf(response)).code).toBe('DeviceMaximumQueueDepthExceeded');
  });

  it('answers 413 MessageTooLarge for a message over 64 KB, before it costs a hub call', async () => {
    const response = await post('devices/c2d-amqp/messages', { body: 'x'.repeat(64 * 1024) });
    expect(response.status).toBe(413);
    expect(await errorOf(response)).toMatchObject({ code: 'MessageTooLarge', target: 'body' });
  });

  it.each([
    ['invalid JSON', 'devices/c2d-amqp/messages', '{"payload": ', 'InvalidJson', 'body'],
    ['no message', 'devices/c2d-amqp/messages', '{"ack": "full"}', 'MissingPayload', 'payload'],
    ['an unknown ack mode', 'devices/c2d-amqp/messages', '{"payload": 1, "ack": "yes"}', 'InvalidAck', 'ack'],
    [
      'a property name with a space',
      'devices/c2d-amqp/messages',
      '{"payload": 1, "properties": {"a b": "c"}}',
      'InvalidPropertyName',
      'properties',
    ],
    [
      'a TTL over 48 hours',
      'devices/c2d-amqp/messages',
      '{"payload": 1, "ttlSeconds": 172801}',
      'InvalidExpiry',
      'ttlSeconds',
    ],
    ['an invalid device id', 'devices/bad%20id/messages', '{"payload": 1}', 'InvalidDeviceId', 'deviceId'],
  ])('answers 400 to %s, naming the field', async (_label, path, body, code, target) => {
    const response = await post(path, body);
    expect(response.status).toBe(400);
    const error = await errorOf(response);
    expect(error).toMatchObject({ code, target });
    expect(error.message.length).toBeGreaterThan(10);
  });

  it('serves only POST on the route', async () => {
    expect((await fetch(`${host.baseUrl}/api/devices/c2d-amqp/messages`)).status).toBe(404);
  });

  it('runs a fleet over AMQP from the command line (npm run device -- --devices 2 --transport amqp)', async () => {
    const cli = spawn(
      process.execPath,
      [
        join(__dirname, '..', '..', 'dist', 'device-sim', 'cli.js'),
        '--devices',
        '2',
        '--transport',
        'amqp',
        '--quiet',
      ],
      {
        env: {
          ...process.env,
          IOTHUB_SERVICE_CONNECTION_STRING: emulator.info.serviceConnectionString,
          IOTHUB_EMULATOR_CA_CERT: emulator.info.caPath,
          // Never a developer's device.env.
          IOTHUB_DEVICE_ENV_FILE: join(emulator.info.dataDir, 'no-device.env'),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    try {
      const output = outputOf(cli);
      await output.waitFor(/^2 simulated device\(s\) running over AMQP/m);
      const messageId = await send('sim-device-02', { payload: { command: 'ping' } });
      const line = await output.waitFor(
        new RegExp(`^\\[sim-device-02\\] C2D message ${messageId} .*: completed$`, 'm'),
      );
      expect(line).toContain('body="{\\"command\\":\\"ping\\"}"');
    } finally {
      cli.kill('SIGTERM');
      if (cli.exitCode === null) await once(cli, 'exit');
    }
  });
});

/** The output of a child process, and a way to wait for a line matching a pattern. */
function outputOf(child: ChildProcess) {
  let text = '';
  const grew = new EventEmitter();
  const append = (chunk: Buffer) => {
    text += chunk.toString('utf8');
    grew.emit('grew');
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  return {
    waitFor: (pattern: RegExp) =>
      waitFor<string>((accept) => {
        const check = () => {
          const match = pattern.exec(text);
          if (match) accept(match[0]);
        };
        grew.on('grew', check);
        check();
        return () => grew.off('grew', check);
      }),
    text: () => text,
  };
}
