// X.509 devices over the WebSocket transports of the HTTPS port, on free ports: the client certificate is presented
// in the TLS handshake of the HTTPS connection that carries the WebSocket, and the MQTT CONNECT (no password) or the
// AMQP device link (no CBS token) is authenticated by it, as on the TLS ports. Raw clients (the `mqtt` package and
// rhea over `ws`): the SDK transports MqttWs and AmqpWs dial port 443 only, covered by standard-ports.test.ts.
import { readFileSync } from 'node:fs';
import type { Registry } from 'azure-iothub';
import type { DeviceCertificate, RunningEmulator } from 'iothub-emulator';
import mqtt, { type MqttClient } from 'mqtt';
import { create_container, type Connection, type EventContext } from 'rhea';
import WebSocket from 'ws';
import { invokeMethod, registryClient, serviceClient, startTestEmulator } from '../helpers/emulator';
import { sendAndSettle, waitForEvent, webSocketUrl } from '../helpers/websocket-clients';

const API = 'api-version=2021-04-12';

describe('X.509 devices over WebSockets (/$iothub/websocket on the HTTPS port)', () => {
  let emulator: RunningEmulator & { removeData: () => void };
  let registry: Registry;
  let ca: string;
  let device: DeviceCertificate;
  let stranger: DeviceCertificate;

  beforeAll(async () => {
    emulator = await startTestEmulator();
    registry = registryClient(emulator);
    ca = readFileSync(emulator.info.caPath, 'utf8');
    device = await emulator.issueDeviceCertificate({ deviceId: 'ws-x509', style: 'ca-signed' });
    // A certificate of another device from the same CA: genuine, but not this device's (CN).
    stranger = await emulator.issueDeviceCertificate({ deviceId: 'someone-else', style: 'ca-signed' });
    await registry.create({ deviceId: 'ws-x509', authentication: { type: 'certificateAuthority' } });
  }, 60_000);

  afterAll(async () => {
    await emulator.stop();
    emulator.removeData();
  });

  const mqttOverWebSocket = (pem: { cert: string; key: string }): Promise<MqttClient> =>
    mqtt.connectAsync(webSocketUrl(emulator), {
      protocolVersion: 4,
      clientId: 'ws-x509',
      username: `${emulator.info.hostName}/ws-x509/?${API}`,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      ca,
      cert: pem.cert,
      key: pem.key,
      wsOptions: { ca, cert: pem.cert, key: pem.key },
    });

  it('lets the device in over MQTT with its certificate and no password, and answers a direct method', async () => {
    const client = await mqttOverWebSocket(device);
    try {
      await client.subscribeAsync('$iothub/methods/POST/#', { qos: 0 });
      client.on('message', (topic, payload) => {
        const rid = /\?\$rid=(.+)$/.exec(topic)?.[1] ?? '';
        void client.publishAsync(`$iothub/methods/res/200/?$rid=${rid}`, payload);
      });
      const result = await invokeMethod(serviceClient(emulator), 'ws-x509', {
        methodName: 'echo',
        payload: { over: 'mqtt-ws', n: [1, 2] },
      });
      expect(result).toEqual({ status: 200, payload: { over: 'mqtt-ws', n: [1, 2] } });
    } finally {
      await client.endAsync();
    }
  });

  it("refuses another device's certificate over MQTT (CONNACK 5, not authorized)", async () => {
    await expect(mqttOverWebSocket(stranger)).rejects.toMatchObject({ code: 5 });
  });

  /** rhea over `ws` with the certificate in the WebSocket's TLS handshake; no SASL, no CBS, as the SDK's X.509. */
  async function amqpOverWebSocket(pem: { cert: string; key: string }): Promise<Connection> {
    const container = create_container();
    const ws = container.websocket_connect(WebSocket);
    const connection = container.connect({
      connection_details: ws(webSocketUrl(emulator), ['AMQPWSB10'], { ca, cert: pem.cert, key: pem.key }),
      reconnect: false,
      hostname: emulator.info.hostName,
    } as unknown as Parameters<typeof container.connect>[0]);
    await new Promise<void>((resolve, reject) => {
      connection.once('connection_open', () => {
        resolve();
      });
      connection.once('disconnected', (context: EventContext) => {
        reject(context.error ?? new Error('disconnected'));
      });
    });
    return connection;
  }

  it('takes telemetry over AMQP from the device with its certificate and no token', async () => {
    const connection = await amqpOverWebSocket(device);
    try {
      const messageId = `amqp-ws-x509-${Date.now()}`;
      const outcome = await sendAndSettle(connection, '/devices/ws-x509/messages/events', {
        message_id: messageId,
        body: JSON.stringify({ over: 'amqp-ws' }),
      });
      expect(outcome).toBe('accepted');
      const event = await waitForEvent(emulator, messageId);
      expect(event.systemProperties?.['iothub-connection-device-id']).toBe('ws-x509');
    } finally {
      connection.close();
    }
  });

  it("refuses the device link of another device's certificate over AMQP", async () => {
    const connection = await amqpOverWebSocket(stranger);
    try {
      const sender = connection.open_sender({ target: { address: '/devices/ws-x509/messages/events' } });
      const context = await new Promise<EventContext>((resolve) => {
        sender.once('sender_close', (closed: EventContext) => {
          resolve(closed);
        });
        connection.once('connection_close', (closed: EventContext) => {
          resolve(closed);
        });
      });
      const error = (context.sender?.error ?? context.connection.error) as { condition?: string } | undefined;
      expect(error?.condition).toBe('amqp:unauthorized-access');
    } finally {
      connection.close();
    }
  });
});
