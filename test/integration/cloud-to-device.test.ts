/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- azure-iothub and azure-iot-device each
   declare their own copy of azure-iot-common's Message class; at run time they accept any Message (azure-iothub
   checks the constructor's name), so one Message serves both sides here. */
import { EventEmitter, once } from 'node:events';
import { readFileSync } from 'node:fs';
import { EventHubConsumerClient, type ReceivedEventData } from '@azure/event-hubs';
import { Client as DeviceClient, SharedAccessSignature as DeviceSas } from 'azure-iot-device';
import { Message } from 'azure-iot-common';
import { Amqp as DeviceAmqp } from 'azure-iot-device-amqp';
import { SharedAccessSignature, type Client } from 'azure-iothub';
import { create_container, type EventContext } from 'rhea';
import { type DeviceTransport, type RunningEmulator } from 'iothub-emulator';
import { createIotHubClient } from '../../src/lib/iothub-client';
import { readIotHubSettings } from '../../src/lib/settings';
import { RawAmqpClient } from '../helpers/raw-amqp';
import { connectDevice, makeTempDir, policyKey, serviceClient, startTestEmulator } from '../helpers/emulator';

/** A feedback record as IoT Hub documents it (C2D messaging, "Message feedback"). */
interface FeedbackRecord {
  originalMessageId: string;
  deviceId: string;
  statusCode: string;
  description: string;
  enqueuedTimeUtc: string;
  deviceGenerationId: string;
}

/** Every feedback record the service's feedback receiver gets, and a way to wait for one. */
class FeedbackLog extends EventEmitter {
  readonly records: FeedbackRecord[] = [];

  add(batch: FeedbackRecord[]): void {
    this.records.push(...batch);
    this.emit('added');
  }

