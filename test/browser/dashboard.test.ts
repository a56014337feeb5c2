import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Client as DeviceClient } from 'azure-iot-device';
import { Mqtt } from 'azure-iot-device-mqtt';
import type { Browser, Page } from 'playwright-core';
import type { ReceivedCloudToDeviceMessage } from '../../device-sim/c2d-messages';
import { SimulatedDevice } from '../../device-sim/simulated-device';
import { startTestEmulator } from '../helpers/emulator';
import { collectPageErrors, LAPTOP_VIEWPORT, launchChromium, type InPage } from './helpers/chromium';
import { TwinEchoDevice } from './helpers/twin-echo-device';

/*
 * The dashboard in headless Chromium against the real emulator process, with real devices on the official SDK:
 * sim-device-01 is the project's simulated device (telemetry every second, SetTelemetryInterval, C2D), and
 * twin-device-01 reports back every desired property. The tests write the screenshots under docs/images/.
 */

const SCREENSHOTS = join(__dirname, '..', '..', 'docs', 'images');
const SIM = 'sim-device-01';
const TWIN = 'twin-device-01';
const TIMEOUT = 90_000;

let emulator: Awaited<ReturnType<typeof startTestEmulator>>;
let browser: Browser;
let page: Page;
let pageErrors: string[];
let simulated: SimulatedDevice;
let twinDevice: TwinEchoDevice;
let ca: string;

beforeAll(async () => {
  emulator = await startTestEmulator({ dashboard: true, dashboardPort: 0, devices: [SIM, TWIN] });
  ca = readFileSync(emulator.info.caPath, 'utf8');
  simulated = new SimulatedDevice({
    connectionString: emulator.deviceConnectionString(SIM),
    ca,
    intervalSeconds: 1,
    log: () => undefined,
  });
  await simulated.start();
  twinDevice = await TwinEchoDevice.connect(emulator.deviceConnectionString(TWIN), ca);
  browser = await launchChromium();
  const context = await browser.newContext({
    viewport: LAPTOP_VIEWPORT,
    permissions: ['clipboard-read', 'clipboard-write'],
  });
  page = await context.newPage();
  pageErrors = collectPageErrors(page);
}, TIMEOUT);

afterAll(async () => {
  await browser.close();
  await simulated.stop();
  await twinDevice.close();
  await emulator.stop();
  emulator.removeData();
});

afterEach(() => {
  // An exception in the page fails the test that caused it, even when the page looked right.
  expect(pageErrors).toEqual([]);
});

function dashboardUrl(hash: string): string {
  const url = emulator.info.dashboardUrl;
  if (url === undefined) throw new Error('The emulator started without its dashboard.');
  return `${url}${hash}`;
}

async function open(hash: string): Promise<void> {
  await page.goto(dashboardUrl(hash));
}

test(
  'the devices page shows sim-device-01 connected over MQTT',
  async () => {
    await open('#/devices');
    const row = page.locator(`tr[data-device="${SIM}"]`);
    await row.locator('[data-cell="connection"]', { hasText: 'Connected' }).waitFor();
    await expect(row.locator('td').nth(2).textContent()).resolves.toBe('MQTT');
    await expect(page.locator('.pager-text').textContent()).resolves.toBe('Devices 1–2 of 2');
    await page.screenshot({ path: join(SCREENSHOTS, 'dashboard-devices.png') });
  },
  TIMEOUT,
);

test(
  'the hub page counts the connected devices and charts the incoming telemetry',
  async () => {
    await open('#/');
    await page.locator('[data-figure="connected"] .figure-value', { hasText: '2 / 2' }).waitFor();
    // The rate is a ten-second mean: it turns non-zero once the device's messages land in a completed second.
    await page.waitForFunction(() => {
      const text =
        (globalThis as unknown as InPage).document.querySelector('[data-figure="telemetry-in"] .figure-value')
          ?.textContent ?? '';
      return Number.parseFloat(text) > 0;
    });
    const points = await page.locator('[data-chart="traffic"]').getAttribute('data-points');
    expect(Number(points)).toBeGreaterThan(0);
    await expect(page.locator('table.data').first().locator('tbody tr').count()).resolves.toBe(4);
    await page.screenshot({ path: join(SCREENSHOTS, 'dashboard-hub.png') });
  },
  TIMEOUT,
);

