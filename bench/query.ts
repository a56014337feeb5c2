import { join } from 'node:path';
import type { Registry } from 'azure-iothub';
import { startEmulator } from 'iothub-emulator';
import { createIotHubRegistry } from '../src/lib/iothub-client';
import { readIotHubSettings } from '../src/lib/settings';
import { formatMs, summarize } from './stats';

/**
 * Query time over N devices (default 10,000): each query runs `rounds` times through azure-iothub's
 * Registry.createQuery against the emulator, every page read (x-ms-max-item-count 1000), and the wall time of the
 * whole query (all pages) is summarised. Devices are created with bulk registry calls (100 per request); one in ten
 * gets a tag, so that the filtered queries select 10 %.
 * Usage: node dist/bench/query.js [devices=10000] [rounds=10]
 */
async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? '10000');
  const rounds = Number(process.argv[3] ?? '10');
  const emulator = await startEmulator({
    mqttPort: 0,
    httpsPort: 0,
    dataDir: join('.iothub-emulator', 'bench-query'),
    reset: true,
  });
  try {
    const registry = createIotHubRegistry(
      readIotHubSettings({
        IOTHUB_SERVICE_CONNECTION_STRING: emulator.info.serviceConnectionString,
        IOTHUB_EMULATOR_CA_CERT: emulator.info.caPath,
      }),
    );
    const ids = Array.from({ length: count }, (_, index) => `bench-q-${String(index).padStart(6, '0')}`);
    const createStart = performance.now();
    for (let start = 0; start < ids.length; start += 100) {
      await registry.addDevices(ids.slice(start, start + 100).map((deviceId) => ({ deviceId })));
    }
    console.log(
      `created ${count} devices in ${formatMs(performance.now() - createStart)} (bulk, 100 a request)`,
    );
    for (let index = 0; index < ids.length; index += 10) {
      await registry.updateTwin(ids[index] ?? '', { tags: { site: index % 20 === 0 ? 'a' : 'b' } }, '*');
    }
    const queries = [
      'SELECT * FROM devices',
      "SELECT * FROM devices WHERE tags.site = 'a' OR tags.site = 'b'",
      "SELECT deviceId FROM devices WHERE status = 'enabled' AND NOT IS_DEFINED(tags.site)",
      'SELECT tags.site AS site, COUNT() AS n FROM devices GROUP BY tags.site',
    ];
    console.log(`query time over ${count} devices, ${rounds} rounds each, all pages (1000 per page):`);
    for (const sql of queries) {
      const samples: number[] = [];
      let items = 0;
      for (let round = 0; round < rounds; round++) {
        const started = performance.now();
        items = await readAll(registry, sql);
        samples.push(performance.now() - started);
      }
      const { median, p99, min } = summarize(samples);
      console.log(
        `  ${sql}\n    ${items} results: median ${formatMs(median)}, p99 ${formatMs(p99)}, min ${formatMs(min)}`,
      );
    }
  } finally {
    await emulator.stop();
  }
}

async function readAll(registry: Registry, sql: string): Promise<number> {
  const query = registry.createQuery(sql, 1000);
  let items = 0;
  while (query.hasMoreResults) {
    // azure-iothub's promise form of next() needs the token passed, or it asks for the first page again.
    const page = (await query.next(query.continuationToken)).result as unknown[];
    items += page.length;
  }
  return items;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