  async waitFor(originalMessageId: string, timeoutMs = 15_000): Promise<FeedbackRecord> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.records.find((record) => record.originalMessageId === originalMessageId);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no feedback for ${originalMessageId}`);
      await once(this, 'added', { signal: AbortSignal.timeout(left) }).catch(() => undefined);
    }
  }

  of(originalMessageId: string): FeedbackRecord | undefined {
    return this.records.find((record) => record.originalMessageId === originalMessageId);
  }
}

/**
 * The messages a device receives, each settled as the test says, one at a time and each in its own turn of the
 * event loop. azure-iot-device-amqp's rhea (1.0.24) merges the settlements of consecutive deliveries made in one
 * turn into a single disposition with the first one's outcome (its write_dispositions compares outcomes only from
 * the third delivery of a range on), so a reject and a complete settled together would both reach any hub as
 * rejected; a device handling messages one by one, as applications do, never meets it.
 */
class Inbox extends EventEmitter {
  readonly received: Message[] = [];
  /** How many of the received messages the device has settled. */
  private settled = 0;
  private settling: Promise<unknown> = Promise.resolve();

  constructor(
    readonly device: DeviceClient,
    settle: (message: Message, times: number) => 'complete' | 'reject' | 'abandon' = () => 'complete',
  ) {
    super();
    device.on('message', (message: Message) => {
      this.received.push(message);
      const times = this.received.filter((m) => m.messageId === message.messageId).length;
      const how = settle(message, times);
      this.settling = this.settling
        .then(() => new Promise((resolve) => setImmediate(resolve)))
        .then(() =>
          how === 'complete'
            ? device.complete(message)
            : how === 'reject'
              ? device.reject(message)
              : device.abandon(message),
        )
        .then(() => {
          this.settled++;
          this.emit('received');
        });
    });
  }

  /** Resolves once `count` messages were received and settled. */
  async waitForCount(count: number, timeoutMs = 15_000): Promise<Message[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.settled < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`settled ${this.settled} of ${count} messages`);
      await once(this, 'received', { signal: AbortSignal.timeout(left) }).catch(() => undefined);
    }
    return this.received;
  }
}

/** A received message's body as text (the SDKs give a Buffer). */
function bodyText(message: Message): string {
  const data: unknown = message.getData();
  return Buffer.isBuffer(data) ? data.toString('utf8') : String(data);
}

function c2d(messageId: string, ack: string, extra: (message: Message) => void = () => undefined): Message {
  const message = new Message(JSON.stringify({ messageId }));
  message.messageId = messageId;
  message.ack = ack;
  extra(message);
  return message;
}

describe('cloud-to-device messages (azure-iothub Client over AMQP -> emulator -> device SDKs)', () => {
  let emulator: RunningEmulator & { removeData: () => void };
  let service: Client;
  const feedback = new FeedbackLog();
  const devices: DeviceClient[] = [];

  const connect = async (deviceId: string, transport: DeviceTransport) => {
    const device = await connectDevice(
      emulator,
      emulator.deviceConnectionString(deviceId, transport),
      {},
      transport,
    );
    devices.push(device);
    return device;
  };

  beforeAll(async () => {
    emulator = await startTestEmulator({
      devices: [
        'mqtt-device',
        'amqp-device',
        'ack-mqtt',
        'ack-amqp',
        'abandon-device',
        'expiring-device',
        'queue-device',
      ],
    });
    service = serviceClient(emulator);
    await service.open();
    const { result: receiver } = await service.getFeedbackReceiver();
    receiver.on('message', (message: Message) => {
      feedback.add(JSON.parse(bodyText(message)) as FeedbackRecord[]);
    });
  });

  afterAll(async () => {
    await Promise.all(devices.map((device) => device.close()));
    await service.close();
    await emulator.stop();
    emulator.removeData();
  });

  it.each(['mqtt', 'amqp'] as const)(
    'delivers a message with its body and properties to a %s device',
    async (transport) => {
      const inbox = new Inbox(await connect(`${transport}-device`, transport));
      const sent = c2d(`props-${transport}`, 'none', (message) => {
        message.correlationId = 'corr-1';
        message.properties.add('color', 'blue');
        message.contentType = 'application/json';
        message.contentEncoding = 'utf-8';
      });
      await service.send(`${transport}-device`, sent);
      const [received] = await inbox.waitForCount(1);
      expect(received && bodyText(received)).toBe(JSON.stringify({ messageId: `props-${transport}` }));
      expect(received?.messageId).toBe(`props-${transport}`);
      expect(received?.correlationId).toBe('corr-1');
      expect(received?.properties.getValue('color')).toBe('blue');
      if (transport === 'amqp') {
        expect(received?.contentType).toBe('application/json');
        expect(received?.contentEncoding).toBe('utf-8');
      }
    },
  );

  // What each ack mode reports (IoT Hub C2D docs): positive only Success, negative only failures, full both.
  it.each([
    [
      'mqtt',
      [
        ['none', 'complete', undefined],
        ['positive', 'complete', 'Success'],
        ['negative', 'complete', undefined],
        ['full', 'complete', 'Success'],
      ],
    ],
    [
      'amqp',
      [
        ['none', 'complete', undefined],
        ['none', 'reject', undefined],
        ['positive', 'complete', 'Success'],
        ['positive', 'reject', undefined],
        ['negative', 'complete', undefined],
        ['negative', 'reject', 'Rejected'],
        ['full', 'complete', 'Success'],
        ['full', 'reject', 'Rejected'],
      ],
    ],
  ] as const)('sends feedback by ack mode to the feedback receiver (%s device)', async (transport, cases) => {
    const deviceId = `ack-${transport}`;
    const ids = cases.map(([ack, settle]) => `${transport}-${ack}-${settle}`);
    const settleOf = new Map<string, string>(cases.map(([, settle], i) => [ids[i] ?? '', settle]));
    const inbox = new Inbox(await connect(deviceId, transport), (message) =>
      settleOf.get(message.messageId) === 'reject' ? 'reject' : 'complete',
    );
    for (const [i, [ack]] of cases.entries()) await service.send(deviceId, c2d(ids[i] ?? '', ack));
    // A last message with full feedback: its record comes after every earlier settlement's.
    const last = `${transport}-sentinel`;
    await service.send(deviceId, c2d(last, 'full'));
    await inbox.waitForCount(cases.length + 1);
    expect(await feedback.waitFor(last)).toMatchObject({
      deviceId,
      statusCode: 'Success',
      description: 'Success',
    });
    for (const [i, [, , expected]] of cases.entries()) {
      const record = feedback.of(ids[i] ?? '');
      if (expected === undefined) expect(record).toBeUndefined();
      else expect(record).toMatchObject({ deviceId, statusCode: expected });
    }
    const record = feedback.of(last);
    expect(Number.isNaN(Date.parse(record?.enqueuedTimeUtc ?? ''))).toBe(false);
    expect(record?.deviceGenerationId).toMatch(/^\d+$/);
  });

  it('gives an abandoned message back to the device, then completes it', async () => {
    const inbox = new Inbox(await connect('abandon-device', 'amqp'), (_message, times) =>
      times === 1 ? 'abandon' : 'complete',
    );
    await service.send('abandon-device', c2d('abandon-me', 'full'));
    const received = await inbox.waitForCount(2);
    expect(received.map((message) => message.messageId)).toEqual(['abandon-me', 'abandon-me']);
    expect(await feedback.waitFor('abandon-me')).toMatchObject({ statusCode: 'Success' });
  });

  it('expires a message past its expiry time: Expired feedback, never delivered', async () => {
    await service.send(
      'expiring-device',
      c2d('short-lived', 'full', (message) => {
        message.expiryTimeUtc = Date.now() + 1000;
      }),
    );
    expect(await feedback.waitFor('short-lived')).toMatchObject({
      deviceId: 'expiring-device',
      statusCode: 'Expired',
    });
    const inbox = new Inbox(await connect('expiring-device', 'amqp'));
    await service.send('expiring-device', c2d('long-lived', 'none'));
    const received = await inbox.waitForCount(1);
    expect(received.map((message) => message.messageId)).toEqual(['long-lived']);
  });

  it('refuses a 51st pending message with DeviceMaximumQueueDepthExceededError', async () => {
    for (let i = 0; i < 50; i++) await service.send('queue-device', c2d(`queued-${i}`, 'none'));
    await expect(service.send('queue-device', c2d('one-too-many', 'none'))).rejects.toMatchObject({
      name: 'DeviceMaximumQueueDepthExceededError',
    });
  });

  it('refuses an unknown device with DeviceNotFoundError', async () => {
    await expect(service.send('no-such-device', c2d('lost', 'none'))).rejects.toMatchObject({
      name: 'DeviceNotFoundError',
    });
  });

  it('refuses a message over 64 KB with MessageTooLargeError', async () => {
    const message = new Message('x'.repeat(64 * 1024 + 1));
    await expect(service.send('queue-device', message)).rejects.toMatchObject({
      name: 'MessageTooLargeError',
    });
  });

  it('opens and closes another service client on the Amqp transport cleanly', async () => {
    const other = serviceClient(emulator);
    await expect(other.open()).resolves.toBeDefined();
    await expect(other.close()).resolves.toBeDefined();
  });

  it('refuses a service client with a wrong key at once (UnauthorizedError from $cbs)', async () => {
    const wrongKey = Buffer.alloc(32, 7).toString('base64');
    const settings = emulator.info.serviceConnectionString.replace(
      /SharedAccessKey=[^;]+/,
      `SharedAccessKey=${wrongKey}`,
    );
    const bad = createIotHubClient(
      readIotHubSettings({
        IOTHUB_SERVICE_CONNECTION_STRING: settings,
        IOTHUB_EMULATOR_CA_CERT: emulator.info.caPath,
      }),
    );
    const started = Date.now();
    // azure-iothub wraps the $cbs refusal (its amqp-base raises UnauthorizedError for any status but 200).
    await expect(bad.send('amqp-device', c2d('never', 'none'))).rejects.toMatchObject({
      amqpError: { name: 'UnauthorizedError' },
    });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('refuses an AMQP device with a wrong key at once with UnauthorizedError', async () => {
    const wrongKey = Buffer.alloc(32, 9).toString('base64');
    const connectionString = emulator
      .deviceConnectionString('amqp-device', 'amqp')
      .replace(/SharedAccessKey=[^;]+/, `SharedAccessKey=${wrongKey}`);
    const device = DeviceClient.fromConnectionString(connectionString, DeviceAmqp);
    await device.setOptions({ ca: readFileSync(emulator.info.caPath, 'utf8') });
    const started = Date.now();
    await expect(device.open()).rejects.toMatchObject({ name: 'UnauthorizedError' });
    expect(Date.now() - started).toBeLessThan(5000);
    await device.close();
  });
});

describe("the hub's /messages/events address (az iot hub monitor-events, IoT Explorer)", () => {
  let emulator: RunningEmulator & { removeData: () => void };

  beforeAll(async () => {
    emulator = await startTestEmulator({ devices: ['reader-device'] });
  });

  afterAll(async () => {
    await emulator.stop();
    emulator.removeData();
  });

  it('redirects a reader to the Event Hub-compatible endpoint, where it reads the telemetry', async () => {
    const { info } = emulator;
    const key = policyKey(emulator, 'iothubowner');
    const token = SharedAccessSignature.create(
      info.hostName,
      'iothubowner',
      key,
      Math.floor(Date.now() / 1000) + 600,
    );
    const container = create_container();
    const connection = container.connect({
      host: 'localhost',
      port: info.iothubAmqpsPort,
      transport: 'tls',
      ca: readFileSync(info.caPath),
      servername: 'localhost',
      username: `iothubowner@sas.root.${info.hubName}`,
      password: token.toString(),
      reconnect: false,
    });
    try {
      const reader = connection.open_receiver({
        source: { address: '/messages/events/ConsumerGroups/$Default/Partitions/0' },
      });
      // On the link itself: rhea counts an error as unhandled when only the container listened, once.
      const [context] = (await once(reader, 'receiver_error')) as [EventContext];
      const error = context.receiver?.error as { condition?: string; info?: Record<string, unknown> };
      expect(error.condition).toBe('amqp:link:redirect');
      expect(error.info).toMatchObject({
        hostname: 'localhost',
        port: info.amqpPort,
        address: `amqp://localhost:${info.amqpPort}/${info.hubName}/ConsumerGroups/$Default/Partitions/0`,
      });
      // Follow it as a client would: the Event Hub-compatible endpoint, with the hub's policy keys.
      const target = error.info as { hostname: string; port: number };
      const eventHubKey = /SharedAccessKey=([^;]+)/.exec(info.eventHubConnectionString)?.[1] ?? '';
      const consumer = new EventHubConsumerClient(
        '$Default',
        `Endpoint=sb://${target.hostname}:${target.port}/;SharedAccessKeyName=service;SharedAccessKey=${eventHubKey};EntityPath=${info.eventHubName};UseDevelopmentEmulator=true`,
      );
      const marker = `redirected-${Date.now()}`;
      const seen = new Promise<ReceivedEventData>((resolve) => {
        consumer.subscribe(
          {
            processEvents: async (events) => {
              const match = events.find((event) => JSON.stringify(event.body).includes(marker));
              if (match) resolve(match);
              return Promise.resolve();
            },
            processError: async () => Promise.resolve(),
          },
          { startPosition: { enqueuedOn: new Date(Date.now() - 60_000) } },
        );
      });
      const device = await connectDevice(emulator, emulator.deviceConnectionString('reader-device'));
      await device.sendEvent(new Message(JSON.stringify({ marker })));
      const event = await seen;
      expect(event.systemProperties?.['iothub-connection-device-id']).toBe('reader-device');
      await device.close();
      await consumer.close();
    } finally {
      connection.close();
    }
  });

  it.each([
    ['IoT Hub endpoint', 'iothub'],
    ['Event Hub-compatible endpoint', 'eventhub'],
  ] as const)(
    'answers a $cbs put-token that has no reply_to on the paired link (%s)',
    async (_label, endpoint) => {
      const { info } = emulator;
      const container = create_container();
      const connection = container.connect(
        endpoint === 'iothub'
          ? {
              host: 'localhost',
              port: info.iothubAmqpsPort,
              transport: 'tls',
              ca: readFileSync(info.caPath),
              servername: 'localhost',
              reconnect: false,
            }
          : { host: 'localhost', port: info.amqpPort, reconnect: false },
      );
      try {
        const replies = connection.open_receiver({ source: { address: '$cbs' } });
        const requests = connection.open_sender({ target: { address: '$cbs' } });
        await once(container, 'sendable');
        const reply = once(replies, 'message');
        requests.send({
          message_id: 'put-1',
          application_properties: {
            operation: 'put-token',
            type: 'servicebus.windows.net:sastoken',
            name: info.hostName,
          },
          body: 'SharedAccessSignature sr=nothing&sig=wrong&se=1&skn=iothubowner',
        });
        const [context] = (await reply) as [EventContext];
        expect(context.message?.correlation_id).toBe('put-1');
        expect(context.message?.application_properties?.['status-code']).toBe(401);
      } finally {
        connection.close();
      }
    },
  );
});

