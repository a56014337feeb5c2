import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Client as DeviceClient,
  type DeviceMethodRequest,
  type DeviceMethodResponse,
} from 'azure-iot-device';
import { Amqp } from 'azure-iot-device-amqp';
import { Mqtt } from 'azure-iot-device-mqtt';
import type { Client } from 'azure-iothub';
import {
  type DeviceTransport,
  type RunningEmulator,
  startEmulator,
  type StartEmulatorOptions,
} from 'iothub-emulator';
import { createIotHubClient, createIotHubRegistry } from '../../src/lib/iothub-client';
import { readIotHubSettings, type IotHubSettings } from '../../src/lib/settings';

export function makeTempDir(prefix = 'iothub-emulator-test-'): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return {
    path,
    remove: () => {
      rmSync(path, { recursive: true, force: true });
    },
  };
}

/** Starts an emulator on free ports with a fresh data directory (unless one is given). */
export async function startTestEmulator(
  options: StartEmulatorOptions = {},
): Promise<RunningEmulator & { removeData: () => void }> {
  const dir = options.dataDir ? undefined : makeTempDir();
  const emulator = await startEmulator({
    mqttPort: 0,
    httpsPort: 0,
    amqpPort: 0,
    iothubAmqpsPort: 0,
    dataDir: dir?.path,
    ...options,
  });
  return Object.assign(emulator, { removeData: () => dir?.remove() });
}

export function serviceSettings(emulator: RunningEmulator, policy = 'iothubowner'): IotHubSettings {
  const connectionString = emulator.info.serviceConnectionString.replace(
    /SharedAccessKeyName=[^;]+;SharedAccessKey=[^;]+/,
    `SharedAccessKeyName=${policy};SharedAccessKey=${policyKey(emulator, policy)}`,
  );
  return readIotHubSettings({
    IOTHUB_SERVICE_CONNECTION_STRING: connectionString,
    IOTHUB_EMULATOR_CA_CERT: emulator.info.caPath,
  });
}

export function serviceClient(emulator: RunningEmulator, policy = 'iothubowner'): Client {
  return createIotHubClient(serviceSettings(emulator, policy));
}

export function registryClient(emulator: RunningEmulator) {
  return createIotHubRegistry(serviceSettings(emulator));
}

/** Reads a policy key from the emulator's persisted state, as a user would from the portal. */
export function policyKey(emulator: RunningEmulator, policy: string): string {
  const state = JSON.parse(readFileSync(join(emulator.info.dataDir, 'state.json'), 'utf8')) as {
    policies: { keyName: string; primaryKey: string }[];
  };
  const found = state.policies.find((p) => p.keyName === policy);
  if (!found) throw new Error(`no policy ${policy}`);
  return found.primaryKey;
}

export type MethodHandler = (request: DeviceMethodRequest, response: DeviceMethodResponse) => void;

/**
 * A device on the official SDK, connected to the emulator over MQTT or AMQP (the connection string's gateway port
 * must match: `emulator.deviceConnectionString(id, transport)`), with the given direct-method handlers.
 */
export async function connectDevice(
  emulator: RunningEmulator,
  connectionString: string,
  methods: Record<string, MethodHandler> = {},
  transport: DeviceTransport = 'mqtt',
): Promise<DeviceClient> {
  const client = DeviceClient.fromConnectionString(connectionString, transport === 'amqp' ? Amqp : Mqtt);
  await client.setOptions({ ca: readFileSync(emulator.info.caPath, 'utf8') });
  await client.open();
  for (const [name, handler] of Object.entries(methods)) client.onDeviceMethod(name, handler);
  return client;
}

export const echo: MethodHandler = (request, response) => {
  void response.send(200, request.payload);
};

/** The device's answer as IoT Hub returns it (the SDK types it as any). */
export interface MethodResult {
  readonly status: number;
  readonly payload: unknown;
}

export async function invokeMethod(
  service: Client,
  deviceId: string,
  params: {
    methodName: string;
    payload?: unknown;
    responseTimeoutInSeconds?: number;
    connectTimeoutInSeconds?: number;
  },
  moduleId?: string,
): Promise<MethodResult> {
  const response: { result: MethodResult } = moduleId
    ? await service.invokeDeviceMethod(deviceId, moduleId, params)
    : await service.invokeDeviceMethod(deviceId, params);
  return response.result;
}

/** IoT Hub's numeric errorCode from a failed call's body (`{"Message":"{\"errorCode\":404103,...}"}`). */
export function hubErrorCode(error: unknown): number | undefined {
  const body = (error as { responseBody?: unknown }).responseBody;
  if (typeof body !== 'string') return undefined;
  const outer = JSON.parse(body) as { Message?: string };
  const inner = JSON.parse(outer.Message ?? '{}') as { errorCode?: number };
  return inner.errorCode;
}

/** The full inner error document of a direct-method failure. */
export function hubErrorDocument(error: unknown): Record<string, unknown> {
  const body = (error as { responseBody?: unknown }).responseBody;
  if (typeof body !== 'string') return {};
  return JSON.parse((JSON.parse(body) as { Message?: string }).Message ?? '{}') as Record<string, unknown>;
}
