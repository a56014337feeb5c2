import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { readFileSync } from 'node:fs';
import { EventHubConsumerClient, earliestEventPosition, type ReceivedEventData } from '@azure/event-hubs';
import type { MqttClient } from 'mqtt';
import { invokeMethod, serviceClient } from '../helpers/emulator';
import { closed, rawConnect } from '../helpers/raw-clients';
import { CANARY, nestedArrays, nestedObjects, startHostileStack, type HostileStack } from './harness';

const PENDING_LIMIT = 8;

/**
 * The MQTT device endpoint as a hostile device (or a hostile network peer) uses it: raw bytes over TLS, and valid
 * MQTT through mqtt.js with what the SDKs would never send. Oversized or malformed packets close the connection
 * before they are buffered; idle connections are bounded; twin patches are stored as data, with IoT Hub's limits
 * answered on the twin response topic; nothing is retained.
 */
describe('hostile input: the MQTT device endpoint', () => {
  let stack: HostileStack;
  let ca: Buffer;

  beforeAll(async () => {
    stack = await startHostileStack(['mq-a', 'mq-b', 'mq-twin', 'dev1', 'dev10'], {
      maxPendingConnections: PENDING_LIMIT,
      handshakeTimeoutSeconds: 2,
    });
    ca = readFileSync(stack.emulator.info.caPath);
  });
  afterAll(async () => {
    await stack.stop();
  });

  const connectAs = (deviceId: string) => rawConnect(stack.emulator, deviceId, stack.deviceToken(deviceId));

  /** A TLS connection that sends `bytes` and resolves when the emulator closes it. */
  function sendRaw(bytes: Buffer): Promise<void> {
    return new Promise((resolve) => {
      const socket: TLSSocket = tlsConnect(
        { host: '127.0.0.1', port: stack.emulator.info.mqttPort, ca, servername: 'localhost' },
        () => {
          socket.write(bytes);
        },
      );
      socket.on('error', () => undefined);
      socket.on('close', () => {
        resolve();
      });
    });
  }

  describe('raw bytes before authentication', () => {
    it('closes a connection whose CONNECT announces 256 MB, before buffering it', async () => {
      // CONNECT, remaining length 268,435,455 (0xFF 0xFF 0xFF 0x7F), then 64 KB of the promised body.
      await sendRaw(
        Buffer.concat([Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f]), Buffer.alloc(64 * 1024, 0x41)]),
      );
      await stack.emulator.waitForLog(/sent a packet of 268435455 bytes, over the limit of 16384/);
      expect((await stack.emulator.stats()).residentBytes).toBeLessThan(512 * 1024 * 1024);
    });

    it.each([
      ['a remaining length of five bytes', Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x7f])],
      ['an HTTP request', Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n')],
      ['a PUBLISH before CONNECT', Buffer.from([0x30, 0x05, 0x00, 0x01, 0x61, 0x68, 0x69])],
      [
        'a CONNECT of protocol level 9',
        Buffer.from([0x10, 0x0c, 0, 4, 0x4d, 0x51, 0x54, 0x54, 9, 2, 0, 60, 0, 0]),
      ],
      ['16 KB of zero bytes', Buffer.alloc(16 * 1024)],
    ])('closes a connection that sends %s', async (_what, bytes) => {
      await sendRaw(bytes);
    });

    it('refuses connections beyond the pending limit and closes idle ones after the handshake timeout', async () => {
      const idle: Socket[] = [];
      const idleClosed: Promise<void>[] = [];
      for (let i = 0; i < PENDING_LIMIT; i++) {
        const socket = tcpConnect(stack.emulator.info.mqttPort, '127.0.0.1');
        socket.on('error', () => undefined);
        idleClosed.push(
          new Promise((resolve) =>
            socket.once('close', () => {
              resolve();
            }),
          ),
        );
        await new Promise<void>((resolve) =>
          socket.once('connect', () => {
            resolve();
          }),
        );
        idle.push(socket);
      }
      const extra = tcpConnect(stack.emulator.info.mqttPort, '127.0.0.1');
      extra.on('error', () => undefined);
      await new Promise<void>((resolve) =>
        extra.once('close', () => {
          resolve();
        }),
      );
      await stack.emulator.waitForLog(
        new RegExp(`refusing device connections: ${PENDING_LIMIT} are already waiting to authenticate`),
      );
      // TLS never started on the idle sockets: the emulator closes them itself.
      await Promise.all(idleClosed);
      expect((await stack.emulator.stats()).pendingDeviceConnections).toBe(0);
    });
  });

  describe('valid MQTT a device SDK would never send (mqtt.js)', () => {
    it('stores nothing a device publishes with RETAIN, and marks its telemetry mqtt-retain', async () => {
      const client = await connectAs('mq-a');
      await client.publishAsync('devices/mq-a/messages/events/%24.mid=retained-1', 'kept?', {
        qos: 1,
        retain: true,
      });
      for (let i = 0; i < 20; i++) {
        await client.publishAsync('devices/mq-a/messages/events/', Buffer.alloc(64 * 1024, i), {
          qos: 1,
          retain: true,
        });
      }
      await client.endAsync();
      expect((await stack.emulator.stats()).retainedMessages).toBe(0);
      const event = await findEvent((e) => e.messageId === 'retained-1');
      expect(event.properties).toEqual({ 'mqtt-retain': 'true' });
    });

    it.each([
      ['a 300 KB body', 'devices/mq-a/messages/events/', 300 * 1024],
      [
        'a 200 KB body with a 60 KB property',
        `devices/mq-a/messages/events/big=${'p'.repeat(60 * 1024)}`,
        200 * 1024,
      ],
      ['a 400 KB body (over the packet limit)', 'devices/mq-a/messages/events/', 400 * 1024],
    ])(
      'closes the connection of a device that sends %s (IoT Hub: 256 KB a message)',
      async (_what, topic, bytes) => {
        const client = await connectAs('mq-a');
        const wasClosed = closed(client);
        client.publish(topic, Buffer.alloc(bytes, 0x61), { qos: 1 });
        await wasClosed;
        client.end(true);
      },
    );

    it('accepts a 250 KB body with small properties', async () => {
      const client = await connectAs('mq-a');
      await client.publishAsync('devices/mq-a/messages/events/k=v', Buffer.alloc(250 * 1024, 0x62), {
        qos: 1,
      });
      await client.endAsync();
    });

    it.each([
      ['a status beyond 32 bits', '$iothub/methods/res/99999999999/?$rid=1'],
      ['no $rid', '$iothub/methods/res/200/?'],
      ["another device's telemetry topic", 'devices/mq-b/messages/events/'],
      ['a wildcard in the topic', 'devices/mq-a/messages/events/#'],
    ])('closes the connection of a device that publishes %s', async (_what, topic) => {
      const client = await connectAs('mq-a');
      const wasClosed = closed(client);
      client.publish(topic, '{}', { qos: 0 });
      await wasClosed;
      client.end(true);
    });

    it.each(['#', '$iothub/#', 'devices/mq-b/messages/devicebound/#', 'devices/+/messages/devicebound/#'])(
      'refuses a subscription to %s (SUBACK 0x80)',
      async (filter) => {
        const client = await connectAs('mq-a');
        // mqtt.js rejects a SUBACK whose only grant is the failure code, and carries the packet.
        await expect(client.subscribeAsync(filter, { qos: 0 })).rejects.toMatchObject({
          packet: { granted: [128] },
        });
        await client.endAsync();
      },
    );
  });

  describe('twin reported-property patches', () => {
    let twin: MqttClient;
    let rid = 0;
    beforeAll(async () => {
      twin = await connectAs('mq-twin');
      await twin.subscribeAsync('$iothub/twin/res/#', { qos: 0 });
    });
    afterAll(async () => {
      await twin.endAsync();
    });

    /** Sends a twin request and resolves with the status and body of its answer. */
    function twinRequest(topic: string, payload: string | Buffer): Promise<{ status: number; body: string }> {
      const id = String(++rid);
      return new Promise((resolve) => {
        const onMessage = (answerTopic: string, body: Buffer) => {
          const match = /^\$iothub\/twin\/res\/(\d+)\/\?\$rid=([^&]+)/.exec(answerTopic);
          if (match?.[2] !== id) return;
          twin.off('message', onMessage);
          resolve({ status: Number(match[1]), body: body.toString('utf8') });
        };
        twin.on('message', onMessage);
        twin.publish(`${topic}?$rid=${id}`, payload, { qos: 0 });
      });
    }
    const report = (patch: string) => twinRequest('$iothub/twin/PATCH/properties/reported/', patch);

    it('stores __proto__, constructor and prototype as plain properties, and pollutes nothing', async () => {
      const patch = '{"__proto__":{"payload":"polluted","isAdmin":true},"constructor":{"prototype":{"x":1}}}';
      expect((await report(patch)).status).toBe(204);
      const got = await twinRequest('$iothub/twin/GET/', ' ');
      expect(got.status).toBe(200);
      const reported = (JSON.parse(got.body) as { reported: Record<string, unknown> }).reported;
      expect(Object.getOwnPropertyNames(reported)).toEqual(
        expect.arrayContaining(['__proto__', 'constructor', '$version']),
      );
      expect(JSON.stringify(reported)).toContain('"__proto__":{"payload":"polluted","isAdmin":true}');
      // Another client's call without a payload still sends null: Object.prototype has no `payload`.
      const answer = await invokeMethod(serviceClient(stack.emulator), CANARY, { methodName: 'echo' });
      expect(answer).toEqual({ status: 200, payload: null });
    });

    it.each([
      ['arrays 100,000 levels deep', `{"a":${nestedArrays(100_000)}}`],
      // nestedObjects(n) is the section's own object plus n - 1 levels below it.
      ['objects 11 levels below the section', nestedObjects(12)],
      ['a name with $', '{"$version":5}'],
      ['a name with a dot', '{"a.b":1}'],
      ['a name with a space', '{"a b":1}'],
      ['a name with a control character', '{"a\\u0007b":1}'],
      ['an empty name', '{"":1}'],
      ['a string value of 5 KB', JSON.stringify({ s: 'v'.repeat(5 * 1024) })],
      ['invalid JSON', '{"a":'],
      ['an array', '[1,2,3]'],
    ])('answers 400 on the response topic to a patch with %s', async (_what, patch) => {
      expect((await report(patch)).status).toBe(400);
    });

    it('accepts objects 10 levels below the section (the example in the twin documentation)', async () => {
      expect((await report(nestedObjects(11))).status).toBe(204);
    });

    it('answers 413 when the reported properties would exceed 32 KB, and keeps the previous document', async () => {
      const before = await twinRequest('$iothub/twin/GET/', ' ');
      const patch = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, 'v'.repeat(4000)]));
      expect((await report(JSON.stringify(patch))).status).toBe(413);
      const after = await twinRequest('$iothub/twin/GET/', ' ');
      expect(after.body).toBe(before.body);
    });
  });

  describe('policy tokens with DeviceConnect, by path segments', () => {
    it.each([
      ['sr <host>/devices/dev1, as dev1', '/devices/dev1', 'dev1', true],
      ['sr <host>/devices/dev1, as dev10', '/devices/dev1', 'dev10', false],
      ['sr <host>/devices, as dev10', '/devices', 'dev10', true],
      ['sr <host>/devices/dev1/messages/events, as dev1', '/devices/dev1/messages/events', 'dev1', false],
    ])('%s: %s', async (_what, path, deviceId, allowed) => {
      const token = stack.policyToken('device', `${stack.emulator.info.hostName}${path}`);
      const attempt = rawConnect(stack.emulator, deviceId, token);
      if (allowed) await (await attempt).endAsync();
      else await expect(attempt).rejects.toMatchObject({ code: 5 });
    });
  });

  describe('after every group', () => {
    it('still serves a normal direct method, both processes are up, and no key or signature was logged', async () => {
      await stack.expectStillServing();
    });
  });

  /** The first event (from the start of every partition) that `matches`. */
  async function findEvent(matches: (event: ReceivedEventData) => boolean): Promise<ReceivedEventData> {
    const client = new EventHubConsumerClient('$Default', stack.emulator.info.eventHubConnectionString);
    try {
      return await new Promise<ReceivedEventData>((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error('No matching event within 20 s.'));
        }, 20_000);
        client.subscribe(
          {
            processEvents: (events) => {
              const found = events.find(matches);
              if (found) {
                clearTimeout(timer);
                resolve(found);
              }
              return Promise.resolve();
            },
            processError: () => Promise.resolve(),
          },
          { startPosition: earliestEventPosition, maxWaitTimeInSeconds: 1 },
        );
      });
    } finally {
      await client.close();
    }
  }
});
