import type { DeviceRecord, DeviceRegistry } from '../hub/registry';

export type RegistryChange =
  'device-created' | 'device-deleted' | 'device-enabled' | 'device-disabled' | 'device-keys-changed';

/** How long registry changes are gathered before they are compared: a burst of creations is one comparison. */
const SETTLE_MS = 100;

/**
 * Turns the registry's bare `changed` signal into what changed, per device, by comparing its records with the
 * ones seen last (the registry replaces a record on every write, so an unchanged device is the same object).
 * Whoever changed the registry (the service API, the dashboard, a start with --device), the dashboard hears it.
 */
export class RegistryWatch {
  private seen: Map<string, DeviceRecord>;
  private timer: NodeJS.Timeout | undefined;
  private readonly onChanged = () => {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.compare();
    }, SETTLE_MS);
  };

  constructor(
    private readonly registry: DeviceRegistry,
    private readonly report: (deviceId: string, change: RegistryChange) => void,
  ) {
    this.seen = this.snapshot();
    registry.on('changed', this.onChanged);
  }

  /** Compares now instead of after the settling delay. */
  compare(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const current = this.snapshot();
    for (const [deviceId, record] of current) {
      const before = this.seen.get(deviceId);
      if (!before) {
        this.report(deviceId, 'device-created');
        continue;
      }
      if (before === record) continue;
      if (before.status !== record.status) {
        this.report(deviceId, record.status === 'enabled' ? 'device-enabled' : 'device-disabled');
      }
      if (before.primaryKey !== record.primaryKey || before.secondaryKey !== record.secondaryKey) {
        this.report(deviceId, 'device-keys-changed');
      }
    }
    for (const deviceId of this.seen.keys()) {
      if (!current.has(deviceId)) this.report(deviceId, 'device-deleted');
    }
    this.seen = current;
  }

  close(): void {
    clearTimeout(this.timer);
    this.registry.off('changed', this.onChanged);
  }

  private snapshot(): Map<string, DeviceRecord> {
    return new Map(this.registry.records().map((record) => [record.deviceId, record]));
  }
}
