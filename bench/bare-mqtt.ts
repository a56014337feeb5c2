import type { AddressInfo } from 'node:net';
import { createServer } from 'node:tls';
import mqtt from 'mqtt';

/**
 * The baseline: a request/response between two MQTT clients through a bare aedes broker behind Node's TLS server
 * (the emulator's building blocks, none of its logic), QoS 0 like direct methods. Returns per-call times in ms.
 */
export async function bareMqttRoundTrips(
  tls: { cert: string; key: string; ca: string },
  calls: number,
  warmup: number,
): Promise<number[]> {
  const { Aedes } = await import('aedes');
  const broker = await Aedes.createBroker();
  const server = createServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' }, (socket) =>
    broker.handle(socket),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `mqtts://localhost:${(server.address() as AddressInfo).port}`;
  const options = { ca: tls.ca, protocolVersion: 4 as const, reconnectPeriod: 0 };
  const responder = await mqtt.connectAsync(url, { ...options, clientId: 'responder' });
  const requester = await mqtt.connectAsync(url, { ...options, clientId: 'requester' });
  await responder.subscribeAsync('req/#', { qos: 0 });
  await requester.subscribeAsync('res/#', { qos: 0 });
  responder.on('message', (topic, payload) => {
    responder.publish(`res/${topic.slice(4)}`, payload, { qos: 0 });
  });
  const pending = new Map<string, () => void>();
  requester.on('message', (topic) => pending.get(topic.slice(4))?.());

  const times: number[] = [];
  for (let i = 0; i < warmup + calls; i++) {
    const id = String(i);
    const started = performance.now();
    await new Promise<void>((resolve) => {
      pending.set(id, resolve);
      requester.publish(`req/${id}`, JSON.stringify({ payload: 3600 }), { qos: 0 });
    });
    pending.delete(id);
    if (i >= warmup) times.push(performance.now() - started);
  }
  await requester.endAsync();
  await responder.endAsync();
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  await new Promise<void>((resolve) => {
    broker.close(() => {
      resolve();
    });
  });
  return times;
}
