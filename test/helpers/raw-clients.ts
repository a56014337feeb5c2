import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import mqtt, { type MqttClient } from 'mqtt';
import { createSasToken, type RunningEmulator } from 'iothub-emulator';
import { policyKey } from './emulator';

/** Clients that send what the SDKs never would, to test the emulator's refusals. */

export const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;

export function deviceKey(emulator: RunningEmulator, deviceId: string): string {
  return /SharedAccessKey=([^;]+)/.exec(emulator.deviceConnectionString(deviceId))?.[1] ?? '';
}

export function deviceToken(
  emulator: RunningEmulator,
  deviceId: string,
  key = deviceKey(emulator, deviceId),
  expiry = inAnHour(),
): string {
  return createSasToken(`${emulator.info.hostName}/devices/${deviceId}`, key, expiry);
}

/** A raw MQTT 3.1.1 client (mqtt.js) connecting as a device. */
export function rawConnect(
  emulator: RunningEmulator,
  clientId: string,
  password: string,
  username?: string,
): Promise<MqttClient> {
  return mqtt.connectAsync(`mqtts://localhost:${emulator.info.mqttPort}`, {
    ca: readFileSync(emulator.info.caPath),
    clientId,
    username: username ?? `${emulator.info.hostName}/${clientId}/?api-version=2021-04-12`,
    password,
    protocolVersion: 4,
    clean: false,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
  });
}

export function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => {
    if (!client.connected) resolve();
    client.once('close', () => {
      resolve();
    });
  });
}

/** A plain HTTPS call to the service API. Signs with `policy` unless an explicit authorization is given. */
export function serviceCall(
  emulator: RunningEmulator,
  method: string,
  path: string,
  options: {
    authorization?: string | null;
    policy?: string;
    body?: unknown;
    headers?: Record<string, string>;
  } = {},
): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  const policy = options.policy ?? 'iothubowner';
  const authorization =
    options.authorization === undefined
      ? createSasToken(emulator.info.hostName, policyKey(emulator, policy), inAnHour(), policy)
      : options.authorization;
  return new Promise((resolve, reject) => {
    const text = options.body === undefined ? '' : JSON.stringify(options.body);
    const req = request(
      {
        host: 'localhost',
        port: emulator.info.httpsPort,
        method,
        path,
        ca: readFileSync(emulator.info.caPath),
        headers: {
          'content-type': 'application/json',
          ...(authorization ? { authorization } : {}),
          ...options.headers,
        },
      },
      (res) => {
        let data = '';
        res.on('data', (chunk: Buffer) => (data += chunk.toString()));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body: data, headers: res.headers });
        });
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}
