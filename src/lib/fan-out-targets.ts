import type { Registry } from 'azure-iothub';
import { devicesQuery } from './fan-out-conditions';

/** Page size for resolving a condition: IoT Hub's largest. */
const PAGE_SIZE = 1000;

/** The devices a condition selects, read up to a bound. */
export interface ResolvedDevices {
  readonly deviceIds: readonly string[];
  /** True when the condition selects more than `limit` devices (deviceIds then stops at limit + 1). */
  readonly overLimit: boolean;
}

/**
 * Resolves a query condition to device ids with Registry.createQuery, page by page, stopping as soon as it knows
 * the set is over `limit`: a condition over the whole fleet costs a page or two, not the fleet.
 */
export async function resolveCondition(
  registry: Registry,
  condition: string,
  limit: number,
): Promise<ResolvedDevices> {
  const query = registry.createQuery(devicesQuery(condition), Math.min(PAGE_SIZE, limit + 1));
  const deviceIds: string[] = [];
  while (query.hasMoreResults && deviceIds.length <= limit) {
    // Without the continuation token the SDK asks for the first page again, for ever.
    const page: unknown = (await query.next(query.continuationToken)).result;
    for (const row of Array.isArray(page) ? (page as unknown[]) : []) {
      const deviceId = (row as { deviceId?: unknown } | null)?.deviceId;
      if (typeof deviceId === 'string') deviceIds.push(deviceId);
    }
  }
  return { deviceIds: deviceIds.slice(0, limit + 1), overLimit: deviceIds.length > limit };
}
