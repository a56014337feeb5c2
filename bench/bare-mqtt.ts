import { fork } from 'node:child_process';
import { join } from 'node:path';
import mqtt from 'mqtt';

/**
 * The baseline: a request/response between two MQTT clients through a bare aedes broker behind Node's TLS server
 * (the emulator's building blocks, none of its logic), QoS 0 like direct methods. The broker runs in its own
 * process and both clients in this one, as with the emulator and the device. Returns per-call times in ms.
 */
export async function bareMqttRoundTrips(
  tls: { cert: string; key: string; ca: string },
  calls: number,
  warmup: number,
): Promise<number[]> {
  const broker = fork(join(__dirname, 'bare-broker.js'), [], {
    env: { ...process.env, BARE_BROKER_TLS_JSON: JSON.stringify({ cert: tls.cert, key: tls.key }) },
  });
  const port = await new Promise<number>((resolve) =>
    broker.once('message', (message: { port: number }) => {
      resolve(message.port);
    }),
  );
  const url = `mqtts://localhost:${port}`;
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
  const exited = new Promise((resolve) => broker.once('exit', resolve));
  broker.disconnect();
  await exited;
  return times;
}

/**
 * The same bare request/response with `inFlight` requests outstanding at once, for `durationMs`: the broker's
 * ceiling for request/response traffic on this machine. Returns calls per second.
 */
export async function bareMqttThroughput(
  tls: { cert: string; key: string; ca: string },
  inFlight: number,
  durationMs: number,
): Promise<number> {
  const broker = fork(join(__dirname, 'bare-broker.js'), [], {
    env: { ...process.env, BARE_BROKER_TLS_JSON: JSON.stringify({ cert: tls.cert, key: tls.key }) },
  });
  const port = await new Promise<number>((resolve) =>
    broker.once('message', (message: { port: number }) => {
      resolve(message.port);
    }),
  );
  const url = `mqtts://localhost:${port}`;
  const options = { ca: tls.ca, protocolVersion: 4 as const, reconnectPeriod: 0 };
  const responder = await mqtt.connectAsync(url, { ...options, clientId: 'responder' });
  const requester = await mqtt.connectAsync(url, { ...options, clientId: 'requester' });
  await responder.subscribeAsync('req/#', { qos: 0 });
  await requester.subscribeAsync('res/#', { qos: 0 });
  responder.on('message', (topic, payload) => {
    responder.publish(`res/${topic.slice(4)}`, payload, { qos: 0 });
  });
  let next = 0;
  let done = 0;
  const deadline = performance.now() + durationMs;
  const started = performance.now();
  await new Promise<void>((resolve) => {
    let outstanding = 0;
    const send = () => {
      outstanding++;
      requester.publish(`req/${next++}`, JSON.stringify({ payload: 3600 }), { qos: 0 });
    };
    requester.on('message', () => {
      done++;
      outstanding--;
      if (performance.now() < deadline) send();
      else if (outstanding === 0) resolve();
    });
    for (let i = 0; i < inFlight; i++) send();
  });
  const perSecond = done / ((performance.now() - started) / 1000);
  await requester.endAsync();
  await responder.endAsync();
  const exited = new Promise((resolve) => broker.once('exit', resolve));
  broker.disconnect();
  await exited;
  return perSecond;
}
