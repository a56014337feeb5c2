import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DashboardAssets } from '../../../dashboard/assets';
import { Dashboard } from '../../../dashboard/dashboard';
import { IotHub } from '../../../hub/hub';

/*
 * The dashboard's HTTP API in process, on a real hub core (registry, twins, C2D queues, telemetry log in a
 * temporary folder) with no transport: what the API refuses, and what it changes in the hub.
 */

const silent = { info: () => undefined, warn: () => undefined };

let dir: string;
let hub: IotHub;
let dashboard: Dashboard;
let token: string;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dashboard-api-'));
  const assetsDir = join(dir, 'assets');
  mkdirSync(assetsDir);
  writeFileSync(join(assetsDir, 'app.js'), 'console.log("app")');
  writeFileSync(join(assetsDir, 'app.css'), 'body{}');
  hub = await IotHub.open({
    hubName: 'test-hub',
    dataDir: dir,
    devices: ['dev-1'],
    partitionCount: 2,
    consumerGroups: ['functions'],
    retentionHours: 1,
    maxPartitionMiB: 16,
    fsync: false,
    log: silent,
  });
  dashboard = await Dashboard.start({
    hub,
    port: 0,
    log: silent,
    connectionString: (deviceId, key) => {
      const record = hub.registry.get(deviceId);
      return `HostName=${hub.hostName};DeviceId=${deviceId};SharedAccessKey=${key === 'primary' ? record.primaryKey : record.secondaryKey}`;
    },
    assets: DashboardAssets.load(assetsDir),
  });
  token = new URL(dashboard.url).searchParams.get('token') ?? '';
});

afterEach(async () => {
  await dashboard.close();
  await hub.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
  json(): unknown;
}

/** A request with full control of its headers (Host and Origin included), as a hostile page or program sends. */
function send(
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string; auth?: boolean } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {
    host: `127.0.0.1:${dashboard.port}`,
    ...(options.auth === false ? {} : { authorization: `Bearer ${token}` }),
    ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
    ...options.headers,
  };
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      { host: '127.0.0.1', port: dashboard.port, method, path, headers },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            text,
            json: () => JSON.parse(text) as unknown,
          });
        });
      },
    );
    request.on('error', reject);
    request.end(options.body);
  });
}

const post = (path: string, body: unknown) => send('POST', path, { body: JSON.stringify(body) });

