import { HubError } from '../../../hub/errors';
import { DeviceRegistry } from '../../../hub/registry';
import { thrownBy } from '../../../../devkit/thrown-by';

const hubError = (action: () => unknown) => thrownBy(HubError, action);

describe('DeviceRegistry', () => {
  it('creates devices with fresh keys and a stable generation id', () => {
    const registry = new DeviceRegistry();
    const { record, created } = registry.put('dev1', {});
    expect(created).toBe(true);
    expect(record.primaryKey).not.toBe(record.secondaryKey);
    const updated = registry.put('dev1', { status: 'disabled' }, '*').record;
    expect(updated.generationId).toBe(record.generationId);
    expect(updated.primaryKey).toBe(record.primaryKey);
    expect(registry.describe(updated).etag).not.toBe(registry.describe(record).etag);
  });

  it('announces revocation when a device is disabled, re-keyed or deleted', () => {
    const registry = new DeviceRegistry();
    const revoked: string[] = [];
    registry.on('revoked', (id) => revoked.push(id));
    registry.put('a', {});
    registry.put('a', { status: 'enabled' }, '*');
    expect(revoked).toEqual([]);
    registry.put('a', { status: 'disabled' }, '*');
    registry.delete('a');
    expect(revoked).toEqual(['a', 'a']);
  });

  it('answers with IoT Hub error codes', () => {
    const registry = new DeviceRegistry();
    registry.put('a', {});
    expect(hubError(() => registry.put('a', {}))).toMatchObject({ httpStatus: 409, errorCode: 409001 });
    expect(hubError(() => registry.put('a', {}, '"stale"'))).toMatchObject({
      httpStatus: 412,
      errorCode: 412001,
    });
    expect(hubError(() => registry.get('missing'))).toMatchObject({ httpStatus: 404, errorCode: 404001 });
    expect(hubError(() => registry.put('bad id', {}))).toMatchObject({ httpStatus: 400, errorCode: 400004 });
    expect(hubError(() => registry.put('b', { status: 'paused' }))).toMatchObject({ httpStatus: 400 });
    expect(hubError(() => registry.put('c', { authentication: { type: 'selfSigned' } }))).toMatchObject({
      httpStatus: 400,
    });
    expect(
      hubError(() =>
        registry.put('d', {
          authentication: { symmetricKey: { primaryKey: Buffer.alloc(32).toString('base64') } },
        }),
      ),
    ).toMatchObject({
      httpStatus: 400,
    });
  });
});