test(
  "the device page's telemetry chart gains points as messages arrive",
  async () => {
    await open(`#/devices/${SIM}`);
    const chart = page.locator('[data-chart="telemetry"]');
    await chart.waitFor();
    const before = Number(await chart.getAttribute('data-points'));
    await page.waitForFunction(
      (count) =>
        Number(
          (globalThis as unknown as InPage).document
            .querySelector('[data-chart="telemetry"]')
            ?.getAttribute('data-points'),
        ) >= count,
      before + 2,
    );
    // The simulated device sends temperature and humidity: both are series of the chart.
    const legend = await page.locator('[data-chart="telemetry"] .u-legend').textContent();
    expect(legend).toContain('temperature');
    expect(legend).toContain('humidity');
  },
  TIMEOUT,
);

test(
  'invoking SetTelemetryInterval answers 200 and the device slows down',
  async () => {
    await open(`#/devices/${SIM}`);
    const form = page.getByRole('form', { name: 'Invoke a direct method' });
    await form.getByLabel('Method name').fill('SetTelemetryInterval');
    await form.getByLabel('Payload (JSON)').fill('3');
    const changed = once(simulated, 'interval-changed') as Promise<[number]>;
    await form.getByRole('button', { name: 'Invoke' }).click();
    await form.locator('[data-status="200"]').waitFor();
    await expect(form.locator('pre.json').textContent()).resolves.toContain('"interval": 3');
    await expect(changed).resolves.toEqual([3]);
    expect(simulated.intervalSeconds).toBe(3);
    // The page shows the new pace: its three newest messages are about three seconds apart.
    await page.waitForFunction(
      () => {
        const times = Array.from(
          (globalThis as unknown as InPage).document.querySelectorAll('table.telemetry tbody tr td.time'),
        )
          .slice(0, 3)
          .map((cell) => {
            const [h = '0', m = '0', s = '0'] = (cell.textContent ?? '').split(':');
            return (Number(h) * 3600 + Number(m) * 60 + Number(s)) * 1000;
          });
        const [newest = 0, middle = 0, oldest = 0] = times;
        return times.length === 3 && newest - middle >= 2500 && middle - oldest >= 2500;
      },
      undefined,
      { timeout: 30_000 },
    );
    await page.screenshot({ path: join(SCREENSHOTS, 'dashboard-device.png'), fullPage: true });
  },
  TIMEOUT,
);

test(
  'a desired property set on the page is reported back by the device',
  async () => {
    await open(`#/devices/${TWIN}`);
    const form = page.getByRole('form', { name: 'Change desired properties' });
    await form.getByLabel(/Desired properties patch/).fill('{"targetTemperature": 21.5}');
    await form.getByRole('button', { name: 'Update desired properties' }).click();
    await form.locator('[data-result="twin"]', { hasText: 'Desired properties now at version' }).waitFor();
    await page.locator('[data-twin="desired"]', { hasText: '"targetTemperature": 21.5' }).waitFor();
    await page.locator('[data-twin="reported"]', { hasText: '"targetTemperature": 21.5' }).waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'dashboard-twin.png'), fullPage: true });
  },
  TIMEOUT,
);

test(
  'a cloud-to-device message sent from the page reaches the device, and its outcome shows',
  async () => {
    await open(`#/devices/${SIM}`);
    const form = page.getByRole('form', { name: 'Send a cloud-to-device message' });
    await form.getByLabel('Message body').fill('{"command": "blink", "times": 2}');
    const received = once(simulated, 'c2d-message');
    await form.getByRole('button', { name: 'Send message' }).click();
    const [message] = (await received) as [ReceivedCloudToDeviceMessage];
    expect(JSON.parse(message.text)).toEqual({ command: 'blink', times: 2 });
    expect(message.contentType).toBe('application/json');
    await form.locator('[data-outcome="Success"]').waitFor();
    await page.locator('table.events tr[data-kind="c2d-settled"]').first().waitFor();
  },
  TIMEOUT,
);

