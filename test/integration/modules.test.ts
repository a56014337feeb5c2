import { readFileSync } from 'node:fs';
import { earliestEventPosition, EventHubConsumerClient, type ReceivedEventData } from '@azure/event-hubs';
import {
  Message,
  ModuleClient,
  type Client as DeviceClient,
  type Twin as DeviceTwin,
} from 'azure-iot-device';
import { Mqtt } from 'azure-iot-device-mqtt';
import type { Client, Registry } from 'azure-iothub';
import type { RunningEmulator } from 'iothub-emulator';
import {
  connectDevice,
  echo,
  hubErrorCode,
  invokeMethod,
  makeTempDir,
  registryClient,
  serviceClient,
  startTestEmulator,
} from '../helpers/emulator';

type Emulator = RunningEmulator & { removeData: () => void };

/** What azure-iothub's Registry answers for a module (the SDK types results loosely). */
interface ModuleJson {
  deviceId: string;
  moduleId: string;
  etag: string;
  generationId: string;
  connectionState: string;
  authentication: { type: string; symmetricKey: { primaryKey: string; secondaryKey: string } };
}

/** The REST failure azure-iothub hands back: its HTTP status and IoT Hub's `ErrorCode:<Name>;...` body. */
async function failure(call: Promise<unknown>): Promise<{ status: number | undefined; body: string }> {
  const error = (await call.then(
    () => undefined,
    (e: unknown) => e,
  )) as { response?: { statusCode?: number }; responseBody?: unknown } | undefined;
  if (!error) throw new Error('the call succeeded');
  return { status: error.response?.statusCode, body: String(error.responseBody) };
}

/** A module's connection string, as the portal shows it: the device's with ModuleId and the module's key. */
function moduleConnectionString(emulator: Emulator, deviceId: string, moduleId: string, key: string): string {
  return emulator
    .deviceConnectionString(deviceId)
    .replace(/;SharedAccessKey=[^;]+/, `;ModuleId=${moduleId};SharedAccessKey=${key}`);
}

async function addModule(registry: Registry, deviceId: string, moduleId: string): Promise<ModuleJson> {
  await registry.addModule({ deviceId, moduleId });
  return (await registry.getModule(deviceId, moduleId)).responseBody as unknown as ModuleJson;
}

async function openModule(emulator: Emulator, connectionString: string): Promise<ModuleClient> {
  const client = ModuleClient.fromConnectionString(connectionString, Mqtt);
  await client.setOptions({ ca: readFileSync(emulator.info.caPath, 'utf8') });
  await client.open();
  return client;
}

