// The azd postprovision hook (infra/hooks/postprovision.cjs), against a fake IoT Hub registry.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defined, repoRoot } from './arm';

interface HookDeps {
  getToken?: () => Promise<string> | string;
  fetch?: typeof fetch;
  attempts?: number;
  retryDelayMs?: number;
  log?: (msg: string) => void;
}
interface HookModule {
  API_VERSION: string;
  DEFAULT_DEVICE_ID: string;
  DEFAULT_ENV_FILE: string;
  getTokenFromCli(env: NodeJS.ProcessEnv, run: (command: string, args: string[]) => string): string;
  main(env: NodeJS.ProcessEnv, deps?: HookDeps): Promise<{ deviceId: string; file: string }>;
}

const hookPath = join(repoRoot, 'infra', 'hooks', 'postprovision.cjs');
const hook = createRequire(__filename)(hookPath) as HookModule;

const HOST = 'iot-test.azure-devices.net';

interface Call {
  method: string;
  url: string;
  auth: string | null;
  body: string | undefined;
}

/** A fake registry: answers from a list of [status, body] in order and records the calls. */
function fakeRegistry(answers: [number, unknown][]): { fetch: typeof fetch; calls: Call[] } {
  const calls: Call[] = [];
  const fetchImpl = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const headers = new Headers(init?.headers);
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    calls.push({
      method: init?.method ?? 'GET',
      url,
      auth: headers.get('authorization'),
      body: typeof init?.body === 'string' ? init.body : undefined,
    });
    const next = answers.shift();
    if (!next) return Promise.reject(new Error('unexpected call'));
    const [status, body] = next;
    return Promise.resolve(new Response(body === undefined ? null : JSON.stringify(body), { status }));
  };
  return { fetch: fetchImpl, calls };
}

const sasDevice = (deviceId: string, key: string): unknown => ({
  deviceId,
  authentication: { type: 'sas', symmetricKey: { primaryKey: key, secondaryKey: 'second' } },
});

