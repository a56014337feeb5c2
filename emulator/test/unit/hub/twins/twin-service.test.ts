import type { DeviceSession } from '../../../../hub/auth/device-auth';
import { ConnectedDevices } from '../../../../hub/connections/connected-devices';
import type { DeviceConnection } from '../../../../hub/connections/device-connection';
import { HubError } from '../../../../hub/errors';
import { DeviceRegistry } from '../../../../hub/registry';
import { DeviceTwins } from '../../../../hub/twins/device-twins';
import { TwinService } from '../../../../hub/twins/twin-service';

const silent = { info: () => undefined, warn: () => undefined };

/** A transport's connection as the hub sees it, recording what the hub hands it. */
class RecordingConnection implements DeviceConnection {
  readonly transport = 'mqtt' as const;
  listening = true;
  readonly pushed: { body: unknown; version: number }[] = [];
  constructor(readonly deviceId: string) {}
  acceptsMethods = () => false;
  sendMethodRequest = () => false;
  acceptsCloudToDevice = () => false;
  deliverCloudToDevice = () => undefined;
  unsettledCloudToDevice = () => [];
  close = () => undefined;
  sendDesiredPropertiesPatch(body: Buffer, version: number): boolean {
    if (!this.listening) return false;
    this.pushed.push({ body: JSON.parse(body.toString('utf8')) as unknown, version });
    return true;
  }
}

async function hubError(action: () => unknown): Promise<HubError> {
  try {
    await action();
  } catch (error) {
    if (error instanceof HubError) return error;
    throw error;
  }
  throw new Error('expected a HubError');
}

