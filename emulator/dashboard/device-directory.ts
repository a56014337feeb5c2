import type { IotHub } from '../hub/hub';
import type { DeviceRecord } from '../hub/registry';
import type { DevicePage, DeviceRow } from './api-types';
import type { DeviceActivity } from './device-activity';

export interface DeviceQuery {
  /** Part of the device id, any case; empty matches every device. */
  readonly search: string;
  readonly status: 'all' | 'enabled' | 'disabled';
  readonly connection: 'all' | 'connected' | 'disconnected';
  readonly offset: number;
  readonly limit: number;
}

/**
 * The devices list: the registry's devices sorted by id, filtered and paged, each with its live connection (from
 * the hub's connected devices) and its activity. The sorted ids are kept until the registry changes, so a page of
 * 10,000 devices costs one pass over them, not a sort.
 */
export class DeviceDirectory {
  private sorted: { ids: string[]; lower: string[] } | undefined;
  private readonly invalidate = () => {
    this.sorted = undefined;
  };

  constructor(
    private readonly hub: IotHub,
    private readonly activity: DeviceActivity,
  ) {
    hub.registry.on('changed', this.invalidate);
  }

  page(query: DeviceQuery): DevicePage {
    const { ids, lower } = this.sortedIds();
    const search = query.search.toLowerCase();
    const items: DeviceRow[] = [];
    let total = 0;
    for (let i = 0; i < ids.length; i++) {
      if (search !== '' && !(lower[i] ?? '').includes(search)) continue;
      const record = this.hub.registry.find(ids[i] ?? '');
      if (!record || !this.matches(record, query)) continue;
      if (total >= query.offset && items.length < query.limit) items.push(this.row(record));
      total++;
    }
    return { total, offset: query.offset, limit: query.limit, items };
  }

  row(record: DeviceRecord): DeviceRow {
    const connection = this.hub.connections.get(record.deviceId);
    return {
      deviceId: record.deviceId,
      status: record.status,
      connectionState: connection ? 'Connected' : 'Disconnected',
      transport: connection?.transport ?? null,
      lastActivity: this.activity.of(record.deviceId)?.lastActivity ?? null,
      telemetryCount: this.activity.of(record.deviceId)?.telemetryCount ?? 0,
      pendingCloudToDevice: this.hub.cloudToDevice.pendingCount(record.deviceId),
    };
  }

  close(): void {
    this.hub.registry.off('changed', this.invalidate);
  }

  private matches(record: DeviceRecord, query: DeviceQuery): boolean {
    if (query.status !== 'all' && record.status !== query.status) return false;
    if (query.connection === 'all') return true;
    const connected = this.hub.connections.get(record.deviceId) !== undefined;
    return connected === (query.connection === 'connected');
  }

  private sortedIds(): { ids: string[]; lower: string[] } {
    if (!this.sorted) {
      const ids = this.hub.registry
        .records()
        .map((record) => record.deviceId)
        .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      this.sorted = { ids, lower: ids.map((id) => id.toLowerCase()) };
    }
    return this.sorted;
  }
}
