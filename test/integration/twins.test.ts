import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import type { Client as DeviceClient, Twin as DeviceTwin } from 'azure-iot-device';
import type { Registry } from 'azure-iothub';
import { createSasToken, type RunningEmulator } from 'iothub-emulator';
import { emulatorHostSettings } from '../../local/emulator-settings';
import { startLocalHost, type LocalHostProcess } from '../../local/host/host-process';
import {
  connectDevice,
  makeTempDir,
  policyKey,
  registryClient,
  startTestEmulator,
} from '../helpers/emulator';
import { inAnHour, serviceCall } from '../helpers/raw-clients';

type Emulator = RunningEmulator & { removeData: () => void };
type Json = Record<string, unknown>;

const API = 'api-version=2021-04-12';
/** Nine strings of 4,000 characters: 36 KB as IoT Hub counts a twin section, over its 32 KB. */
const over32KB = () => Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, 'v'.repeat(4000)]));

/** A PATCH with a body as written (JSON.stringify cannot write what a hostile client can). */
function rawPatch(
  emulator: RunningEmulator,
  path: string,
  body: string,
): Promise<{ status: number; body: string }> {
  const authorization = createSasToken(
    emulator.info.hostName,
    policyKey(emulator, 'iothubowner'),
    inAnHour(),
    'iothubowner',
  );
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: 'localhost',
        port: emulator.info.httpsPort,
        method: 'PATCH',
        path,
        ca: readFileSync(emulator.info.caPath),
        headers: { authorization, 'content-type': 'application/json' },
      },
      (res) => {
        let data = '';
        res.on('data', (chunk: Buffer) => (data += chunk.toString()));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body: data });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The reported properties of an azure-iot-device Twin (the SDK types them loosely). */
function reportProperties(twin: DeviceTwin, patch: Json): Promise<void> {
  const reported = twin.properties.reported as {
    update: (patch: Json, done: (error?: Error) => void) => void;
  };
  return new Promise((resolve, reject) => {
    reported.update(patch, (error) => {
      if (error) reject(error);
      else resolve();
    });
  });
}

/**
 * Listens for desired-property changes the way applications do (`twin.on('properties.desired')`), and resolves once
 * the SDK's subscription is acknowledged by the hub: the SDK's own enable call waits for the same SUBACK.
 */
async function listenForDesired(twin: DeviceTwin): Promise<Json[]> {
  const received: Json[] = [];
  twin.on('properties.desired', (patch: Json) => received.push(patch));
  await new Promise<void>((resolve, reject) => {
    twin.enableTwinDesiredPropertiesUpdates((error) => {
      if (error) reject(error);
      else resolve();
    });
  });
  return received;
}

/** Resolves with the first desired change the device receives with `$version` at least `version`. */
function desiredChange(twin: DeviceTwin, version: number): Promise<Json> {
  return new Promise((resolve) => {
    const onChange = (patch: Json) => {
      if (typeof patch.$version === 'number' && patch.$version >= version) {
        twin.off('properties.desired', onChange);
        resolve(patch);
      }
    };
    twin.on('properties.desired', onChange);
  });
}

