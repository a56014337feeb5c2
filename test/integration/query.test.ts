import type { Client as DeviceClient, Twin as DeviceTwin } from 'azure-iot-device';
import type { Registry } from 'azure-iothub';
import type { RunningEmulator } from 'iothub-emulator';
import { connectDevice, registryClient, startTestEmulator } from '../helpers/emulator';

type Emulator = RunningEmulator & { removeData: () => void };
type Json = Record<string, unknown>;

const DEVICES = Array.from({ length: 30 }, (_, index) => `q-${String(index).padStart(2, '0')}`);

/** Every page of a query through the SDK's Query (next until hasMoreResults is false), and the page sizes. */
async function allPages(
  registry: Registry,
  sql: string,
  pageSize?: number,
): Promise<{ items: Json[]; sizes: number[] }> {
  const query = registry.createQuery(sql, pageSize);
  const items: Json[] = [];
  const sizes: number[] = [];
  while (query.hasMoreResults) {
    // The token is passed on purpose: azure-iothub's promise form of next() without one asks for the first page again.
    const page = (await query.next(query.continuationToken)).result as Json[];
    if (sizes.length > 100) throw new Error('the query never ends');
    sizes.push(page.length);
    items.push(...page);
  }
  return { items, sizes };
}

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

describe('device queries (azure-iothub Registry.createQuery against the emulator)', () => {
  let emulator: Emulator;
  let registry: Registry;
  let device: DeviceClient | undefined;

  beforeAll(async () => {
    emulator = await startTestEmulator({ devices: DEVICES });
    registry = registryClient(emulator);
    // Tags: the first ten in region US, the next ten EU, the rest none; every third device on floor 3.
    for (const [index, deviceId] of DEVICES.entries()) {
      const tags: Json = index % 3 === 0 ? { floor: 3 } : {};
      if (index < 10) tags.region = 'US';
      else if (index < 20) tags.region = 'EU';
      await registry.updateTwin(deviceId, { tags }, '*');
    }
    await registry.updateTwin('q-01', { properties: { desired: { interval: 10 } } }, '*');
    await registry.update({ deviceId: 'q-02', status: 'disabled' });
    device = await connectDevice(emulator, emulator.deviceConnectionString('q-03'));
    await reportProperties(await device.getTwin(), { firmware: { version: '2.0' } });
  });

  afterAll(async () => {
    await device?.close();
    await emulator.stop();
    emulator.removeData();
  });

  it('answers SELECT * with twins the SDK reads as Twin objects (nextAsTwin)', async () => {
    const query = registry.createQuery("SELECT * FROM devices WHERE deviceId = 'q-01'");
    const { result } = await query.nextAsTwin();
    expect(result).toHaveLength(1);
    const twin = result[0];
    expect(twin?.deviceId).toBe('q-01');
    expect(twin?.tags).toEqual({ region: 'US' });
    expect(twin?.properties.desired).toMatchObject({ interval: 10, $version: 2 });
    expect(query.hasMoreResults).toBe(false);
    // The Twin is live: it updates through the registry it came from.
    await expect(twin?.update({ tags: { checked: true } })).resolves.toBeDefined();
    expect((await registry.getTwin('q-01')).responseBody.tags).toMatchObject({ checked: true });
  });

  it('filters on tags, properties, status and connection state, with AND, OR, NOT and IS_DEFINED', async () => {
    const ids = async (where: string) =>
      (await allPages(registry, `SELECT * FROM devices WHERE ${where}`)).items
        .map((twin) => twin.deviceId)
        .sort();
    expect(await ids("tags.region = 'US' AND tags.floor = 3")).toEqual(['q-00', 'q-03', 'q-06', 'q-09']);
    expect(await ids("tags.region = 'EU' OR deviceId = 'q-29'")).toEqual([...DEVICES.slice(10, 20), 'q-29']);
    expect(await ids('NOT IS_DEFINED(tags.region) AND tags.floor >= 3')).toEqual(['q-21', 'q-24', 'q-27']);
    expect(await ids("status = 'disabled'")).toEqual(['q-02']);
    expect(await ids("connectionState = 'Connected'")).toEqual(['q-03']);
    expect(await ids("properties.reported.firmware.version = '2.0'")).toEqual(['q-03']);
    expect(await ids('properties.desired.interval > 5')).toEqual(['q-01']);
    expect(await ids("deviceId IN ['q-05', 'q-06', 'nobody']")).toEqual(['q-05', 'q-06']);
  });

  it('projects properties', async () => {
    const { items } = await allPages(
      registry,
      "SELECT deviceId, tags.region AS region, properties.reported.firmware FROM devices WHERE deviceId IN ['q-03', 'q-25']",
    );
    expect(items.map((item) => ({ ...item }))).toEqual([
      { deviceId: 'q-03', region: 'US', firmware: { version: '2.0' } },
      { deviceId: 'q-25' },
    ]);
  });

  it('counts, and counts per group', async () => {
    const total = await allPages(registry, 'SELECT COUNT() AS numberOfDevices FROM devices');
    expect(total.items).toEqual([{ numberOfDevices: 30 }]);
    const grouped = await allPages(
      registry,
      'SELECT tags.region AS region, COUNT() AS numberOfDevices FROM devices GROUP BY tags.region',
    );
    expect(grouped.items).toEqual(
      expect.arrayContaining([
        { region: 'US', numberOfDevices: 10 },
        { region: 'EU', numberOfDevices: 10 },
        { numberOfDevices: 10 },
      ]),
    );
    expect(grouped.items).toHaveLength(3);
  });

  it('pages with x-ms-max-item-count and x-ms-continuation, every device exactly once', async () => {
    const { items, sizes } = await allPages(registry, 'SELECT * FROM devices', 7);
    expect(sizes).toEqual([7, 7, 7, 7, 2]);
    expect(items.map((twin) => twin.deviceId)).toEqual(DEVICES);
  });

  it.each([
    'SELECT * FROM devices ORDER BY deviceId',
    'SELECT * FROM devices WHERE',
    "SELECT * FROM devices WHERE STARTSWITH(deviceId, 'q')",
    'SELECT * FROM sensors',
    'SELECT deviceId FROM devices GROUP BY deviceId',
  ])('answers unsupported syntax with IoT Hub 400: %s', async (sql) => {
    const error = (await registry
      .createQuery(sql)
      .next()
      .catch((caught: unknown) => caught)) as {
      name?: string;
      responseBody?: string;
    };
    expect(error.name).toBe('ArgumentError');
    expect(error.responseBody).toContain('ErrorCode:BadRequest;');
    expect(error.responseBody).toContain("The server didn't understand your query");
  });

  it('refuses a continuation token that is not one it gave, and a page size out of range', async () => {
    const query = registry.createQuery('SELECT * FROM devices', 5);
    await expect(query.next('forged-token')).rejects.toMatchObject({ name: 'ArgumentError' });
    await expect(registry.createQuery('SELECT * FROM devices', 5000).next()).rejects.toMatchObject({
      name: 'ArgumentError',
    });
  });
});