test(
  'a device is created, searched, disabled, re-keyed, copied and deleted from the list, with the keyboard',
  async () => {
    await open('#/devices');
    await page.locator(`tr[data-device="${SIM}"]`).waitFor();
    // Create: type the id, press Enter.
    await page.getByLabel('New device id').fill('kbd-device-01');
    await page.getByLabel('New device id').press('Enter');
    await page.locator('tr[data-device="kbd-device-01"]').waitFor();
    // "/" jumps to the search field; the list is filtered on the server.
    await page.locator('h1').click();
    await page.keyboard.press('/');
    await expect(
      page.evaluate(() => (globalThis as unknown as InPage).document.activeElement?.getAttribute('type')),
    ).resolves.toBe('search');
    await page.keyboard.type('kbd-');
    await page.locator('.pager-text', { hasText: 'Devices 1–1 of 1' }).waitFor();
    const row = page.locator('tr[data-device="kbd-device-01"]');

    // Each action from the row's menu, opened and chosen with the keyboard.
    const choose = async (action: string) => {
      await row.getByText('Actions').press('Enter');
      await row.getByRole('button', { name: action }).press('Enter');
    };
    await choose('Disable');
    await row.locator('.badge.disabled').waitFor();
    expect(await registryStatus('kbd-device-01')).toBe('disabled');

    const keyBefore = await primaryKeyOf('kbd-device-01');
    page.once('dialog', (dialog) => void dialog.accept());
    await choose('Regenerate primary key');
    await page.locator('[aria-live="polite"]', { hasText: 'New primary key for kbd-device-01.' }).waitFor();
    const keyAfter = await primaryKeyOf('kbd-device-01');
    expect(keyAfter).not.toBe(keyBefore);

    await choose('Copy connection string');
    await page.locator('[aria-live="polite"]', { hasText: 'copied to the clipboard' }).waitFor();
    const copied = await page.evaluate(() =>
      (globalThis as unknown as InPage).navigator.clipboard.readText(),
    );
    expect(copied).toContain('DeviceId=kbd-device-01;');
    expect(copied).toContain(`SharedAccessKey=${keyAfter};`);
    // The list itself never shows a key.
    await expect(page.locator('main').textContent()).resolves.not.toContain(keyAfter);

    page.once('dialog', (dialog) => void dialog.accept());
    await choose('Delete');
    await page.locator('.pager-text', { hasText: 'Devices 0–0 of 0' }).waitFor();
    await expect(registryStatus('kbd-device-01')).rejects.toThrow(/404/);
  },
  TIMEOUT,
);

test(
  'the connection string stays masked until Show is pressed',
  async () => {
    await open(`#/devices/${SIM}`);
    const secret = page.locator('code.connection-string');
    await page.locator('code.connection-string[data-secret="masked"]', { hasText: 'DeviceId=' }).waitFor();
    const key = await primaryKeyOf(SIM);
    await expect(secret.textContent()).resolves.toContain('SharedAccessKey=••••');
    await expect(page.locator('main').textContent()).resolves.not.toContain(key);
    await page.getByRole('button', { name: 'Show' }).click();
    await page.locator('code.connection-string[data-secret="shown"]').waitFor();
    await expect(secret.textContent()).resolves.toContain(`SharedAccessKey=${key};`);
    await page.getByRole('button', { name: 'Hide' }).click();
    await page.locator('code.connection-string[data-secret="masked"]').waitFor();
    await expect(page.locator('main').textContent()).resolves.not.toContain(key);
  },
  TIMEOUT,
);

test(
  'a refused connection appears in the event stream, which pauses and resumes',
  async () => {
    await open('#/events');
    await page.locator('.stream-status', { hasText: 'Live.' }).waitFor();
    await refusedConnection('intruder-01');
    const refused = page.locator('tr[data-kind="connection-refused"]', { hasText: 'intruder-01' });
    await refused.waitFor();
    await expect(refused.locator('td.summary').textContent()).resolves.toMatch(/refused over MQTT/);
    await page.screenshot({ path: join(SCREENSHOTS, 'dashboard-events.png') });

    // Paused: new events are held, not shown; resumed: they appear.
    await page.keyboard.press('p');
    await page.locator('.stream-status', { hasText: 'Paused' }).waitFor();
    await refusedConnection('intruder-02');
    await page.locator('.stream-status', { hasText: /Paused: [1-9]\d* new events held/ }).waitFor();
    await expect(
      page.locator('tr[data-kind="connection-refused"]', { hasText: 'intruder-02' }).count(),
    ).resolves.toBe(0);
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.locator('tr[data-kind="connection-refused"]', { hasText: 'intruder-02' }).waitFor();

    // Filtered: only what matches the text stays.
    await page.getByLabel('Filter').fill('intruder-02');
    const shown = await page.locator('table.events tbody tr').allTextContents();
    expect(shown.length).toBeGreaterThan(0);
    for (const row of shown) expect(row).toContain('intruder-02');
  },
  TIMEOUT,
);