describe('the twin service', () => {
  let registry: DeviceRegistry;
  let twins: TwinService;
  let connection: RecordingConnection;
  const events: string[] = [];

  beforeEach(() => {
    events.length = 0;
    registry = new DeviceRegistry();
    const device = registry.ensure('dev');
    const connections = new ConnectedDevices(registry, silent);
    connection = new RecordingConnection('dev');
    const session: DeviceSession = { device, expiry: Math.floor(Date.now() / 1000) + 3600 };
    connections.attach(connection, session);
    const origin = connection.sendDesiredPropertiesPatch.bind(connection);
    connection.sendDesiredPropertiesPatch = (body, version) => {
      events.push(`push ${version}`);
      return origin(body, version);
    };
    twins = new TwinService(new DeviceTwins(), registry, connections, () => {
      events.push('persist');
      return Promise.resolve();
    });
  });

  it('describes a twin as IoT Hub returns it, without the identity keys', () => {
    const twin = twins.read('dev');
    expect(Object.keys(twin)).toEqual([
      'deviceId',
      'etag',
      'deviceEtag',
      'status',
      'statusUpdateTime',
      'connectionState',
      'lastActivityTime',
      'cloudToDeviceMessageCount',
      'authenticationType',
      'x509Thumbprint',
      'modelId',
      'version',
      'tags',
      'properties',
      'capabilities',
    ]);
    expect(JSON.parse(JSON.stringify(twin))).toMatchObject({
      deviceId: 'dev',
      status: 'enabled',
      connectionState: 'Connected',
      authenticationType: 'sas',
      x509Thumbprint: { primaryThumbprint: null, secondaryThumbprint: null },
      version: 1,
      tags: {},
      properties: {
        desired: { $metadata: { $lastUpdated: '0001-01-01T00:00:00Z' }, $version: 1 },
        reported: { $metadata: { $lastUpdated: '0001-01-01T00:00:00Z' }, $version: 1 },
      },
      capabilities: { iotEdge: false },
    });
    const keys = registry.get('dev');
    expect(JSON.stringify(twin)).not.toContain(keys.primaryKey);
    expect(JSON.stringify(twin)).not.toContain(keys.secondaryKey);
  });

  it('answers 404001 for an unknown device', async () => {
    expect((await hubError(() => twins.read('nobody'))).errorCode).toBe(404001);
    expect((await hubError(() => twins.update('nobody', { tags: {} }))).errorCode).toBe(404001);
  });

  it('persists a desired change, then pushes it with its $version, then answers', async () => {
    const twin = await twins.update('dev', { properties: { desired: { interval: 5, gone: null } } });
    expect(events).toEqual(['persist', 'push 2']);
    expect(connection.pushed).toEqual([{ body: { interval: 5, gone: null, $version: 2 }, version: 2 }]);
    expect(twin.properties.desired).toMatchObject({ interval: 5, $version: 2 });
  });

  it('pushes the whole new document for a replacement, and nothing for a tags-only change', async () => {
    await twins.update('dev', { properties: { desired: { a: 1, b: 2 } } });
    await twins.update('dev', { tags: { site: 'x' } });
    await twins.replace('dev', { properties: { desired: { c: 3 } } });
    expect(connection.pushed.map((p) => p.body)).toEqual([
      { a: 1, b: 2, $version: 2 },
      { c: 3, $version: 3 },
    ]);
  });

  it('sends nothing to a device that does not listen, which reads the change later', async () => {
    connection.listening = false;
    await twins.update('dev', { properties: { desired: { a: 1 } } });
    expect(connection.pushed).toEqual([]);
    const read = twins.readForDevice('dev');
    expect(read.status).toBe(200);
    expect(JSON.parse('body' in read ? read.body.toString() : '')).toEqual({
      desired: { a: 1, $version: 2 },
      reported: { $version: 1 },
    });
  });

  it('updates with the current etag (quoted or not) or *, and refuses a stale one with 412001', async () => {
    const { etag } = twins.read('dev');
    const next = await twins.update('dev', { tags: { a: 1 } }, `"${etag}"`);
    expect(next.etag).not.toBe(etag);
    expect((await hubError(() => twins.update('dev', { tags: { a: 2 } }, etag))).errorCode).toBe(412001);
    expect((await hubError(() => twins.replace('dev', { tags: {} }, `"${etag}"`))).errorCode).toBe(412001);
    await twins.update('dev', { tags: { a: 3 } }, next.etag);
    await twins.update('dev', { tags: { a: 4 } }, '*');
    expect(twins.read('dev').tags).toEqual({ a: 4 });
  });

  it('refuses a bad patch with 400004 and an oversized document with 413001, changing nothing', async () => {
    const before = JSON.stringify(twins.read('dev'));
    expect((await hubError(() => twins.update('dev', { tags: { 'a b': 1 } }))).errorCode).toBe(400004);
    const big = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, 'v'.repeat(4000)]));
    expect((await hubError(() => twins.update('dev', { properties: { desired: big } }))).errorCode).toBe(
      413001,
    );
    expect(JSON.stringify(twins.read('dev'))).toBe(before);
    expect(connection.pushed).toEqual([]);
  });

  it("answers a device's reported patch with 204 and the new version once persisted, 400 or 413 otherwise", async () => {
    expect(await twins.reportFromDevice('dev', Buffer.from('{"fw":"1.0"}'))).toEqual({
      status: 204,
      version: 2,
    });
    expect(events).toEqual(['persist']);
    const refused = await twins.reportFromDevice('dev', Buffer.from('{"a.b":1}'));
    expect(refused.status).toBe(400);
    // The device SDKs fail the call on IoT Hub's errorCode in the body, whatever the status.
    expect(JSON.parse('body' in refused ? refused.body.toString() : '{}')).toMatchObject({
      errorCode: 400004,
    });
    const big = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, 'v'.repeat(4000)]));
    expect((await twins.reportFromDevice('dev', Buffer.from(JSON.stringify(big)))).status).toBe(413);
    expect((await twins.reportFromDevice('nobody', Buffer.from('{}'))).status).toBe(404);
    expect(twins.read('dev').properties.reported).toMatchObject({ fw: '1.0', $version: 2 });
    expect(twins.read('dev').version).toBe(2);
  });
});
