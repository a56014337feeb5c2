import { authenticateModule, type DeviceSession } from '../../../../hub/auth/device-auth';
import { createSasToken } from '../../../../hub/auth/sas';
import { ConnectedDevices } from '../../../../hub/connections/connected-devices';
import type { DeviceConnection } from '../../../../hub/connections/device-connection';
import { HubError } from '../../../../hub/errors';
import { ModuleRegistry } from '../../../../hub/modules/module-registry';
import { ensureBuiltInPolicies } from '../../../../hub/policies';
import { DeviceRegistry } from '../../../../hub/registry';
import { decodeRecord, encodeRecord } from '../../../../hub/telemetry/record';
import { thrownBy } from '../../../../../devkit/thrown-by';

const hubError = (action: () => unknown) => thrownBy(HubError, action);
const silent = { info: () => undefined, warn: () => undefined };
const HOST = 'hub.azure-devices.net';
const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;

/** A connection as the hub sees it; records whether the hub closed it. */
class FakeConnection implements DeviceConnection {
  readonly transport = 'mqtt' as const;
  closed = false;
  constructor(
    readonly deviceId: string,
    readonly moduleId?: string,
  ) {}
  acceptsMethods = () => true;
  sendMethodRequest = () => true;
  acceptsCloudToDevice = () => false;
  deliverCloudToDevice = () => undefined;
  unsettledCloudToDevice = () => [];
  sendDesiredPropertiesPatch = () => false;
  close = () => {
    this.closed = true;
  };
}

describe('ModuleRegistry', () => {
  it('creates modules with fresh 256-bit keys, a generation id and an etag that changes on update', () => {
    const modules = new ModuleRegistry();
    const { record, created } = modules.put('dev', 'm1', {});
    expect(created).toBe(true);
    expect(Buffer.from(record.primaryKey, 'base64')).toHaveLength(32);
    expect(record.primaryKey).not.toBe(record.secondaryKey);
    const before = modules.describe(record).etag;
    const updated = modules.put('dev', 'm1', { managedBy: 'IotEdge' }, before).record;
    expect(updated.generationId).toBe(record.generationId);
    expect(updated.primaryKey).toBe(record.primaryKey);
    expect(modules.describe(updated).etag).not.toBe(before);
    expect(modules.describe(updated).managedBy).toBe('IotEdge');
  });

  it("answers IoT Hub's codes: 409301 on a duplicate, 404010 unknown, 412001 on a stale etag, 400004 bad id", () => {
    const modules = new ModuleRegistry();
    const stale = modules.describe(modules.put('dev', 'm1', {}).record).etag;
    modules.put('dev', 'm1', {}, '*');
    expect(hubError(() => modules.put('dev', 'm1', {})).errorCode).toBe(409301);
    expect(hubError(() => modules.get('dev', 'nope')).errorCode).toBe(404010);
    expect(hubError(() => modules.put('dev', 'm1', {}, stale)).errorCode).toBe(412001);
    expect(
      hubError(() => {
        modules.delete('dev', 'm1', stale);
      }).errorCode,
    ).toBe(412001);
    expect(hubError(() => modules.put('dev', 'a/b', {})).errorCode).toBe(400004);
    expect(hubError(() => modules.put('dev', 'm2', { moduleId: 'other' })).errorCode).toBe(400004);
  });

  it('forgets every module of a deleted device, announcing each', () => {
    const modules = new ModuleRegistry();
    modules.put('dev', 'a', {});
    modules.put('dev', 'b', {});
    modules.put('other', 'a', {});
    const revoked: string[] = [];
    modules.on('revoked', (deviceId, moduleId) => revoked.push(`${deviceId}/${moduleId}`));
    expect(modules.forgetDevice('dev')).toEqual(['a', 'b']);
    expect(revoked).toEqual(['dev/a', 'dev/b']);
    expect(modules.onDevice('dev')).toEqual([]);
    expect(modules.find('other', 'a')).toBeDefined();
  });
});

