import { RegistryWatch, type RegistryChange } from '../../../dashboard/registry-watch';
import { generateKey } from '../../../hub/keys';
import { DeviceRegistry } from '../../../hub/registry';

describe('RegistryWatch', () => {
  let registry: DeviceRegistry;
  let changes: [string, RegistryChange][];
  let watch: RegistryWatch;

  beforeEach(() => {
    registry = new DeviceRegistry();
    registry.ensure('existing');
    changes = [];
    watch = new RegistryWatch(registry, (deviceId, change) => changes.push([deviceId, change]));
  });

  afterEach(() => {
    watch.close();
  });

  test('reports what changed, device by device, whoever changed it', () => {
    registry.ensure('new-1');
    registry.put('existing', { status: 'disabled' }, '*');
    watch.compare();
    expect(changes).toEqual([
      ['existing', 'device-disabled'],
      ['new-1', 'device-created'],
    ]);
    changes = [];
    registry.put('existing', { status: 'enabled' }, '*');
    registry.put(
      'new-1',
      { authentication: { symmetricKey: { primaryKey: generateKey(), secondaryKey: generateKey() } } },
      '*',
    );
    registry.delete('existing');
    watch.compare();
    expect(changes).toEqual([
      ['new-1', 'device-keys-changed'],
      ['existing', 'device-deleted'],
    ]);
  });

  test('reports nothing when nothing changed', () => {
    watch.compare();
    expect(changes).toEqual([]);
  });

  test('compares on its own shortly after a change', async () => {
    const reported = new Promise<void>((resolve) => {
      watch.close();
      watch = new RegistryWatch(registry, (deviceId, change) => {
        changes.push([deviceId, change]);
        resolve();
      });
    });
    registry.ensure('later');
    await reported;
    expect(changes).toEqual([['later', 'device-created']]);
  });
});