test(
  "a page on another site cannot use the dashboard's API, even knowing the token",
  async () => {
    const foreign = await serveForeignPage();
    try {
      const port = (foreign.address() as AddressInfo).port;
      await page.goto(`http://127.0.0.1:${port}/`);
      const token = new URL(dashboardUrl('')).searchParams.get('token') ?? '';
      const api = `${new URL(dashboardUrl('')).origin}/api/devices`;
      const outcome = await page.evaluate(
        async ({ api, token }) => {
          try {
            const response = await fetch(api, {
              method: 'POST',
              headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
              body: JSON.stringify({ deviceId: 'created-by-another-site' }),
            });
            return `status ${String(response.status)}`;
          } catch (error) {
            return `blocked: ${(error as Error).message}`;
          }
        },
        { api, token },
      );
      expect(outcome).toMatch(/^blocked/);
      // Chromium logs the refused preflight: expected here, not a fault of the dashboard's page.
      pageErrors.length = 0;
      const listed = await fetchJson(`${api}?search=created-by-another-site`, token);
      expect(listed).toMatchObject({ total: 0 });
    } finally {
      foreign.close();
    }
  },
  TIMEOUT,
);

test(
  'the page without its token shows where to find it, and the API refuses it',
  async () => {
    const origin = new URL(dashboardUrl('')).origin;
    const response = await page.goto(`${origin}/#/devices`);
    expect(response?.status()).toBe(401);
    // Chromium logs the 401 as a failed resource: expected here.
    pageErrors.length = 0;
    await page.getByRole('heading', { name: 'Open the dashboard with its token' }).waitFor();
    const api = await fetch(`${origin}/api/devices`);
    expect(api.status).toBe(401);
    await expect(api.json()).resolves.toMatchObject({ error: { code: 'TokenRequired' } });
    await page.screenshot({ path: join(SCREENSHOTS, 'dashboard-token-required.png') });
  },
  TIMEOUT,
);

/** A device with a wrong key tries to connect: the hub refuses it (CONNACK 5) and tells its observers. */
async function refusedConnection(deviceId: string): Promise<void> {
  const wrongKey = Buffer.alloc(32, 7).toString('base64');
  const connectionString = emulator
    .deviceConnectionString(SIM)
    .replace(`DeviceId=${SIM}`, `DeviceId=${deviceId}`)
    .replace(/SharedAccessKey=[^;]+/, `SharedAccessKey=${wrongKey}`);
  const client = DeviceClient.fromConnectionString(connectionString, Mqtt);
  await client.setOptions({ ca });
  await expect(client.open()).rejects.toThrow();
  await client.close().catch(() => undefined);
}

/** A page on another origin (another port of 127.0.0.1): a stand-in for any site the user visits. */
async function serveForeignPage(): Promise<Server> {
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html' });
    response.end('<!doctype html><title>another site</title><p>another site</p>');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

async function fetchJson(url: string, token: string): Promise<unknown> {
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  expect(response.status).toBe(200);
  return response.json();
}

/** The dashboard's own API, as the page calls it (with the token), for what the page does not show. */
async function api(path: string, body?: unknown): Promise<unknown> {
  const url = new URL(dashboardUrl(''));
  const response = await fetch(`${url.origin}/api/${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: {
      authorization: `Bearer ${url.searchParams.get('token') ?? ''}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!response.ok) throw new Error(`${String(response.status)} ${await response.text()}`);
  return response.json();
}

async function registryStatus(deviceId: string): Promise<string> {
  const device = (await api(`devices/${encodeURIComponent(deviceId)}`)) as { status: string };
  return device.status;
}

async function primaryKeyOf(deviceId: string): Promise<string> {
  const reply = (await api(`devices/${encodeURIComponent(deviceId)}/connection-string`, {})) as {
    connectionString: string;
  };
  return /SharedAccessKey=([^;]+)/.exec(reply.connectionString)?.[1] ?? '';
}
