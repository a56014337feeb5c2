import { once } from 'node:events';
import { EventHubConsumerClient, earliestEventPosition, type ReceivedEventData } from '@azure/event-hubs';
import { SharedAccessSignature as DeviceSas } from 'azure-iot-device';
import mqtt, { type MqttClient } from 'mqtt';
import { create_container, type Connection, type EventContext, type Message } from 'rhea';
import WebSocket from 'ws';
import type { RunningEmulator } from 'iothub-emulator';

/** IoT Hub's WebSocket endpoint on the emulator's HTTPS port. */
export function webSocketUrl(emulator: RunningEmulator, path = '/$iothub/websocket'): string {
  return `wss://127.0.0.1:${emulator.info.httpsPort}${path}`;
}

/** A device token as the device SDK makes it, for `sr` = `<host>/devices/<id>`, valid for an hour. */
export function deviceToken(host: string, deviceId: string, key: string): string {
  return DeviceSas.create(host, deviceId, key, Math.floor(Date.now() / 1000) + 3600).toString();
}

/** The device's primary key, read from its connection string as a user would. */
export function deviceKey(emulator: RunningEmulator, deviceId: string): string {
  const key = /SharedAccessKey=([^;]+)/.exec(emulator.deviceConnectionString(deviceId))?.[1];
  if (key === undefined) throw new Error(`no key for ${deviceId}`);
  return key;
}

/**
 * The `mqtt` npm client over `wss://.../$iothub/websocket` (it asks for subprotocol `mqtt`), connecting as IoT Hub
 * documents it for any MQTT client: client id = device id, user name `<host>/<deviceId>/?api-version=...`, the
 * SAS token as password. Rejects with the broker's refusal.
 */
export function connectMqttOverWebSocket(
  emulator: RunningEmulator,
  ca: string,
  deviceId: string,
  password: string,
  url = webSocketUrl(emulator),
): Promise<MqttClient> {
  return mqtt.connectAsync(url, {
    protocolVersion: 4,
    clientId: deviceId,
    username: `${emulator.info.hostName}/${deviceId}/?api-version=2021-04-12`,
    password,
    clean: false,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
    ca,
  });
}

/** A rhea connection to IoT Hub's AMQP endpoint over WebSocket (subprotocol AMQPWSB10), SASL ANONYMOUS. */
export async function connectAmqpOverWebSocket(url: string, ca: string): Promise<Connection> {
  const container = create_container();
  const ws = container.websocket_connect(WebSocket);
  const connection = container.connect({
    connection_details: ws(url, ['AMQPWSB10'], { ca }),
    reconnect: false,
    hostname: 'localhost',
  } as unknown as Parameters<typeof container.connect>[0]);
  await new Promise<void>((resolve, reject) => {
    connection.once('connection_open', () => {
      resolve();
    });
    connection.once('disconnected', (context: EventContext) => {
      reject(context.error ?? new Error('disconnected before OPEN'));
    });
  });
  return connection;
}

/** Puts a token on `$cbs` and resolves with the reply's status code. */
export async function putToken(connection: Connection, audience: string, token: string): Promise<number> {
  const replies = connection.open_receiver({ source: { address: '$cbs' } });
  const requests = connection.open_sender({ target: { address: '$cbs' } });
  await once(requests, 'sendable');
  const reply = once(replies, 'message') as Promise<[EventContext]>;
  requests.send({
    message_id: 'put-token-1',
    reply_to: replies.name,
    application_properties: {
      operation: 'put-token',
      type: 'servicebus.windows.net:sastoken',
      name: audience,
    },
    body: token,
  });
  const [context] = await reply;
  requests.close();
  replies.close();
  return Number(context.message?.application_properties?.['status-code']);
}

/** Sends one message on a sender link to `address`; resolves with the settlement the hub gave it. */
export async function sendAndSettle(
  connection: Connection,
  address: string,
  message: Message,
): Promise<string> {
  const sender = connection.open_sender({ target: { address } });
  await once(sender, 'sendable');
  const delivery = sender.send(message);
  return new Promise((resolve) => {
    for (const outcome of ['accepted', 'rejected', 'released', 'modified'] as const) {
      sender.on(outcome, (context: EventContext) => {
        if (context.delivery === delivery) resolve(outcome);
      });
    }
  });
}

/** Waits until an event with this message id arrives on any partition of the Event Hub-compatible endpoint. */
export async function waitForEvent(
  emulator: RunningEmulator,
  messageId: string,
  timeoutMs = 20_000,
): Promise<ReceivedEventData> {
  const client = new EventHubConsumerClient('$Default', emulator.info.eventHubConnectionString);
  let subscription: { close: () => Promise<void> } | undefined;
  try {
    return await new Promise<ReceivedEventData>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`no event with message id ${messageId} within ${timeoutMs} ms`));
      }, timeoutMs);
      subscription = client.subscribe(
        {
          processEvents: (events) => {
            const found = events.find((event) => event.messageId === messageId);
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
    await subscription?.close();
    await client.close();
  }
}

/**
 * Answers every direct method on an MQTT connection as IoT Hub's MQTT contract says a device does: requests on
 * `$iothub/methods/POST/<name>/?$rid=<rid>`, answers on `$iothub/methods/res/<status>/?$rid=<rid>` (here: the
 * request's payload, status 200). Resolves once subscribed.
 */
export async function echoMethods(client: MqttClient): Promise<void> {
  client.on('message', (topic, payload) => {
    const match = /^\$iothub\/methods\/POST\/[^/]+\/\?\$rid=(.+)$/.exec(topic);
    if (match) client.publish(`$iothub/methods/res/200/?$rid=${match[1] ?? ''}`, payload);
  });
  await client.subscribeAsync('$iothub/methods/POST/#', { qos: 0 });
}