describe('postprovision hook', () => {
  let dir: string;
  let file: string;
  const env = (): NodeJS.ProcessEnv => ({ IOTHUB_HOST_NAME: HOST, IOTHUB_DEVICE_ENV_FILE: file });
  const deps = (f: typeof fetch): HookDeps => ({
    getToken: () => 'token-123',
    fetch: f,
    retryDelayMs: 0,
    log: () => undefined,
  });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'postprovision-'));
    file = join(dir, 'device.env');
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes device.env at the repo root by default, with sim-device-01', () => {
    expect(hook.DEFAULT_ENV_FILE).toBe(join(repoRoot, 'device.env'));
    expect(hook.DEFAULT_DEVICE_ID).toBe('sim-device-01');
  });

  it('creates the device when absent and writes its connection string (user-only file)', async () => {
    const reg = fakeRegistry([
      [404, { Message: 'DeviceNotFound' }],
      [200, sasDevice('sim-device-01', 'a2V5')],
    ]);
    await expect(hook.main(env(), deps(reg.fetch))).resolves.toEqual({ deviceId: 'sim-device-01', file });

    const url = `https://${HOST}/devices/sim-device-01?api-version=${hook.API_VERSION}`;
    expect(reg.calls.map((c) => [c.method, c.url, c.auth])).toEqual([
      ['GET', url, 'Bearer token-123'],
      ['PUT', url, 'Bearer token-123'],
    ]);
    expect(JSON.parse(defined(reg.calls[1], 'PUT call').body ?? '{}')).toEqual({ deviceId: 'sim-device-01' });
    expect(readFileSync(file, 'utf8')).toMatch(
      new RegExp(
        `^IOTHUB_DEVICE_CONNECTION_STRING=HostName=${HOST};DeviceId=sim-device-01;SharedAccessKey=a2V5$`,
        'm',
      ),
    );
    if (process.platform !== 'win32') expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('is idempotent: reuses an existing device and rewrites the file', async () => {
    for (const key of ['Zmlyc3Q=', 'c2Vjb25k']) {
      const reg = fakeRegistry([[200, sasDevice('sim-device-01', key)]]);
      await hook.main(env(), deps(reg.fetch));
      expect(reg.calls.map((c) => c.method)).toEqual(['GET']);
      expect(readFileSync(file, 'utf8')).toContain(`SharedAccessKey=${key}\n`);
    }
  });

  it('reads the device back when another run created it at the same time', async () => {
    const reg = fakeRegistry([
      [404, {}],
      [409, { Message: 'DeviceAlreadyExists' }],
      [200, sasDevice('sim-device-01', 'cmFjZQ==')],
    ]);
    await hook.main(env(), deps(reg.fetch));
    expect(reg.calls.map((c) => c.method)).toEqual(['GET', 'PUT', 'GET']);
    expect(readFileSync(file, 'utf8')).toContain('SharedAccessKey=cmFjZQ==');
  });

  it('waits for a fresh role assignment (401/403) before giving up', async () => {
    const reg = fakeRegistry([
      [401, { Message: 'Unauthorized' }],
      [403, { Message: 'Forbidden' }],
      [200, sasDevice('sim-device-01', 'bGF0ZQ==')],
    ]);
    await hook.main(env(), { ...deps(reg.fetch), attempts: 5 });
    expect(reg.calls).toHaveLength(3);
  });

  it('says which role is missing and how to re-run when access stays denied', async () => {
    const reg = fakeRegistry([
      [403, { Message: 'Forbidden' }],
      [403, { Message: 'Forbidden' }],
    ]);
    const run = hook.main(env(), { ...deps(reg.fetch), attempts: 2 });
    await expect(run).rejects.toThrow(/IoT Hub Registry Contributor/);
    await expect(run).rejects.toThrow(/azd hooks run postprovision/);
  });

  it('explains a missing IOTHUB_HOST_NAME', async () => {
    await expect(hook.main({}, deps(fakeRegistry([]).fetch))).rejects.toThrow(
      /IOTHUB_HOST_NAME is not set.*azd provision/,
    );
  });

  it('refuses a device that does not use SAS keys, and says what to do', async () => {
    const x509 = { deviceId: 'sim-device-01', authentication: { type: 'selfSigned', symmetricKey: {} } };
    const reg = fakeRegistry([[200, x509]]);
    await expect(hook.main(env(), deps(reg.fetch))).rejects.toThrow(/IOTHUB_DEVICE_ID/);
  });

  it('reports an unreachable hub', async () => {
    const failing = (() => Promise.reject(new Error('getaddrinfo ENOTFOUND'))) as typeof fetch;
    await expect(hook.main(env(), deps(failing))).rejects.toThrow(
      /could not reach iot-test\.azure-devices\.net/,
    );
  });

  it('gets its token from azd, then from the Azure CLI, with the tenant of the environment', () => {
    const seen: string[] = [];
    const azdWorks = (command: string, args: string[]): string => {
      seen.push(`${command} ${args.join(' ')}`);
      return JSON.stringify({ token: 'from-azd', expiresOn: 'x' });
    };
    expect(hook.getTokenFromCli({ AZURE_TENANT_ID: 'tenant-1' }, azdWorks)).toBe('from-azd');
    expect(seen).toEqual([
      'azd auth token --scope https://iothubs.azure.net/.default --output json --tenant-id tenant-1',
    ]);

    const onlyAz = (command: string): string => {
      if (command === 'azd') throw new Error('not logged in');
      return JSON.stringify({ accessToken: 'from-az' });
    };
    expect(hook.getTokenFromCli({}, onlyAz)).toBe('from-az');

    const none = (): string => {
      throw new Error('command not found');
    };
    expect(() => hook.getTokenFromCli({}, none)).toThrow(/azd auth login/);
  });

  it('runs as a script and exits non-zero with a readable message', () => {
    const res = spawnSync(process.execPath, [hookPath], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '' },
      timeout: 30_000,
    });
    expect(res.status).toBe(1);
    expect(res.stderr).toMatch(/^postprovision: IOTHUB_HOST_NAME is not set/);
  });
});