describe('pending cloud-to-device messages across a restart', () => {
  it('delivers what was queued before the emulator restarted', async () => {
    const dir = makeTempDir();
    let emulator = await startTestEmulator({ dataDir: dir.path, devices: ['restart-device'] });
    try {
      let service = serviceClient(emulator);
      for (const id of ['before-1', 'before-2', 'before-3'])
        await service.send('restart-device', c2d(id, 'none'));
      await service.close();
      await emulator.stop();
      emulator = await startTestEmulator({ dataDir: dir.path, devices: ['restart-device'] });
      service = serviceClient(emulator);
      const device = await connectDevice(
        emulator,
        emulator.deviceConnectionString('restart-device', 'amqp'),
        {},
        'amqp',
      );
      const inbox = new Inbox(device);
      const received = await inbox.waitForCount(3);
      expect(received.map((message) => message.messageId)).toEqual(['before-1', 'before-2', 'before-3']);
      await device.close();
      await service.close();
    } finally {
      await emulator.stop();
      dir.remove();
    }
  });
});

describe("IoT Hub's $cbs", () => {
  let emulator: RunningEmulator & { removeData: () => void };

  beforeAll(async () => {
    emulator = await startTestEmulator({ devices: ['cbs-device'] });
  });

  afterAll(async () => {
    await emulator.stop();
    emulator.removeData();
  });

  it('answers an expired device token with 401 and says why', async () => {
    const { info } = emulator;
    const key = /SharedAccessKey=([^;]+)/.exec(emulator.deviceConnectionString('cbs-device'))?.[1] ?? '';
    const audience = `${info.hostName}/devices/cbs-device`;
    const expired = DeviceSas.create(info.hostName, 'cbs-device', key, Math.floor(Date.now() / 1000) - 60);
    const container = create_container();
    const connection = container.connect({
      host: 'localhost',
      port: info.iothubAmqpsPort,
      transport: 'tls',
      ca: readFileSync(info.caPath),
      servername: 'localhost',
      reconnect: false,
    });
    try {
      const replies = connection.open_receiver({ source: { address: '$cbs' } });
      const requests = connection.open_sender({ target: { address: '$cbs' } });
      await once(requests, 'sendable');
      const reply = once(replies, 'message');
      requests.send({
        message_id: 'expired-1',
        reply_to: replies.name,
        application_properties: {
          operation: 'put-token',
          type: 'servicebus.windows.net:sastoken',
          name: encodeURIComponent(audience),
        },
        body: expired.toString(),
      });
      const [context] = (await reply) as [EventContext];
      expect(context.message?.application_properties?.['status-code']).toBe(401);
      expect(String(context.message?.application_properties?.['status-description'])).toMatch(/expired/);
    } finally {
      connection.close();
    }
  });

  it('writes every OPEN and ATTACH field and fills both termini', async () => {
    const client = await RawAmqpClient.open({
      host: 'localhost',
      port: emulator.info.iothubAmqpsPort,
      transport: 'tls',
      ca: readFileSync(emulator.info.caPath),
      servername: 'localhost',
    });
    try {
      expect(client.openFieldCount()).toBe(10);
      const frame = await client.attachFrame('$cbs');
      expect(frame.fieldCount).toBe(14);
      expect(frame.source).toMatchObject({ address: '$cbs' });
      expect(frame.target).toMatchObject({ address: 'client-1' });
    } finally {
      await client.close();
    }
  });
});