describe('module identities in the registry', () => {
  let emulator: Emulator;
  let registry: Registry;

  beforeAll(async () => {
    emulator = await startTestEmulator({ devices: ['mod-reg'] });
    registry = registryClient(emulator);
  });
  afterAll(async () => {
    await emulator.stop();
    emulator.removeData();
  });

  it('creates a module with generated SAS keys and an etag, reads and lists it', async () => {
    const module = await addModule(registry, 'mod-reg', 'm1');
    expect(module).toMatchObject({
      deviceId: 'mod-reg',
      moduleId: 'm1',
      connectionState: 'Disconnected',
      authentication: { type: 'sas' },
    });
    expect(Buffer.from(module.authentication.symmetricKey.primaryKey, 'base64')).toHaveLength(32);
    expect(module.authentication.symmetricKey.secondaryKey).not.toBe(
      module.authentication.symmetricKey.primaryKey,
    );
    expect(module.etag).toMatch(/\S/);
    const list = (await registry.getModulesOnDevice('mod-reg')).responseBody as unknown as ModuleJson[];
    expect(list.map((m) => m.moduleId)).toEqual(['m1']);
  });

  it('refuses a second module with the same id (409301) and a bad id (400)', async () => {
    await addModule(registry, 'mod-reg', 'dup');
    const duplicate = await failure(registry.addModule({ deviceId: 'mod-reg', moduleId: 'dup' }));
    expect(duplicate.status).toBe(409);
    expect(duplicate.body).toContain('ModuleAlreadyExistsOnDevice');
    const bad = await failure(registry.addModule({ deviceId: 'mod-reg', moduleId: 'a b' }));
    expect(bad.status).toBe(400);
  });

  it('answers 404001 for an unknown device and 404010 for an unknown module', async () => {
    const noDevice = await failure(registry.getModule('no-such-device', 'm1'));
    expect(noDevice.status).toBe(404);
    expect(noDevice.body).toContain('DeviceNotFound');
    const noModule = await failure(registry.getModule('mod-reg', 'no-such-module'));
    expect(noModule.status).toBe(404);
    expect(noModule.body).toContain('ModuleNotFound');
  });

  it('updates with the current etag, refuses a stale one (412), and removes a module', async () => {
    const before = await addModule(registry, 'mod-reg', 'upd');
    await registry.updateModule({ deviceId: 'mod-reg', moduleId: 'upd', etag: before.etag });
    const stale = await failure(
      registry.updateModule({ deviceId: 'mod-reg', moduleId: 'upd', etag: before.etag }),
    );
    expect(stale.status).toBe(412);
    await registry.removeModule('mod-reg', 'upd');
    expect((await failure(registry.getModule('mod-reg', 'upd'))).status).toBe(404);
  });

  it('deletes the modules with their device', async () => {
    await registry.create({ deviceId: 'mod-gone' });
    await addModule(registry, 'mod-gone', 'm1');
    await registry.delete('mod-gone');
    await registry.create({ deviceId: 'mod-gone' });
    const list = (await registry.getModulesOnDevice('mod-gone')).responseBody as unknown as ModuleJson[];
    expect(list).toEqual([]);
  });
});