describe('who may use the dashboard', () => {
  test('the API needs the token in the Authorization header', async () => {
    expect((await send('GET', '/api/devices', { auth: false })).status).toBe(401);
    const wrong = await send('GET', '/api/devices', { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    expect(wrong.json()).toMatchObject({ error: { code: 'TokenRequired' } });
    // In the URL it does not count, except for the stream (EventSource cannot send headers).
    expect((await send('GET', `/api/devices?token=${token}`, { auth: false })).status).toBe(401);
    expect((await send('GET', '/api/devices')).status).toBe(200);
  });

  test('a rebinding host name, another site and a cross-site fetch are refused, token or not', async () => {
    const rebinding = await send('GET', '/api/devices', {
      headers: { host: `evil.example:${dashboard.port}` },
    });
    expect(rebinding.status).toBe(403);
    expect(rebinding.json()).toMatchObject({ error: { code: 'ForeignHost' } });
    const csrf = await send('POST', '/api/devices', {
      body: JSON.stringify({ deviceId: 'by-evil' }),
      headers: { origin: 'http://evil.example' },
    });
    expect(csrf.status).toBe(403);
    expect(csrf.json()).toMatchObject({ error: { code: 'ForeignOrigin' } });
    expect(hub.registry.find('by-evil')).toBeUndefined();
    const crossSite = await send('GET', '/api/devices', { headers: { 'sec-fetch-site': 'cross-site' } });
    expect(crossSite.status).toBe(403);
    // The page itself and its assets are under the same site checks.
    expect((await send('GET', `/?token=${token}`, { headers: { host: 'evil.example' } })).status).toBe(403);
    expect((await send('GET', '/assets/app.js', { headers: { host: 'evil.example' } })).status).toBe(403);
  });

  test('its own origin is welcome', async () => {
    const answer = await send('GET', '/api/devices', {
      headers: { origin: `http://localhost:${dashboard.port}`, host: `localhost:${dashboard.port}` },
    });
    expect(answer.status).toBe(200);
  });

  test('the page needs the token; without it, it says where the token is', async () => {
    const without = await send('GET', '/', { auth: false });
    expect(without.status).toBe(401);
    expect(without.text).toContain('Open the dashboard with its token');
    expect(without.text).not.toContain('app.js');
    const page = await send('GET', `/?token=${token}`, { auth: false });
    expect(page.status).toBe(200);
    expect(page.text).toContain('<script src="/assets/app.js" defer></script>');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect(page.headers['x-frame-options']).toBe('DENY');
  });

  test('static files need no token, and are revalidated by ETag', async () => {
    const first = await send('GET', '/assets/app.js', { auth: false });
    expect(first.status).toBe(200);
    expect(first.headers['content-type']).toBe('text/javascript; charset=utf-8');
    const etag = String(first.headers.etag);
    const again = await send('GET', '/assets/app.js', { auth: false, headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect((await send('GET', '/assets/other.js', { auth: false })).status).toBe(404);
    expect((await send('GET', '/assets/../state.json', { auth: false })).status).toBe(404);
  });

  test('the stream takes the token in its URL only', async () => {
    expect((await send('GET', '/api/stream')).status).toBe(401);
    const stream = await openStream('stats=true');
    expect(stream.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    await stream.next((text) => text.includes('event: stats'));
    stream.close();
  });
});

describe('what the API refuses, as the REST API would', () => {
  test.each([
    ['a body that is not JSON', '{"deviceId":', 400, 'InvalidJson', 'body'],
    ['a body that is not an object', '[1]', 400, 'InvalidBody', 'body'],
    ['an unknown field', '{"deviceId":"x","colour":"red"}', 400, 'UnknownField', 'colour'],
    ['a device id of the wrong type', '{"deviceId":5}', 400, 'InvalidDeviceId', 'deviceId'],
    ['a status that is not one', '{"deviceId":"x","status":"paused"}', 400, 'InvalidValue', 'status'],
  ])('refuses %s', async (_what, body, status, code, target) => {
    const answer = await send('POST', '/api/devices', { body });
    expect(answer.status).toBe(status);
    expect(answer.json()).toEqual({ error: { code, message: expect.any(String) as string, target } });
  });

  test("refuses an id IoT Hub would refuse, and one that is taken, with the hub's errors", async () => {
    const invalid = await post('/api/devices', { deviceId: 'bad id/' });
    expect(invalid.status).toBe(400);
    expect(invalid.json()).toMatchObject({ error: { code: 'ArgumentInvalid' } });
    const taken = await post('/api/devices', { deviceId: 'dev-1' });
    expect(taken.status).toBe(409);
    expect(taken.json()).toMatchObject({ error: { code: 'DeviceAlreadyExists' } });
  });

  test('refuses a body that is not JSON by its content type, and a body too large before reading it', async () => {
    const form = await send('POST', '/api/devices', {
      body: 'deviceId=x',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(form.status).toBe(415);
    const large = await send('POST', '/api/devices', { body: `{"deviceId":"${'x'.repeat(1024 * 1024)}"}` });
    expect(large.status).toBe(413);
  });

  test('names unknown routes, devices and query parameters', async () => {
    expect((await send('GET', '/api/nothing')).status).toBe(404);
    expect((await send('PUT', '/api/devices/dev-1')).status).toBe(405);
    const unknown = await send('GET', '/api/devices/nobody');
    expect(unknown.status).toBe(404);
    expect(unknown.json()).toMatchObject({ error: { code: 'DeviceNotFound' } });
    expect((await send('GET', '/api/devices?limit=0')).json()).toMatchObject({ error: { target: 'limit' } });
    expect((await send('GET', '/api/devices?sort=id')).json()).toMatchObject({
      error: { code: 'UnknownField', target: 'sort' },
    });
    expect((await send('GET', '/api/stream?token=' + token + '&kinds=gossip')).status).toBe(400);
  });

  test('checks direct-method calls with the shared rules, and the device with the hub', async () => {
    const badName = await post('/api/devices/dev-1/methods', { methodName: 'a/b' });
    expect(badName.status).toBe(400);
    expect(badName.json()).toMatchObject({ error: { code: 'InvalidMethodName', target: 'methodName' } });
    const badTimeout = await post('/api/devices/dev-1/methods', {
      methodName: 'm',
      responseTimeoutInSeconds: 1,
    });
    expect(badTimeout.json()).toMatchObject({ error: { target: 'responseTimeoutInSeconds' } });
    const offline = await post('/api/devices/dev-1/methods', { methodName: 'm' });
    expect(offline.status).toBe(404);
    expect(offline.json()).toMatchObject({ error: { code: 'DeviceNotOnline' } });
    hub.registry.put('dev-1', { status: 'disabled' }, '*');
    const disabled = await post('/api/devices/dev-1/methods', { methodName: 'm' });
    expect(disabled.json()).toMatchObject({ error: { code: 'DeviceNotFound' } });
  });

  test("checks cloud-to-device messages with the function's rules, and queues a good one in the hub", async () => {
    const empty = await post('/api/devices/dev-1/messages', {});
    expect(empty.json()).toMatchObject({ error: { code: 'MissingPayload', target: 'payload' } });
    const reserved = await post('/api/devices/dev-1/messages', {
      payload: 1,
      properties: { 'iothub-ack': 'full' },
    });
    expect(reserved.json()).toMatchObject({ error: { code: 'InvalidPropertyName' } });
    const large = await post('/api/devices/dev-1/messages', { body: 'x'.repeat(70 * 1024) });
    expect(large.status).toBe(413);
    const sent = await post('/api/devices/dev-1/messages', { payload: { command: 'blink' }, ack: 'full' });
    expect(sent.status).toBe(202);
    const { messageId } = sent.json() as { messageId: string };
    expect(hub.cloudToDevice.pendingCount('dev-1')).toBe(1);
    const events = (await send('GET', '/api/devices/dev-1/events')).json() as { items: { kind: string }[] };
    expect(events.items.map((event) => event.kind)).toContain('c2d-sent');
    expect(JSON.stringify(events)).toContain(messageId);
  });

  test('changes desired properties with the twin rules and the etag', async () => {
    const missing = await send('PATCH', '/api/devices/dev-1/twin', { body: '{}' });
    expect(missing.json()).toMatchObject({ error: { code: 'MissingField' } });
    const invalid = await send('PATCH', '/api/devices/dev-1/twin', { body: '{"desired": {"a.b": 1}}' });
    expect(invalid.status).toBe(400);
    const changed = await send('PATCH', '/api/devices/dev-1/twin', { body: '{"desired": {"interval": 5}}' });
    expect(changed.status).toBe(200);
    const twin = changed.json() as { etag: string; properties: { desired: Record<string, unknown> } };
    expect(twin.properties.desired).toMatchObject({ interval: 5, $version: 2 });
    expect(hub.twins.read('dev-1').properties.desired).toMatchObject({ interval: 5 });
    const stale = await send('PATCH', '/api/devices/dev-1/twin', {
      body: JSON.stringify({ desired: { interval: 6 }, etag: 'AAAAAAAAAAE=' }),
    });
    expect(stale.status).toBe(412);
  });
});

describe('what the API does to the hub', () => {
  test('creates, disables, re-keys and deletes devices in the registry', async () => {
    expect((await post('/api/devices', { deviceId: 'dev-2' })).status).toBe(201);
    expect(hub.registry.find('dev-2')?.status).toBe('enabled');
    const disabled = await send('PATCH', '/api/devices/dev-2', { body: '{"status":"disabled"}' });
    expect(disabled.json()).toMatchObject({ deviceId: 'dev-2', status: 'disabled' });
    expect(hub.registry.find('dev-2')?.status).toBe('disabled');
    const before = hub.registry.get('dev-2');
    await post('/api/devices/dev-2/keys', { key: 'secondary' });
    const after = hub.registry.get('dev-2');
    expect(after.primaryKey).toBe(before.primaryKey);
    expect(after.secondaryKey).not.toBe(before.secondaryKey);
    expect((await send('DELETE', '/api/devices/dev-2')).status).toBe(204);
    expect(hub.registry.find('dev-2')).toBeUndefined();
  });

  test('refuses to re-key an X.509 device (it would become a SAS device), and leaves it as it was', async () => {
    hub.registry.put('x509-dev', {
      authentication: { type: 'selfSigned', x509Thumbprint: { primaryThumbprint: 'AB'.repeat(20) } },
    });
    const refused = await post('/api/devices/x509-dev/keys', { key: 'primary' });
    expect(refused.status).toBe(400);
    expect(refused.json()).toMatchObject({ error: { code: 'NoKeys' } });
    expect(hub.registry.get('x509-dev').authType).toBe('selfSigned');
    hub.registry.delete('x509-dev');
  });

  test('shows a key only when asked', async () => {
    const key = hub.registry.get('dev-1').primaryKey;
    const detail = await send('GET', '/api/devices/dev-1');
    expect(detail.text).not.toContain(key);
    expect(detail.json()).toMatchObject({
      maskedConnectionString: expect.stringContaining('SharedAccessKey=•') as string,
    });
    const list = await send('GET', '/api/devices');
    expect(list.text).not.toContain(key);
    const asked = await post('/api/devices/dev-1/connection-string', {});
    expect(asked.json()).toEqual({
      connectionString: expect.stringContaining(`SharedAccessKey=${key}`) as string,
    });
    expect(asked.headers['cache-control']).toBe('no-store');
    const secondary = await post('/api/devices/dev-1/connection-string', { key: 'secondary' });
    expect(secondary.text).toContain(hub.registry.get('dev-1').secondaryKey);
  });

  test('searches and pages the devices on the server', async () => {
    await hub.ensureDevices(Array.from({ length: 120 }, (_, i) => `room-${String(i).padStart(3, '0')}`));
    const page = (await send('GET', '/api/devices?search=ROOM-1&offset=10&limit=5')).json() as {
      total: number;
      items: { deviceId: string }[];
    };
    expect(page.total).toBe(20);
    expect(page.items.map((item) => item.deviceId)).toEqual([
      'room-110',
      'room-111',
      'room-112',
      'room-113',
      'room-114',
    ]);
    const all = (await send('GET', '/api/devices?limit=200')).json() as { total: number; items: unknown[] };
    expect(all.total).toBe(121);
    expect(all.items).toHaveLength(121);
    const disconnected = (await send('GET', '/api/devices?connection=connected')).json() as { total: number };
    expect(disconnected.total).toBe(0);
  });

  test('streams registry changes to an open page', async () => {
    const stream = await openStream('kinds=device-created');
    await post('/api/devices', { deviceId: 'streamed-1' });
    const text = await stream.next((received) => received.includes('streamed-1'));
    expect(text).toMatch(
      /event: hub-event\ndata: \{[^\n]*"kind":"device-created"[^\n]*"deviceId":"streamed-1"/,
    );
    stream.close();
  });
});

/** An SSE stream read as text, until a condition on what arrived holds. */
async function openStream(query: string): Promise<{
  headers: IncomingHttpHeaders;
  next(condition: (text: string) => boolean): Promise<string>;
  close(): void;
}> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({
      host: '127.0.0.1',
      port: dashboard.port,
      path: `/api/stream?token=${token}&${query}`,
      headers: { host: `127.0.0.1:${dashboard.port}` },
    });
    request.on('error', reject);
    request.on('response', (response) => {
      let text = '';
      const waiters = new Set<() => void>();
      response.on('data', (chunk: Buffer) => {
        text += chunk.toString('utf8');
        for (const waiter of waiters) waiter();
      });
      resolve({
        headers: response.headers,
        next: (condition) =>
          new Promise((done) => {
            const check = () => {
              if (!condition(text)) return;
              waiters.delete(check);
              done(text);
            };
            waiters.add(check);
            check();
          }),
        close: () => request.destroy(),
      });
    });
    request.end();
  });
}
