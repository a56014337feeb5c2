import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import type { Client } from 'azure-iothub';
import { message as amqpMessage } from 'rhea';
import WebSocket from 'ws';
import type { RunningEmulator } from 'iothub-emulator';
import { invokeMethod, registryClient, serviceClient, startTestEmulator } from '../helpers/emulator';
import {
  connectAmqpOverWebSocket,
  connectMqttOverWebSocket,
  deviceKey,
  deviceToken,
  echoMethods,
  putToken,
  sendAndSettle,
  waitForEvent,
  webSocketUrl,
} from '../helpers/websocket-clients';

/**
 * IoT Hub serves MQTT (subprotocol `mqtt`) and AMQP (`AMQPWSB10`) over WebSockets at `/$iothub/websocket` on its
 * HTTPS port. Here on a free port, with clients that let the port be chosen (the `mqtt` npm client, rhea over `ws`);
 * the SDK transports, which always dial 443, are in standard-ports.test.ts.
 */
describe('MQTT and AMQP over WebSockets on the HTTPS port', () => {
  let emulator: RunningEmulator & { removeData: () => void };
  let ca: string;
  let service: Client;
  const token = (deviceId: string, host = emulator.info.hostName) =>
    deviceToken(host, deviceId, deviceKey(emulator, deviceId));

  beforeAll(async () => {
    emulator = await startTestEmulator({ devices: ['ws-mqtt', 'ws-amqp', 'ws-names', 'ws-refused'] });
    ca = readFileSync(emulator.info.caPath, 'utf8');
    service = serviceClient(emulator);
  });

  afterAll(async () => {
    await emulator.stop();
    emulator.removeData();
  });

  it('carries direct methods over MQTT, driven by the service SDK, for every kind of JSON payload', async () => {
    const device = await connectMqttOverWebSocket(emulator, ca, 'ws-mqtt', token('ws-mqtt'));
    try {
      await echoMethods(device);
      for (const payload of [{ k1: 'v1' }, [1, 'two', { three: 3 }], 'text', 42, null]) {
        const result = await invokeMethod(service, 'ws-mqtt', {
          methodName: 'echo',
          payload,
          connectTimeoutInSeconds: 5,
        });
        expect(result).toEqual({ status: 200, payload });
      }
    } finally {
      await device.endAsync();
    }
  });

  it('takes telemetry over MQTT into the Event Hub-compatible endpoint, stamped with the device id', async () => {
    const device = await connectMqttOverWebSocket(emulator, ca, 'ws-mqtt', token('ws-mqtt'));
    try {
      await device.publishAsync(
        'devices/ws-mqtt/messages/events/%24.mid=ws-mqtt-telemetry-1&source=websocket',
        JSON.stringify({ temperature: 21.5 }),
        { qos: 1 },
      );
    } finally {
      await device.endAsync();
    }
    const event = await waitForEvent(emulator, 'ws-mqtt-telemetry-1');
    expect(event.body).toEqual({ temperature: 21.5 });
    expect(event.properties).toEqual(expect.objectContaining({ source: 'websocket' }));
    expect(event.systemProperties?.['iothub-connection-device-id']).toBe('ws-mqtt');
  });

  it('authenticates AMQP over WebSocket on $cbs and takes its telemetry', async () => {
    const connection = await connectAmqpOverWebSocket(webSocketUrl(emulator), ca);
    try {
      const audience = `${emulator.info.hostName}/devices/ws-amqp`;
      expect(await putToken(connection, audience, token('ws-amqp'))).toBe(200);
      // A data section, as the device SDKs send telemetry.
      const body: unknown = amqpMessage.data_section(Buffer.from(JSON.stringify({ humidity: 40 })));
      const outcome = await sendAndSettle(connection, '/devices/ws-amqp/messages/events', {
        message_id: 'ws-amqp-telemetry-1',
        body,
      });
      expect(outcome).toBe('accepted');
    } finally {
      connection.close();
    }
    const event = await waitForEvent(emulator, 'ws-amqp-telemetry-1');
    expect(event.body).toEqual({ humidity: 40 });
    expect(event.systemProperties?.['iothub-connection-device-id']).toBe('ws-amqp');
  });

  it('refuses a token that does not match on AMQP over WebSocket ($cbs answers 401) and sends nothing', async () => {
    const connection = await connectAmqpOverWebSocket(webSocketUrl(emulator), ca);
    try {
      const audience = `${emulator.info.hostName}/devices/ws-refused`;
      // Signed with another device's key.
      const forged = deviceToken(emulator.info.hostName, 'ws-refused', deviceKey(emulator, 'ws-amqp'));
      expect(await putToken(connection, audience, forged)).toBe(401);
      const outcome = await new Promise<string>((resolve) => {
        const sender = connection.open_sender({ target: { address: '/devices/ws-refused/messages/events' } });
        sender.once('sender_error', () => {
          resolve('refused');
        });
        sender.once('sendable', () => {
          resolve('sendable');
        });
      });
      expect(outcome).toBe('refused');
    } finally {
      connection.close();
    }
  });

  it('refuses a bad token on MQTT over WebSocket with CONNACK "not authorized"', async () => {
    const forged = deviceToken(emulator.info.hostName, 'ws-refused', deviceKey(emulator, 'ws-mqtt'));
    await expect(connectMqttOverWebSocket(emulator, ca, 'ws-refused', forged)).rejects.toMatchObject({
      code: 5,
    });
  });

  it.each([
    ['localhost', () => 'localhost'],
    ['localhost:<https port>', (port: number) => `localhost:${port}`],
    ['127.0.0.1:<https port>', (port: number) => `127.0.0.1:${port}`],
  ])('takes a device token whose sr names the hub %s', async (_label, name) => {
    const host = name(emulator.info.httpsPort);
    const device = await connectMqttOverWebSocket(emulator, ca, 'ws-names', token('ws-names', host));
    await device.endAsync();
    const connection = await connectAmqpOverWebSocket(webSocketUrl(emulator), ca);
    try {
      expect(await putToken(connection, `${host}/devices/ws-names`, token('ws-names', host))).toBe(200);
    } finally {
      connection.close();
    }
  });

  it('refuses a token that names the hub by a port it does not listen on, or another device by its local name', async () => {
    await expect(
      connectMqttOverWebSocket(emulator, ca, 'ws-names', token('ws-names', 'localhost:1')),
    ).rejects.toMatchObject({ code: 5 });
    // A device key signs for its own device only, whatever name the hub goes by.
    const otherDevice = deviceToken('localhost', 'ws-mqtt', deviceKey(emulator, 'ws-names'));
    await expect(connectMqttOverWebSocket(emulator, ca, 'ws-mqtt', otherDevice)).rejects.toMatchObject({
      code: 5,
    });
  });

  const upgradeAnswer = (path: string, protocols: string[]) =>
    new Promise<number>((resolve, reject) => {
      const socket = new WebSocket(webSocketUrl(emulator, path), protocols, { ca });
      socket.once('unexpected-response', (_request, response: IncomingMessage) => {
        resolve(response.statusCode ?? 0);
        socket.terminate();
      });
      socket.once('open', () => {
        socket.terminate();
        reject(new Error(`the upgrade to ${path} (${protocols.join(',')}) was accepted`));
      });
      socket.once('error', (error) => {
        reject(error);
      });
    });

  it.each([
    ['another subprotocol', '/$iothub/websocket', ['mqttv3.1'], 400],
    ['no subprotocol', '/$iothub/websocket', [], 400],
    ['another path', '/$iothub/other', ['mqtt'], 404],
    ['the REST root', '/', ['AMQPWSB10'], 404],
  ])(
    'answers an upgrade with %s (%s, subprotocols %j) with HTTP %d, before upgrading',
    async (_label, path, protocols, status) => {
      expect(await upgradeAnswer(path, protocols)).toBe(status);
    },
  );

  it.each([
    ['no Sec-WebSocket-Key', 'GET', {}],
    ['a POST', 'POST', { 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' }],
  ])('answers a malformed handshake (%s) with HTTP 400', async (_label, method, extra) => {
    const status = await new Promise<number>((resolve, reject) => {
      const call = request({
        host: '127.0.0.1',
        port: emulator.info.httpsPort,
        path: '/$iothub/websocket',
        method,
        ca,
        headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-protocol': 'mqtt', ...extra },
      });
      call.once('response', (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      call.once('upgrade', () => {
        reject(new Error('upgraded'));
      });
      call.once('error', reject);
      call.end();
    });
    expect(status).toBe(400);
  });

  it('keeps serving REST and WebSockets on the same port after refusing', async () => {
    await upgradeAnswer('/nowhere', ['mqtt']);
    const { responseBody } = await registryClient(emulator).get('ws-mqtt');
    expect(responseBody.deviceId).toBe('ws-mqtt');
    const device = await connectMqttOverWebSocket(emulator, ca, 'ws-mqtt', token('ws-mqtt'));
    await device.endAsync();
  });
});

/**
 * A WebSocket connection counts against the same limits as one on the MQTT port: connections waiting to
 * authenticate are bounded in number and in time, and the packet-size guard reads the bytes before the broker.
 */
describe('limits on connections over WebSockets', () => {
  let emulator: RunningEmulator & { removeData: () => void };
  let ca: string;

  beforeAll(async () => {
    emulator = await startTestEmulator({ maxPendingConnections: 1, handshakeTimeoutSeconds: 2 });
    ca = readFileSync(emulator.info.caPath, 'utf8');
  });

  afterAll(async () => {
    await emulator.stop();
    emulator.removeData();
  });

  const openIdle = async (protocol: string) => {
    const socket = new WebSocket(webSocketUrl(emulator), [protocol], { ca });
    const closed = new Promise<number>((resolve) => {
      socket.once('close', () => {
        resolve(Date.now());
      });
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => {
        resolve();
      });
      socket.once('error', reject);
    });
    return { socket, closed };
  };

  it.each([
    ['mqtt', 'device'],
    ['AMQPWSB10', 'AMQP'],
  ])(
    'closes a %s connection over the pending limit at once, and an idle one when its time is up',
    async (protocol, what) => {
      const idle = await openIdle(protocol);
      const extra = await openIdle(protocol);
      const extraClosedAt = await extra.closed;
      const idleClosedAt = await idle.closed;
      expect(extraClosedAt).toBeLessThan(idleClosedAt);
      await emulator.waitForLog(
        new RegExp(`closed a ${what} connection from .* did not authenticate within 2 s`),
        5000,
      );
    },
  );

  it('closes an MQTT connection whose first packet announces more than a CONNECT may be', async () => {
    const { socket, closed } = await openIdle('mqtt');
    // CONNECT with a remaining length of 1 MiB (variable-length encoding 0x80 0x80 0x40).
    socket.send(Buffer.from([0x10, 0x80, 0x80, 0x40]));
    await closed;
    await emulator.waitForLog(/it sent a packet of 1048576 bytes, over the limit/, 5000);
  });
});