describe('module clients over MQTT', () => {
  let emulator: Emulator;
  let registry: Registry;
  let service: Client;
  let device: DeviceClient;
  let module: ModuleClient;
  let moduleKey: string;

  beforeAll(async () => {
    emulator = await startTestEmulator({ devices: ['mod-dev'] });
    registry = registryClient(emulator);
    service = serviceClient(emulator);
    moduleKey = (await addModule(registry, 'mod-dev', 'edge')).authentication.symmetricKey.primaryKey;
    device = await connectDevice(emulator, emulator.deviceConnectionString('mod-dev'), {
      whoami: (_request, response) => void response.send(200, 'device'),
    });
    module = await openModule(emulator, moduleConnectionString(emulator, 'mod-dev', 'edge', moduleKey));
    // ModuleClient types both arguments as optional; the SDK always passes them.
    module.onMethod('whoami', (_request, response) => void response?.send(200, 'module'));
    module.onMethod('echo', (request, response) => {
      if (request && response) echo(request, response);
    });
  });
  afterAll(async () => {
    await module.close();
    await device.close();
    await emulator.stop();
    emulator.removeData();
  });

  it('runs a method on the module and on the device, each on its own connection', async () => {
    const options = { methodName: 'whoami', connectTimeoutInSeconds: 10 };
    expect(await invokeMethod(service, 'mod-dev', options, 'edge')).toEqual({
      status: 200,
      payload: 'module',
    });
    expect(await invokeMethod(service, 'mod-dev', options)).toEqual({ status: 200, payload: 'device' });
    const payload = { deep: [1, 'two'] };
    expect(await invokeMethod(service, 'mod-dev', { methodName: 'echo', payload }, 'edge')).toEqual({
      status: 200,
      payload,
    });
  });

  it('shows the module connected in the registry, the device connected beside it', async () => {
    const module = (await registry.getModule('mod-dev', 'edge')).responseBody as unknown as ModuleJson;
    expect(module.connectionState).toBe('Connected');
    expect((await registry.get('mod-dev')).responseBody.connectionState).toBe('Connected');
  });

  it('answers 404010 for a method on a module that does not exist', async () => {
    const error = await invokeMethod(service, 'mod-dev', { methodName: 'whoami' }, 'nobody').catch(
      (e: unknown) => e,
    );
    expect(hubErrorCode(error)).toBe(404010);
  });

  it('stores module telemetry under its device, served by the Event Hub-compatible endpoint', async () => {
    await module.sendEvent(new Message(JSON.stringify({ from: 'edge', t: 21 })));
    const consumer = new EventHubConsumerClient('$Default', emulator.info.eventHubConnectionString);
    try {
      const event = await new Promise<ReceivedEventData>((resolve, reject) => {
        const subscription = consumer.subscribe(
          {
            processEvents: async (events) => {
              const first = events[0];
              if (first) {
                await subscription.close();
                resolve(first);
              }
            },
            processError: (error) => {
              reject(error);
              return Promise.resolve();
            },
          },
          { startPosition: earliestEventPosition, maxWaitTimeInSeconds: 1 },
        );
      });
      expect(event.body).toEqual({ from: 'edge', t: 21 });
      expect(event.systemProperties?.['iothub-connection-device-id']).toBe('mod-dev');
    } finally {
      await consumer.close();
    }
  });

  it('pushes desired changes of the module twin to the module, and stores its reported properties', async () => {
    const twin: DeviceTwin = await module.getTwin();
    const pushed = new Promise<Record<string, unknown>>((resolve) => {
      twin.on('properties.desired', (delta: Record<string, unknown>) => {
        if ('rate' in delta) resolve(delta);
      });
    });
    await registry.updateModuleTwin('mod-dev', 'edge', { properties: { desired: { rate: 5 } } }, '*');
    expect(await pushed).toMatchObject({ rate: 5 });
    // azure-iot-device types the reported section as any: its update method, as documented.
    const reported = twin.properties.reported as {
      update: (patch: unknown, done: (error?: Error) => void) => void;
    };
    await new Promise<void>((resolve, reject) => {
      reported.update({ applied: 5 }, (error?: Error) => {
        if (error) reject(error);
        else resolve();
      });
    });
    const serviceTwin = (await registry.getModuleTwin('mod-dev', 'edge')).responseBody as unknown as {
      deviceId: string;
      moduleId: string;
      properties: { desired: Record<string, unknown>; reported: Record<string, unknown> };
    };
    expect(serviceTwin).toMatchObject({
      deviceId: 'mod-dev',
      moduleId: 'edge',
      properties: { desired: { rate: 5 }, reported: { applied: 5 } },
    });
    // The device's own twin is another document.
    const deviceTwin = (await registry.getTwin('mod-dev')).responseBody as unknown as {
      properties: { desired: Record<string, unknown> };
    };
    expect(deviceTwin.properties.desired).not.toHaveProperty('rate');
  });

  it('refuses a module connection signed with the device key', async () => {
    const deviceKey = /SharedAccessKey=([^;]+)/.exec(emulator.deviceConnectionString('mod-dev'))?.[1] ?? '';
    const impostor = ModuleClient.fromConnectionString(
      moduleConnectionString(emulator, 'mod-dev', 'edge', deviceKey),
      Mqtt,
    );
    await impostor.setOptions({ ca: readFileSync(emulator.info.caPath, 'utf8') });
    await expect(impostor.open()).rejects.toThrow();
    await impostor.close();
    // The genuine module connection was not taken over by the refused one.
    expect(await invokeMethod(service, 'mod-dev', { methodName: 'whoami' }, 'edge')).toEqual({
      status: 200,
      payload: 'module',
    });
  });
});

describe('modules across a restart', () => {
  it('keeps module identities and keys in state.json', async () => {
    const data = makeTempDir();
    const first = await startTestEmulator({ dataDir: data.path, devices: ['mod-keep'] });
    const created = await addModule(registryClient(first), 'mod-keep', 'kept');
    await first.stop();
    const second = await startTestEmulator({ dataDir: data.path });
    try {
      const read = (await registryClient(second).getModule('mod-keep', 'kept'))
        .responseBody as unknown as ModuleJson;
      expect(read.authentication.symmetricKey).toEqual(created.authentication.symmetricKey);
      expect(read.generationId).toBe(created.generationId);
    } finally {
      await second.stop();
      data.remove();
    }
  });
});