describe('device twins (azure-iothub Registry and azure-iot-device over MQTT and AMQP against the emulator)', () => {
  const data = makeTempDir();
  let emulator: Emulator;
  let registry: Registry;
  const devices: DeviceClient[] = [];

  beforeAll(async () => {
    emulator = await startTestEmulator({
      dataDir: data.path,
      devices: [
        'tw-fresh',
        'tw-etag',
        'tw-device',
        'tw-device-amqp',
        'tw-offline',
        'tw-limits',
        'tw-deleted',
        'tw-rights',
        'tw-fn',
      ],
    });
    registry = registryClient(emulator);
  });

  afterAll(async () => {
    await Promise.all(devices.map((d) => d.close()));
    await emulator.stop();
    data.remove();
  });

  it('reads a new twin as IoT Hub describes it: version 1, empty sections, the device status', async () => {
    const result = await registry.getTwin('tw-fresh');
    const twin = result.responseBody;
    const headers = (result.httpResponse as { headers: Record<string, unknown> }).headers;
    const json = JSON.parse(JSON.stringify(twin)) as Json;
    expect(json).toMatchObject({
      deviceId: 'tw-fresh',
      status: 'enabled',
      connectionState: 'Disconnected',
      cloudToDeviceMessageCount: 0,
      authenticationType: 'sas',
      x509Thumbprint: { primaryThumbprint: null, secondaryThumbprint: null },
      version: 1,
      tags: {},
      properties: {
        desired: { $metadata: { $lastUpdated: expect.any(String) as unknown }, $version: 1 },
        reported: { $metadata: { $lastUpdated: expect.any(String) as unknown }, $version: 1 },
      },
      capabilities: { iotEdge: false },
    });
    expect(typeof json.statusUpdateTime).toBe('string');
    expect(typeof json.lastActivityTime).toBe('string');
    expect(twin.etag).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(headers.etag).toBe(`"${twin.etag}"`);
    // The device's keys are not part of its twin.
    expect(JSON.stringify(json)).not.toMatch(/primaryKey|symmetricKey/);
    await expect(registry.getTwin('tw-nobody')).rejects.toMatchObject({ name: 'DeviceNotFoundError' });
  });

  it('updates tags and desired properties with the etag, versions each change, and refuses a stale etag with 412', async () => {
    const first = (await registry.getTwin('tw-etag')).responseBody;
    const updated = (
      await registry.updateTwin(
        'tw-etag',
        {
          tags: { site: 'lab', floor: 2 },
          properties: { desired: { telemetryInterval: 5, mode: { fan: 'auto' } } },
        },
        first.etag,
      )
    ).responseBody;
    expect(updated.etag).not.toBe(first.etag);
    expect(updated.tags).toEqual({ site: 'lab', floor: 2 });
    const desired: Json = updated.properties.desired;
    expect(desired).toMatchObject({ telemetryInterval: 5, mode: { fan: 'auto' }, $version: 2 });
    // $metadata at every level, with $lastUpdatedVersion in desired properties (the twin documentation's shape).
    expect(desired.$metadata).toMatchObject({
      $lastUpdatedVersion: 2,
      telemetryInterval: { $lastUpdated: expect.any(String) as unknown, $lastUpdatedVersion: 2 },
      mode: { $lastUpdatedVersion: 2, fan: { $lastUpdatedVersion: 2 } },
    });
    expect((await registry.getTwin('tw-etag')).responseBody.etag).toBe(updated.etag);

    await expect(
      registry.updateTwin('tw-etag', { properties: { desired: { telemetryInterval: 6 } } }, first.etag),
    ).rejects.toMatchObject({ name: 'InvalidEtagError', response: { statusCode: 412 } });

    // The SDK's Twin.update sends the etag it holds; '*' updates whatever the twin holds.
    const twin = (await registry.getTwin('tw-etag')).responseBody;
    await twin.update({ properties: { desired: { mode: { fan: null } } } });
    expect(twin.properties.desired).toMatchObject({ mode: {}, $version: 3 });
    expect((twin.properties.desired.$metadata as Json).mode).not.toHaveProperty('fan');
    const forced = (await registry.updateTwin('tw-etag', { tags: { floor: null } }, '*')).responseBody;
    expect(forced.tags).toEqual({ site: 'lab' });
    expect((forced as unknown as Json).version).toBe(4);
    expect(forced.properties.desired.$version).toBe(3);
  });

  it('replaces tags and desired properties with PUT (the Node SDK has no replaceTwin: raw REST)', async () => {
    const path = `/twins/tw-etag?${API}`;
    const before = JSON.parse((await serviceCall(emulator, 'GET', path)).body) as Json;
    // A twin read, changed and sent back whole, as the .NET and Python SDKs' replace_twin do.
    const replacement = { ...before, tags: { zone: 'b' }, properties: { desired: { onlyThis: true } } };
    const stale = await serviceCall(emulator, 'PUT', path, {
      body: replacement,
      headers: { 'if-match': '"AAAAAAAAAAE="' },
    });
    expect(stale.status).toBe(412);
    expect(stale.body).toContain('ErrorCode:PreconditionFailed');
    const replaced = await serviceCall(emulator, 'PUT', path, {
      body: replacement,
      headers: { 'if-match': `"${String(before.etag)}"` },
    });
    expect(replaced.status).toBe(200);
    const twin = JSON.parse(replaced.body) as { tags: Json; properties: { desired: Json } };
    expect(twin.tags).toEqual({ zone: 'b' });
    expect(twin.properties.desired).toMatchObject({ onlyThis: true, $version: 4 });
    expect(Object.keys(twin.properties.desired).sort()).toEqual(['$metadata', '$version', 'onlyThis']);
  });

  it.each([
    ['mqtt', 'tw-device'],
    ['amqp', 'tw-device-amqp'],
  ] as const)(
    'gives a device (%s) its twin, pushes every desired change to it, and takes its reported properties',
    async (transport, deviceId) => {
      const client = await connectDevice(
        emulator,
        emulator.deviceConnectionString(deviceId, transport),
        {},
        transport,
      );
      devices.push(client);
      await registry.updateTwin(deviceId, { properties: { desired: { telemetryInterval: 10 } } }, '*');
      const twin = await client.getTwin();
      expect(twin.properties.desired).toMatchObject({ telemetryInterval: 10, $version: 2 });
      expect(twin.properties.reported).toMatchObject({ $version: 1 });

      const received = await listenForDesired(twin);
      const pushed = desiredChange(twin, 3);
      await registry.updateTwin(
        deviceId,
        { properties: { desired: { telemetryInterval: 20, extra: 'x' } } },
        '*',
      );
      expect(await pushed).toEqual({ telemetryInterval: 20, extra: 'x', $version: 3 });
      const deleted = desiredChange(twin, 4);
      await registry.updateTwin(deviceId, { properties: { desired: { extra: null } } }, '*');
      expect(await deleted).toEqual({ extra: null, $version: 4 });
      expect(twin.properties.desired).toMatchObject({ telemetryInterval: 20, $version: 4 });
      expect(twin.properties.desired).not.toHaveProperty('extra');
      // Tags are the service's: a tags-only change sends the device nothing (the next push is version 5).
      await registry.updateTwin(deviceId, { tags: { owner: 'ops' } }, '*');
      const next = desiredChange(twin, 5);
      await registry.updateTwin(deviceId, { properties: { desired: { telemetryInterval: 30 } } }, '*');
      expect(await next).toEqual({ telemetryInterval: 30, $version: 5 });
      expect(received.map((patch) => patch.$version)).not.toContain(undefined);

      await reportProperties(twin, { telemetryInterval: 30, firmware: { version: '1.2.3' } });
      await reportProperties(twin, { firmware: { channel: 'stable' } });
      const seen = (await registry.getTwin(deviceId)).responseBody;
      expect(seen.properties.reported).toMatchObject({
        telemetryInterval: 30,
        firmware: { version: '1.2.3', channel: 'stable' },
        $version: 3,
        $metadata: { firmware: { channel: { $lastUpdated: expect.any(String) as unknown } } },
      });
      expect((seen as unknown as Json).connectionState).toBe('Connected');
    },
  );

  it('keeps what a disconnected device missed for its next GET, as IoT Hub does', async () => {
    const first = await connectDevice(emulator, emulator.deviceConnectionString('tw-offline'));
    const twin = await first.getTwin();
    expect(twin.properties.desired).toEqual({ $version: 1 });
    await first.close();
    await registry.updateTwin('tw-offline', { properties: { desired: { missed: 1 } } }, '*');
    await registry.updateTwin('tw-offline', { properties: { desired: { missed: 2, more: true } } }, '*');
    const again = await connectDevice(emulator, emulator.deviceConnectionString('tw-offline'));
    devices.push(again);
    expect((await again.getTwin()).properties.desired).toEqual({ missed: 2, more: true, $version: 3 });
  });

  it("refuses what breaks IoT Hub's limits with its codes, and keeps the twin as it was", async () => {
    const before = JSON.stringify((await registry.getTwin('tw-limits')).responseBody.properties);
    const refused = async (patch: Json) => {
      const error = (await registry.updateTwin('tw-limits', patch, '*').catch((e: unknown) => e)) as {
        response?: { statusCode?: number };
        responseBody?: string;
      };
      return { status: error.response?.statusCode, body: error.responseBody ?? '' };
    };
    expect(await refused({ properties: { desired: over32KB() } })).toMatchObject({
      status: 413,
      body: expect.stringContaining('ErrorCode:MessageTooLarge') as unknown,
    });
    expect(
      await refused({ tags: { a: 'v'.repeat(4000), b: 'v'.repeat(4000), c: 'v'.repeat(200) } }),
    ).toMatchObject({
      status: 413,
    });
    for (const patch of [
      { properties: { desired: { 'a.b': 1 } } },
      { properties: { desired: { a: { $b: 1 } } } },
      { tags: { s: 'v'.repeat(4097) } },
      { tags: JSON.parse('{"a":'.repeat(12) + '1' + '}'.repeat(12)) as Json },
      { properties: { reported: { r: 1 } } },
    ]) {
      expect(await refused(patch)).toMatchObject({
        status: 400,
        body: expect.stringContaining('ErrorCode:ArgumentInvalid') as unknown,
      });
    }
    expect(JSON.stringify((await registry.getTwin('tw-limits')).responseBody.properties)).toBe(before);

    // From the device: the SDK fails the call (IoT Hub's errorCode in the answer) and nothing is stored.
    const client = await connectDevice(emulator, emulator.deviceConnectionString('tw-limits'));
    devices.push(client);
    const twin = await client.getTwin();
    await expect(reportProperties(twin, over32KB())).rejects.toThrow(/32768/);
    await expect(reportProperties(twin, { 'bad name': 1 })).rejects.toThrow(/name/);
    expect((await registry.getTwin('tw-limits')).responseBody.properties.reported).toEqual(
      (JSON.parse(before) as { reported: unknown }).reported,
    );
  });

  it('stores __proto__ as a plain tag and refuses a body nested 50,000 levels deep with 400', async () => {
    const path = `/twins/tw-limits?${API}`;
    const polluting = await serviceCall(emulator, 'PATCH', path, {
      body: JSON.parse(
        '{"tags": {"__proto__": {"polluted": true}, "constructor": {"prototype": {"x": 1}}}}',
      ) as Json,
    });
    expect(polluting.status).toBe(200);
    expect(polluting.body).toContain('"__proto__":{"polluted":true}');
    // 50,000 levels: deep enough to overflow any recursive walk, small enough for the API's 144 KB body limit.
    const deep = await rawPatch(
      emulator,
      path,
      `{"tags": {"a": ${'['.repeat(50_000)}${']'.repeat(50_000)}}}`,
    );
    expect(deep.status).toBe(400);
    expect(deep.body).toContain('ErrorCode:ArgumentInvalid');
    expect((await serviceCall(emulator, 'GET', path)).status).toBe(200);
  });

  it('deletes the twin with its device: a device created again under the id starts afresh', async () => {
    await registry.updateTwin('tw-deleted', { tags: { a: 1 }, properties: { desired: { b: 2 } } }, '*');
    await registry.delete('tw-deleted');
    await expect(registry.getTwin('tw-deleted')).rejects.toMatchObject({ name: 'DeviceNotFoundError' });
    await registry.create({ deviceId: 'tw-deleted' });
    const twin = (await registry.getTwin('tw-deleted')).responseBody;
    expect(twin.tags).toEqual({});
    expect(twin.properties.desired).toMatchObject({ $version: 1 });
    expect(Object.keys(twin.properties.desired)).not.toContain('b');
  });

  it.each([
    ['service (ServiceConnect) reads', 'service', 'GET', 200],
    ['registryRead reads', 'registryRead', 'GET', 200],
    ['device (DeviceConnect only) cannot read', 'device', 'GET', 403],
    ['service (ServiceConnect) patches', 'service', 'PATCH', 200],
    ['registryReadWrite cannot patch', 'registryReadWrite', 'PATCH', 403],
    ['registryRead cannot replace', 'registryRead', 'PUT', 403],
  ])('authorizes policies: %s', async (_what, policy, method, status) => {
    const body = method === 'GET' ? undefined : { tags: { by: policy } };
    expect((await serviceCall(emulator, method, `/twins/tw-rights?${API}`, { policy, body })).status).toBe(
      status,
    );
  });

  it('answers 401 before anything else, even for a twin that does not exist', async () => {
    expect((await serviceCall(emulator, 'GET', `/twins/nobody?${API}`, { authorization: null })).status).toBe(
      401,
    );
  });

  describe('the twin functions, through the local Functions host', () => {
    let host: LocalHostProcess;
    const call = (method: string, path: string, body?: string, headers: Record<string, string> = {}) =>
      fetch(`${host.baseUrl}/api/${path}`, {
        method,
        headers: { 'content-type': 'application/json', ...headers },
        ...(body === undefined ? {} : { body }),
      });
    const errorOf = async (response: Response) => ((await response.json()) as { error: Json }).error;

    beforeAll(async () => {
      host = await startLocalHost(emulatorHostSettings(emulator.info));
    });
    afterAll(async () => {
      await host.stop();
    });

    it('reads a twin with its etag, and updates it with If-Match; the device gets the change', async () => {
      const client = await connectDevice(emulator, emulator.deviceConnectionString('tw-fn'));
      devices.push(client);
      const deviceTwin = await client.getTwin();
      await listenForDesired(deviceTwin);

      const read = await call('GET', 'devices/tw-fn/twin');
      expect(read.status).toBe(200);
      const twin = (await read.json()) as Json;
      expect(twin).toMatchObject({ deviceId: 'tw-fn', version: 1, connectionState: 'Connected', tags: {} });
      expect(read.headers.get('etag')).toBe(`"${String(twin.etag)}"`);

      const pushed = desiredChange(deviceTwin, 2);
      const patch = JSON.stringify({
        tags: { site: 'lab' },
        properties: { desired: { telemetryInterval: 5 } },
      });
      const updated = await call('PATCH', 'devices/tw-fn/twin', patch, {
        'if-match': read.headers.get('etag') ?? '',
      });
      expect(updated.status).toBe(200);
      const after = (await updated.json()) as { etag: string; tags: Json; properties: { desired: Json } };
      expect(after.tags).toEqual({ site: 'lab' });
      expect(after.properties.desired).toMatchObject({ telemetryInterval: 5, $version: 2 });
      expect(await pushed).toEqual({ telemetryInterval: 5, $version: 2 });

      const stale = await call('PATCH', 'devices/tw-fn/twin', patch, {
        'if-match': read.headers.get('etag') ?? '',
      });
      expect(stale.status).toBe(412);
      expect(await errorOf(stale)).toMatchObject({ code: 'PreconditionFailed', target: 'If-Match' });

      const deletion = await call(
        'PATCH',
        'devices/tw-fn/twin',
        '{"properties":{"desired":{"telemetryInterval":null}}}',
      );
      expect(
        ((await deletion.json()) as { properties: { desired: Json } }).properties.desired,
      ).not.toHaveProperty('telemetryInterval');
    });

    it.each([
      ['an unknown device', 'GET', 'devices/tw-nobody/twin', undefined, 404, 'DeviceNotFound'],
      ['an invalid device id', 'GET', 'devices/bad%20id/twin', undefined, 400, 'InvalidDeviceId'],
      ['invalid JSON', 'PATCH', 'devices/tw-fn/twin', '{"tags":', 400, 'InvalidJson'],
      [
        'reported properties',
        'PATCH',
        'devices/tw-fn/twin',
        '{"properties":{"reported":{"a":1}}}',
        400,
        'ReadOnlyField',
      ],
      ['a name with $', 'PATCH', 'devices/tw-fn/twin', '{"tags":{"$a":1}}', 400, 'InvalidTwinPatch'],
      [
        'desired properties over 32 KB',
        'PATCH',
        'devices/tw-fn/twin',
        JSON.stringify({ properties: { desired: over32KB() } }),
        413,
        'TwinTooLarge',
      ],
    ])('answers %s with its status and code', async (_what, method, path, body, status, code) => {
      const response = await call(method, path, body);
      expect(response.status).toBe(status);
      expect(await errorOf(response)).toMatchObject({ code });
    });
  });

  it('keeps twins across a restart, in state.json with the registry', async () => {
    const before = JSON.parse(JSON.stringify((await registry.getTwin('tw-etag')).responseBody)) as Json;
    await Promise.all(devices.splice(0).map((d) => d.close()));
    await emulator.stop();
    emulator = await startTestEmulator({ dataDir: data.path });
    registry = registryClient(emulator);
    const after = JSON.parse(JSON.stringify((await registry.getTwin('tw-etag')).responseBody)) as Json;
    // Everything but the connection, which the restart ended.
    for (const twin of [before, after]) {
      delete twin.connectionState;
      delete twin.lastActivityTime;
    }
    expect(after).toEqual(before);
    expect(after.etag).toBe(before.etag);
  });
});