describe('module tokens', () => {
  const registry = new DeviceRegistry();
  registry.ensure('dev');
  const modules = new ModuleRegistry();
  const module = modules.put('dev', 'm1', {}).record;
  const policies = ensureBuiltInPolicies(undefined);
  const context = {
    hostName: HOST,
    registry,
    modules,
    policy: (name: string) => policies.find((p) => p.keyName === name),
  };
  const moduleResource = `${HOST}/devices/dev/modules/m1`;

  it('accepts a token for the module signed with its key, and a DeviceConnect policy token covering it', () => {
    const own = authenticateModule(
      context,
      'dev',
      'm1',
      createSasToken(moduleResource, module.primaryKey, inAnHour()),
    );
    expect(own).toMatchObject({ ok: true, session: { module: { moduleId: 'm1' } } });
    const policy = policies.find((p) => p.keyName === 'device');
    if (!policy) throw new Error('no device policy');
    const token = createSasToken(`${HOST}/devices/dev`, policy.primaryKey, inAnHour(), 'device');
    expect(authenticateModule(context, 'dev', 'm1', token).ok).toBe(true);
  });

  it('refuses the device key, a device-scoped sr, another module and an unknown module', () => {
    const device = registry.get('dev');
    const refused = (token: string, moduleId = 'm1') => authenticateModule(context, 'dev', moduleId, token);
    expect(refused(createSasToken(moduleResource, device.primaryKey, inAnHour()))).toMatchObject({
      ok: false,
      failure: 'not-authorized',
    });
    expect(refused(createSasToken(`${HOST}/devices/dev`, module.primaryKey, inAnHour())).ok).toBe(false);
    expect(refused(createSasToken(moduleResource, module.primaryKey, inAnHour()), 'm2').ok).toBe(false);
  });
});

describe('connections of devices and modules', () => {
  function setUp() {
    const registry = new DeviceRegistry();
    const device = registry.ensure('dev');
    const modules = new ModuleRegistry();
    const module = modules.put('dev', 'm1', {}).record;
    const connections = new ConnectedDevices(registry, silent, modules);
    const expiry = inAnHour();
    const deviceSession: DeviceSession = { device, expiry };
    const moduleSession: DeviceSession = { device, module, expiry };
    return { registry, modules, connections, deviceSession, moduleSession };
  }

  it('keeps a module connection beside its device connection, and reports each on its own events', () => {
    const { connections, deviceSession, moduleSession } = setUp();
    const events: string[] = [];
    connections.on('connected', (c) => events.push(`connected ${c.deviceId}`));
    connections.on('module-connected', (c) =>
      events.push(`module-connected ${c.deviceId}/${c.moduleId ?? ''}`),
    );
    const device = new FakeConnection('dev');
    const module = new FakeConnection('dev', 'm1');
    expect(connections.attach(device, deviceSession)).toBe(true);
    expect(connections.attach(module, moduleSession)).toBe(true);
    expect(device.closed).toBe(false);
    expect(connections.get('dev')).toBe(device);
    expect(connections.getModule('dev', 'm1')).toBe(module);
    expect(events).toEqual(['connected dev', 'module-connected dev/m1']);
    expect(connections.size).toBe(1);
    expect(connections.identityCount).toBe(2);
    const newer = new FakeConnection('dev', 'm1');
    connections.attach(newer, moduleSession);
    expect(module.closed).toBe(true);
    expect(device.closed).toBe(false);
  });

  it("closes a module's connection when the module is deleted or its device is deleted, not when the device is re-keyed", () => {
    const { registry, connections, deviceSession, moduleSession } = setUp();
    const module = new FakeConnection('dev', 'm1');
    connections.attach(module, moduleSession);
    connections.attach(new FakeConnection('dev'), deviceSession);
    registry.put(
      'dev',
      { authentication: { symmetricKey: { primaryKey: key(1), secondaryKey: key(2) } } },
      '*',
    );
    expect(module.closed).toBe(false);
    registry.delete('dev');
    expect(module.closed).toBe(true);

    const other = setUp();
    const second = new FakeConnection('dev', 'm1');
    other.connections.attach(second, other.moduleSession);
    other.modules.delete('dev', 'm1');
    expect(second.closed).toBe(true);
  });
});

describe('telemetry records of modules', () => {
  it('keep the module id, and read records without one as device messages', () => {
    const message = {
      deviceId: 'dev',
      authGenerationId: 'g',
      body: Buffer.from('{}'),
      systemProperties: {},
      applicationProperties: {},
    };
    const read = (moduleId?: string) => {
      const decoded = decodeRecord(encodeRecord({ ...message, moduleId }, 1, 0), 0);
      if (decoded.kind !== 'record') throw new Error(decoded.kind);
      return decoded.decode();
    };
    expect(read('m1').moduleId).toBe('m1');
    expect(read().moduleId).toBeUndefined();
  });
});

function key(fill: number): string {
  return Buffer.alloc(32, fill).toString('base64');
}
