/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- azure-iothub and azure-iot-device each
   declare their own copy of azure-iot-common's Message class; at run time they accept any Message (azure-iothub
   checks the constructor's name), so one Message serves both sides here. */
import { EventEmitter, once } from 'node:events';
import { Readable } from 'node:stream';
import { earliestEventPosition, EventHubConsumerClient, type ReceivedEventData } from '@azure/event-hubs';
import { Message, NoRetry } from 'azure-iot-common';
import type { Client as DeviceClient } from 'azure-iot-device';
import type { Client } from 'azure-iothub';
import { createSasToken, type RunningEmulator } from 'iothub-emulator';
import { deviceCall, errorCodeOf, httpDevice } from '../helpers/device-https';
import {
  connectDevice,
  hubErrorCode,
  invokeMethod,
  policyKey,
  registryClient,
  serviceClient,
  startTestEmulator,
} from '../helpers/emulator';
import { deviceKey, inAnHour } from '../helpers/raw-clients';

/**
 * A device on azure-iot-device's `Http` transport (unmodified; pointed at the emulator through its `http.agent`
 * and `ca` options) against the emulator's device HTTPS API: telemetry into the same event log as MQTT,
 * cloud-to-device polling with complete / abandon / reject and the service's feedback, file upload without a
 * storage account, and what the transport itself does not support.
 */

interface FeedbackRecord {
  originalMessageId: string;
  deviceId: string;
  statusCode: string;
  description: string;
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
      if (Date.now() > deadline) throw new Error(`no feedback for ${originalMessageId}`);
      await Promise.race([once(this, 'added'), new Promise((resolve) => setTimeout(resolve, 500))]);
    }
  }
}

function bodyText(message: Message): string {
  const data: unknown = message.getData();
  return Buffer.isBuffer(data) ? data.toString('utf8') : String(data);
}

/** Telemetry with every property the device SDK can set, the same whatever the transport. */
function telemetry(tag: string): Message {
  const message = new Message(JSON.stringify({ tag, temperature: 21.5 }));
  message.messageId = `${tag}-id`;
  message.correlationId = `${tag}-corr`;
  message.userId = 'sensor-app';
  message.contentType = 'application/json';
  message.contentEncoding = 'utf-8';
  message.properties.add('temperatureAlert', 'true');
  message.properties.add('note', 'hello & welcome');
  return message;
}

/** Reads every partition from the start until `done` says the events seen are enough. */
async function readEvents(
  emulator: RunningEmulator,
  done: (events: readonly ReceivedEventData[]) => boolean,
  timeoutMs = 20_000,
): Promise<ReceivedEventData[]> {
  const consumer = new EventHubConsumerClient('$Default', emulator.info.eventHubConnectionString);
  const events: ReceivedEventData[] = [];
  const subscriptions: { close: () => Promise<void> }[] = [];
  try {
    const partitionIds = await consumer.getPartitionIds();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`only ${events.length} events arrived`));
      }, timeoutMs);
      for (const partitionId of partitionIds) {
        subscriptions.push(
          consumer.subscribe(
            partitionId,
            {
              processEvents: (batch) => {
                events.push(...batch);
                if (done(events)) {
                  clearTimeout(timer);
                  resolve();
                }
                return Promise.resolve();
              },
              processError: () => Promise.resolve(),
            },
            { startPosition: earliestEventPosition, maxWaitTimeInSeconds: 1, maxBatchSize: 100 },
          ),
        );
      }
    });
  } finally {
    await Promise.all(subscriptions.map((subscription) => subscription.close()));
    await consumer.close();
  }
  return events;
}

const API = 'api-version=2021-04-12';

