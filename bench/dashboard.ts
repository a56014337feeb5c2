import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { startEmulator, type RunningEmulator } from 'iothub-emulator';
import { summarize } from './stats';

/**
 * The dashboard with many devices: the emulator's resident memory with N simulated devices connected and sending
 * telemetry every second (the devices run in another process), then each page's load time in headless Chromium
 * (from navigation to its data drawn), the API's device list with 10,000 registered devices, and the memory after
 * the pages have been streaming for a while.
 * Usage: node dist/bench/dashboard.js [devices=1000] [seconds of telemetry=20]
 * Needs Chromium (CHROMIUM_PATH, default /usr/bin/chromium).
 */
const LOADS = 5;

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? '1000');
  const soakSeconds = Number(process.argv[3] ?? '20');
  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(executablePath))
    throw new Error(`No Chromium at ${executablePath} (apt-get install chromium).`);

  const emulator = await startEmulator({
    mqttPort: 0,
    httpsPort: 0,
    amqpPort: 0,
    iothubAmqpsPort: 0,
    dashboard: true,
    dashboardPort: 0,
    dataDir: join('.iothub-emulator', 'bench-dashboard'),
    reset: true,
  });
  const url = emulator.info.dashboardUrl ?? '';
  const idle = memoryOf(emulator.pid);
  const simulator = await startDevices(emulator, count);
  const browser = await chromium.launch({
    executablePath,
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  try {
    await new Promise((resolve) => setTimeout(resolve, soakSeconds * 1000));
    const loaded = memoryOf(emulator.pid);

    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    const timings = {
      hub: await timeLoads(page, `${url}#/`, hubReady),
      devices: await timeLoads(page, `${url}#/devices`, devicesReady),
      device: await timeLoads(page, `${url}#/devices/sim-device-0001`, deviceReady),
      events: await timeLoads(page, `${url}#/events`, eventsReady),
    };
    const apiWith = await timeDeviceList(url, `search=sim-device-09&offset=50&limit=50`);

    // Four pages left open and streaming (the event page with telemetry included) for three times the soak time.
    const open = await Promise.all(
      ['#/', '#/devices', '#/devices/sim-device-0001', '#/events'].map(async (hash) => {
        const streaming = await browser.newPage({ viewport: { width: 1440, height: 900 } });
        await streaming.goto(`${url}${hash}`);
        return streaming;
      }),
    );
    const events = open[3];
    if (events) await events.getByLabel('telemetry', { exact: true }).check();
    // Sampled along the way: a steady figure is garbage not yet collected, a climbing one would be a leak.
    const samples: number[] = [];
    for (let second = 0; second < soakSeconds * 3; second += 5) {
      await new Promise((resolve) => setTimeout(resolve, 5000));
      samples.push(memoryOf(emulator.pid).rss);
    }
    const streaming = memoryOf(emulator.pid);

    // Search and paging over 10,000 registered devices (the others not connected).
    await emulator.ensureDevices(
      Array.from({ length: 10_000 - count }, (_, i) => `idle-device-${String(i).padStart(5, '0')}`),
    );
    const api10k = await timeDeviceList(url, `search=idle-device-07&offset=50&limit=50`);
    const devices10k = await timeLoads(page, `${url}#/devices?search=idle-device-07`, devicesReady);
    const after = memoryOf(emulator.pid);

    console.log(
      `Dashboard with ${count} simulated devices (MQTT/TLS, telemetry every 1 s), Chromium headless, 1440×900:`,
    );
    console.log(`  page load, navigation to data drawn, median of ${LOADS} (min–max):`);
    for (const [name, samples] of Object.entries(timings))
      console.log(`    ${name.padEnd(8)} ${describe(samples)}`);
    console.log(`    devices, searching 10,000 registered: ${describe(devices10k)}`);
    console.log(
      `  GET /api/devices (search, page of 50): ${describe(apiWith)} with ${count} devices; ${describe(api10k)} with 10,000`,
    );
    console.log(
      `  emulator resident memory: idle ${mb(idle.rss)}; ${count} devices after ${soakSeconds} s ${mb(loaded.rss)}; ` +
        `with 4 dashboard pages streaming for ${soakSeconds * 3} s ${mb(streaming.rss)}; 10,000 registered ${mb(after.rss)} ` +
        `(peak ${mb(after.peak)})`,
    );
    console.log(`  while streaming, every 5 s: ${samples.map(mb).join(', ')}`);
    for (const streamingPage of open) await streamingPage.close();
  } finally {
    await browser.close();
    simulator.kill('SIGINT');
    await new Promise((resolve) => simulator.once('exit', resolve));
    await emulator.stop();
  }
}

/** The device simulator in its own process (its memory is not the emulator's), resolved once all are up. */
async function startDevices(emulator: RunningEmulator, count: number): Promise<ChildProcess> {
  const simulator = spawn(
    process.execPath,
    [
      join(__dirname, '..', 'device-sim', 'cli.js'),
      '--devices',
      String(count),
      '--gateway',
      `localhost:${emulator.info.mqttPort}`,
      '--ca',
      emulator.info.caPath,
      '--quiet',
    ],
    {
      env: {
        ...process.env,
        IOTHUB_SERVICE_CONNECTION_STRING: emulator.info.serviceConnectionString,
        IOTHUB_EMULATOR_CA_CERT: emulator.info.caPath,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await new Promise<void>((resolve, reject) => {
    let output = '';
    simulator.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('simulated device(s) running')) resolve();
    });
    simulator.once('exit', (code) => {
      reject(new Error(`device simulator exited with ${code ?? '?'}:\n${output}`));
    });
  });
  return simulator;
}

type Ready = (page: Page) => Promise<unknown>;

const hubReady: Ready = (page) =>
  page
    .locator('[data-chart="traffic"] canvas')
    .waitFor()
    .then(() => page.locator('[data-figure="connected"]').waitFor());
const devicesReady: Ready = (page) => page.locator('tr[data-device]').first().waitFor();
const deviceReady: Ready = (page) => page.locator('[data-chart="telemetry"] canvas').waitFor();
const eventsReady: Ready = (page) => page.locator('table.events tbody tr').first().waitFor();

/** From the start of navigation to the page's data on screen, `LOADS` times (a fresh page load each). */
async function timeLoads(page: Page, url: string, ready: Ready): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < LOADS; i++) {
    await page.goto('about:blank');
    const started = performance.now();
    await page.goto(url);
    await ready(page);
    samples.push(performance.now() - started);
  }
  return samples;
}

async function timeDeviceList(dashboardUrl: string, query: string): Promise<number[]> {
  const { origin, searchParams } = new URL(dashboardUrl);
  const headers = { authorization: `Bearer ${searchParams.get('token') ?? ''}` };
  const samples: number[] = [];
  for (let i = 0; i < 20; i++) {
    const started = performance.now();
    const response = await fetch(`${origin}/api/devices?${query}`, { headers });
    await response.json();
    samples.push(performance.now() - started);
  }
  return samples;
}

function describe(samples: readonly number[]): string {
  const { median, min, max } = summarize(samples);
  return `${median.toFixed(0)} ms (${min.toFixed(0)}–${max.toFixed(0)})`;
}

function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 'NaN');
  return { rss: kb('VmRSS') * 1024, peak: kb('VmHWM') * 1024 };
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MB`;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
