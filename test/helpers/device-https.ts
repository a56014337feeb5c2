import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { Client as DeviceClient } from 'azure-iot-device';
import { Http } from 'azure-iot-device-http';
import type { RunningEmulator } from 'iothub-emulator';

/**
 * The device HTTPS API as tests reach it. azure-iot-device-http sends every request to `https://<HostName>:443`
 * (it ignores GatewayHostName and takes no port), so an unmodified SDK reaches the emulator through the options
 * it takes: `http.agent` (an agent that connects to the emulator's HTTPS port whatever the hub's host name
 * resolves to) and `ca` (the emulator's CA). Tokens keep the hub's host name, as against Azure.
 */
export function emulatorAgent(emulator: RunningEmulator): Agent {
  const agent = new Agent({
    keepAlive: true,
    ca: readFileSync(emulator.info.caPath),
    // `<hub>.azure-devices.net` does not resolve offline: connect to the emulator instead.
    lookup: (_hostname, options, callback) => {
      if ((options as { all?: boolean }).all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
      else (callback as (error: null, address: string, family: number) => void)(null, '127.0.0.1', 4);
    },
  });
  // Requests carry no port, so they go to the agent's default port: the emulator's.
  (agent as Agent & { defaultPort: number }).defaultPort = emulator.info.httpsPort;
  return agent;
}

/** How often the transport polls for cloud-to-device messages once `on('message')` is listened to. */
export interface ReceivePolicy {
  readonly interval?: number;
  readonly manualPolling?: boolean;
  readonly drain?: boolean;
}

/**
 * An unmodified device client on the `Http` transport, pointed at the emulator through its options. The options
 * carry a `receivePolicy` because azure-iot-device-http 1.14.4's `setOptions` calls back only when they hold one
 * (or `interval`, `at`, `cron`, `manualPolling`, `drain`): without it `client.setOptions` never settles.
 */
export async function httpDevice(
  emulator: RunningEmulator,
  connectionString: string,
  receivePolicy: ReceivePolicy = { interval: 1 },
  agent = emulatorAgent(emulator),
): Promise<DeviceClient> {
  const client = DeviceClient.fromConnectionString(connectionString, Http);
  await client.setOptions({
    ca: readFileSync(emulator.info.caPath, 'utf8'),
    http: { agent, receivePolicy },
  });
  await client.open();
  return client;
}

export interface RawResponse {
  readonly status: number;
  readonly body: Buffer;
  readonly headers: Record<string, string | string[] | undefined>;
}

/** A plain HTTPS request to the emulator's HTTPS port, for what the SDK never sends (or never shows). */
export function deviceCall(
  emulator: RunningEmulator,
  method: string,
  path: string,
  options: {
    authorization?: string | null;
    body?: Buffer | string;
    headers?: Record<string, string | string[]>;
  } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: 'localhost',
        port: emulator.info.httpsPort,
        method,
        path,
        ca: readFileSync(emulator.info.caPath),
        headers: {
          ...(options.authorization ? { authorization: options.authorization } : {}),
          ...options.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers });
        });
      },
    );
    // A server that answers early (413) and closes may reset the rest of an upload: the answer is what counts.
    req.on('error', reject);
    req.end(options.body);
  });
}

/** IoT Hub's `{"Message":"ErrorCode:<Name>;<text>","ExceptionMessage":"Tracking ID:..."}` error body, read. */
export function errorCodeOf(response: RawResponse): string | undefined {
  const parsed = JSON.parse(response.body.toString('utf8')) as {
    Message?: string;
    ExceptionMessage?: string;
  };
  return /^ErrorCode:([A-Za-z]+);/.exec(parsed.Message ?? '')?.[1];
}