describe('the device HTTPS API (azure-iot-device on the Http transport)', () => {
  let emulator: RunningEmulator & { removeData: () => void };
  let service: Client;
  const feedback = new FeedbackLog();
  const clients: DeviceClient[] = [];

  const open = async (deviceId: string, connectionString = emulator.deviceConnectionString(deviceId)) => {
    const client = await httpDevice(emulator, connectionString);
    client.setRetryPolicy(new NoRetry());
    clients.push(client);
    return client;
  };
  const token = (deviceId: string) =>
    createSasToken(
      `${emulator.info.hostName}/devices/${deviceId}`,
      deviceKey(emulator, deviceId),
      inAnHour(),
    );

  beforeAll(async () => {
    emulator = await startTestEmulator({
      devices: [
        'http-dev',
        'mqtt-dev',
        'batch-dev',
        'c2d-complete',
        'c2d-abandon',
        'c2d-reject',
        'c2d-raw',
        'c2d-lock',
        'c2d-expiry',
        'policy-dev',
        'upload-dev',
        'rate-http',
        'rate-mqtt',
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
    await Promise.all(clients.map((client) => client.close()));
    await service.close();
    await emulator.stop();
    emulator.removeData();
  });

  describe('telemetry', () => {
    it('reaches the Event Hub-compatible endpoint as the same message sent over MQTT does', async () => {
      const http = await open('http-dev');
      await http.sendEvent(telemetry('same'));
      const mqtt = await connectDevice(emulator, emulator.deviceConnectionString('mqtt-dev'));
      clients.push(mqtt);
      await mqtt.sendEvent(telemetry('same'));

      const events = await readEvents(emulator, (seen) => seen.length >= 2);
      const byDevice = (deviceId: string) => {
        const event = events.find((e) => e.systemProperties?.['iothub-connection-device-id'] === deviceId);
        if (!event) throw new Error(`no event from ${deviceId}`);
        return event;
      };
      const overHttp = byDevice('http-dev');
      const overMqtt = byDevice('mqtt-dev');
      // What the device sent: body, application properties, message properties.
      expect(overHttp.body).toEqual({ tag: 'same', temperature: 21.5 });
      expect(overHttp.properties).toEqual({ temperatureAlert: 'true', note: 'hello & welcome' });
      expect(overHttp.messageId).toBe('same-id');
      expect(overHttp.correlationId).toBe('same-corr');
      expect(overHttp.contentType).toBe('application/json');
      expect(overHttp.body).toEqual(overMqtt.body);
      expect(overHttp.properties).toEqual(overMqtt.properties);
      expect([overHttp.messageId, overHttp.correlationId, overHttp.contentType]).toEqual([
        overMqtt.messageId,
        overMqtt.correlationId,
        overMqtt.contentType,
      ]);
      // What the hub adds: the same annotations, apart from those naming the device, the time and the position.
      const perMessage = new Set([
        'iothub-connection-device-id',
        'iothub-connection-auth-generation-id',
        'iothub-enqueuedtime',
        'x-opt-sequence-number',
        'x-opt-offset',
        'x-opt-enqueued-time',
      ]);
      const shared = (event: ReceivedEventData) =>
        Object.fromEntries(
          Object.entries(event.systemProperties ?? {}).filter(([key]) => !perMessage.has(key)),
        );
      expect(shared(overHttp)).toEqual(shared(overMqtt));
      expect(overHttp.systemProperties?.['iothub-message-source']).toBe('Telemetry');
      expect(overHttp.systemProperties?.contentEncoding).toBe('utf-8');
      // The user id is kept (compared with MQTT's above, where it is the same value).
      expect(overHttp.systemProperties?.userId).toBeDefined();
    });

    it('sends a batch (sendEventBatch) as separate events, in order, each with its properties', async () => {
      const client = await open('batch-dev');
      const messages = [0, 1, 2].map((n) => {
        const message = new Message(`reading ${n}`);
        message.properties.add('n', String(n));
        return message;
      });
      await client.sendEventBatch(messages);
      const events = (
        await readEvents(
          emulator,
          (seen) =>
            seen.filter((e) => e.systemProperties?.['iothub-connection-device-id'] === 'batch-dev').length >=
            3,
        )
      ).filter((e) => e.systemProperties?.['iothub-connection-device-id'] === 'batch-dev');
      expect(events.map((e) => Buffer.from(e.body as Uint8Array).toString('utf8'))).toEqual([
        'reading 0',
        'reading 1',
        'reading 2',
      ]);
      expect(events.map((e) => e.properties)).toEqual([{ n: '0' }, { n: '1' }, { n: '2' }]);
    });

    it('refuses a message over 256 KB with MessageTooLargeError (413), as the SDK maps it', async () => {
      const client = await open('http-dev');
      await expect(client.sendEvent(new Message(Buffer.alloc(256 * 1024 + 1, 0x61)))).rejects.toMatchObject({
        name: 'MessageTooLargeError',
      });
    });

    it('accepts a DeviceConnect policy key in the device connection string, as MQTT CONNECT does', async () => {
      const connectionString =
        `HostName=${emulator.info.hostName};DeviceId=policy-dev;` +
        `SharedAccessKeyName=device;SharedAccessKey=${policyKey(emulator, 'device')}`;
      const client = await open('policy-dev', connectionString);
      await expect(client.sendEvent(new Message('via the device policy'))).resolves.toBeDefined();
    });

    it('does not make the device connected: the registry says Disconnected and a method finds it offline', async () => {
      const client = await open('http-dev');
      await client.sendEvent(new Message('still not connected'));
      const { responseBody } = await registryClient(emulator).get('http-dev');
      expect(responseBody.connectionState).toBe('Disconnected');
      const failure = await invokeMethod(service, 'http-dev', {
        methodName: 'any',
        responseTimeoutInSeconds: 5,
      }).catch((error: unknown) => error);
      expect(hubErrorCode(failure)).toBe(404103);
    });
  });

  describe('cloud-to-device polling', () => {
    const sendC2d = async (
      deviceId: string,
      messageId: string,
      extra: (message: Message) => void = () => undefined,
    ) => {
      const message = new Message(`for ${deviceId}`);
      message.messageId = messageId;
      message.ack = 'full';
      extra(message);
      await service.send(deviceId, message);
    };
    const nextMessage = (client: DeviceClient) =>
      new Promise<Message>((resolve) => {
        client.once('message', resolve);
      });

    it('delivers a message with its properties; complete gives Success feedback', async () => {
      const client = await open('c2d-complete');
      const received = nextMessage(client);
      await sendC2d('c2d-complete', 'complete-1', (message) => {
        message.correlationId = 'corr-1';
        message.properties.add('color', 'blue');
      });
      const message = await received;
      expect(bodyText(message)).toBe('for c2d-complete');
      expect(message.messageId).toBe('complete-1');
      expect(message.correlationId).toBe('corr-1');
      expect(message.properties.getValue('iothub-app-color')).toBe('blue');
      expect(message.lockToken).toMatch(/^[0-9a-f-]{36}$/);
      await client.complete(message);
      expect(await feedback.waitFor('complete-1')).toMatchObject({
        deviceId: 'c2d-complete',
        statusCode: 'Success',
      });
    });

    it('redelivers an abandoned message, then completes it', async () => {
      const client = await open('c2d-abandon');
      const received: Message[] = [];
      const twice = new Promise<void>((resolve) => {
        client.on('message', (message: Message) => {
          received.push(message);
          if (received.length === 1) void client.abandon(message);
          else resolve();
        });
      });
      await sendC2d('c2d-abandon', 'abandon-1');
      await twice;
      expect(received.map((message) => message.messageId)).toEqual(['abandon-1', 'abandon-1']);
      expect(received[1]?.lockToken).not.toBe(received[0]?.lockToken);
      await client.complete(received[1] as Message);
      expect((await feedback.waitFor('abandon-1')).statusCode).toBe('Success');
    });

    it('gives Rejected feedback to the service for a rejected message', async () => {
      const client = await open('c2d-reject');
      const received = nextMessage(client);
      await sendC2d('c2d-reject', 'reject-1');
      await client.reject(await received);
      expect(await feedback.waitFor('reject-1')).toMatchObject({
        deviceId: 'c2d-reject',
        statusCode: 'Rejected',
        description: 'Message rejected',
      });
    });

    it('answers the REST reference: 204 when empty, headers, delivery count, settling by ETag, 412 for a stale one', async () => {
      const auth = { authorization: token('c2d-raw') };
      const path = `/devices/c2d-raw/messages/deviceBound`;
      expect((await deviceCall(emulator, 'GET', `${path}?${API}`, auth)).status).toBe(204);
      await sendC2d('c2d-raw', 'raw-1', (message) => {
        message.correlationId = 'corr-raw';
        message.contentType = 'application/json';
        message.contentEncoding = 'utf-8';
        message.properties.add('k', 'v');
      });
      const first = await deviceCall(emulator, 'GET', `${path}?${API}`, auth);
      expect(first.status).toBe(200);
      expect(first.body.toString('utf8')).toBe('for c2d-raw');
      expect(first.headers).toMatchObject({
        'iothub-messageid': 'raw-1',
        'iothub-correlationid': 'corr-raw',
        'iothub-to': '/devices/c2d-raw/messages/devicebound',
        'iothub-ack': 'full',
        'iothub-deliverycount': '0',
        'iothub-app-k': 'v',
        contenttype: 'application/json',
        contentencoding: 'utf-8',
      });
      expect(first.headers.etag).toMatch(/^"[0-9a-f-]{36}"$/);
      expect(Number(first.headers['iothub-sequencenumber'])).toBeGreaterThan(0);
      const enqueued = Date.parse(String(first.headers['iothub-enqueuedtime']));
      expect(Date.parse(String(first.headers['iothub-expiry'])) - enqueued).toBe(3_600_000);
      const firstTag = String(first.headers.etag).slice(1, -1);

      const abandoned = await deviceCall(emulator, 'POST', `${path}/${firstTag}/abandon?${API}`, auth);
      expect(abandoned.status).toBe(204);
      const second = await deviceCall(emulator, 'GET', `${path}?${API}`, auth);
      expect(second.headers['iothub-messageid']).toBe('raw-1');
      expect(second.headers['iothub-deliverycount']).toBe('1');
      const secondTag = String(second.headers.etag).slice(1, -1);
      expect(secondTag).not.toBe(firstTag);

      const stale = await deviceCall(emulator, 'DELETE', `${path}/${firstTag}?${API}`, auth);
      expect(stale.status).toBe(412);
      expect(stale.headers['iothub-errorcode']).toBe('DeviceMessageLockLost');
      expect(errorCodeOf(stale)).toBe('DeviceMessageLockLost');
      expect((await deviceCall(emulator, 'DELETE', `${path}/${secondTag}?${API}`, auth)).status).toBe(204);
      expect((await deviceCall(emulator, 'GET', `${path}?${API}`, auth)).status).toBe(204);
      expect((await feedback.waitFor('raw-1')).statusCode).toBe('Success');
    });

    it('returns a message whose lock timed out (IotHub-MessageLockTimeout) to the queue', async () => {
      const auth = { authorization: token('c2d-lock') };
      const path = `/devices/c2d-lock/messages/deviceBound`;
      await sendC2d('c2d-lock', 'lock-1');
      const locked = await deviceCall(emulator, 'GET', `${path}?${API}`, {
        ...auth,
        headers: { 'IotHub-MessageLockTimeout': '1' },
      });
      expect(locked.status).toBe(200);
      // Locked: nothing else to receive until the lock ends; then the same message comes back.
      expect((await deviceCall(emulator, 'GET', `${path}?${API}`, auth)).status).toBe(204);
      const deadline = Date.now() + 10_000;
      let again = await deviceCall(emulator, 'GET', `${path}?${API}`, auth);
      while (again.status === 204 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        again = await deviceCall(emulator, 'GET', `${path}?${API}`, auth);
      }
      expect(again.headers['iothub-messageid']).toBe('lock-1');
      expect(again.headers['iothub-deliverycount']).toBe('1');
      const lost = await deviceCall(
        emulator,
        'DELETE',
        `${path}/${String(locked.headers.etag).slice(1, -1)}?${API}`,
        auth,
      );
      expect(lost.status).toBe(412);
      expect(
        (
          await deviceCall(
            emulator,
            'DELETE',
            `${path}/${String(again.headers.etag).slice(1, -1)}?reject&${API}`,
            auth,
          )
        ).status,
      ).toBe(204);
      expect((await feedback.waitFor('lock-1')).statusCode).toBe('Rejected');
    });

    it('expires a message nobody polled for, with Expired feedback', async () => {
      await sendC2d('c2d-expiry', 'expiry-1', (message) => {
        message.expiryTimeUtc = Date.now() + 1000;
      });
      expect(await feedback.waitFor('expiry-1')).toMatchObject({ statusCode: 'Expired' });
      const poll = await deviceCall(emulator, 'GET', `/devices/c2d-expiry/messages/deviceBound?${API}`, {
        authorization: token('c2d-expiry'),
      });
      expect(poll.status).toBe(204);
    });
  });

  describe('what the hub does not offer this device', () => {
    it('fails getBlobSharedAccessSignature and uploadToBlob with the hub error for a hub without storage', async () => {
      const client = await open('upload-dev');
      const sas = (await client.getBlobSharedAccessSignature('log.txt').catch((error: unknown) => error)) as {
        responseBody?: string;
        response?: { statusCode?: number };
      };
      expect(sas.response?.statusCode).toBe(400);
      expect(JSON.parse(sas.responseBody ?? '{}')).toMatchObject({
        Message: expect.stringMatching(/^ErrorCode:DefaultStorageEndpointNotConfigured;/) as unknown,
      });
      const upload = (await client
        .uploadToBlob('log.txt', Readable.from([Buffer.from('abc')]), 3)
        .catch((error: unknown) => error)) as Error;
      expect(upload.name).toBe('BlobSasError');
      // The SDK keeps only the status text of this answer.
      await expect(client.notifyBlobUploadStatus('no-such-upload', true, 200, 'done')).rejects.toThrow(
        'Bad Request',
      );
    });

    it('keeps the transport limits the SDK documents: no direct methods, no twin', async () => {
      const client = await open('http-dev');
      expect(() => {
        client.onDeviceMethod('reboot', () => undefined);
      }).toThrow('Direct methods are not implemented over HTTP.');
      await expect(client.getTwin()).rejects.toThrow('Twin is not implemented over HTTP.');
    });
  });

  it('measures: telemetry from one device, one message at a time, over HTTP and over MQTT', async () => {
    const count = 200;
    const http = await open('rate-http');
    const mqtt = await connectDevice(emulator, emulator.deviceConnectionString('rate-mqtt'));
    clients.push(mqtt);
    const rate = async (client: DeviceClient) => {
      const started = performance.now();
      for (let n = 0; n < count; n++) await client.sendEvent(new Message(JSON.stringify({ n })));
      return Math.round((count * 1000) / (performance.now() - started));
    };
    const httpRate = await rate(http);
    const mqttRate = await rate(mqtt);
    process.stderr.write(
      `[device-https] ${count} messages, one device: HTTP ${httpRate}/s, MQTT ${mqttRate}/s\n`,
    );
    const events = await readEvents(
      emulator,
      (seen) =>
        seen.filter((e) => String(e.systemProperties?.['iothub-connection-device-id']).startsWith('rate-'))
          .length >=
        2 * count,
    );
    expect(
      events.filter((e) => e.systemProperties?.['iothub-connection-device-id'] === 'rate-http'),
    ).toHaveLength(count);
  });
});
