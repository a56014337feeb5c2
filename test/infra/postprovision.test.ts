// The azd postprovision hook (infra/hooks/postprovision.cjs), against a fake IoT Hub registry.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defined, repoRoot } from './arm';

interface HookDeps {
  getToken?: (scope: string) => Promise<string> | string;
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
  attemptsFor(env: NodeJS.ProcessEnv, retryDelayMs?: number): number;
  main(env: NodeJS.ProcessEnv, deps?: HookDeps): Promise<{ deviceId: string; file: string; roles: string }>;
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
    await expect(hook.main(env(), deps(reg.fetch))).resolves.toEqual({
      deviceId: 'sim-device-01',
      file,
      roles: 'skipped',
    });

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
  describe('role clean-up (IOTHUB_FUNCTION_UNUSED_ROLE_ASSIGNMENT_ID)', () => {
    const ASSIGNMENT =
      '/subscriptions/sub-1/resourceGroups/rg-x/providers/Microsoft.Devices/IotHubs/iot-x' +
      '/providers/Microsoft.Authorization/roleAssignments/11111111-2222-3333-4444-555555555555';
    const scoped = (f: typeof fetch): HookDeps => ({
      ...deps(f),
      getToken: (scope: string) =>
        scope.startsWith('https://management.azure.com') ? 'arm-token' : 'iot-token',
    });
    const withAssignment = (): NodeJS.ProcessEnv => ({
      ...env(),
      IOTHUB_FUNCTION_UNUSED_ROLE_ASSIGNMENT_ID: ASSIGNMENT,
    });

    it('deletes the assignment of the role not chosen with an ARM token, then registers the device', async () => {
      const reg = fakeRegistry([
        [200, { id: ASSIGNMENT }],
        [200, sasDevice('sim-device-01', 'a2V5')],
      ]);
      await expect(hook.main(withAssignment(), scoped(reg.fetch))).resolves.toMatchObject({
        roles: 'deleted',
      });
      expect(reg.calls.map((c) => [c.method, c.url, c.auth])).toEqual([
        ['DELETE', `https://management.azure.com${ASSIGNMENT}?api-version=2022-04-01`, 'Bearer arm-token'],
        ['GET', `https://${HOST}/devices/sim-device-01?api-version=${hook.API_VERSION}`, 'Bearer iot-token'],
      ]);
    });

    it('counts an assignment that never existed (204) as done', async () => {
      const reg = fakeRegistry([
        [204, undefined],
        [200, sasDevice('sim-device-01', 'a2V5')],
      ]);
      await expect(hook.main(withAssignment(), scoped(reg.fetch))).resolves.toMatchObject({
        roles: 'absent',
      });
    });

    it('still registers the device when the clean-up fails, then reports the failure', async () => {
      const reg = fakeRegistry([
        [403, { error: { code: 'AuthorizationFailed' } }],
        [200, sasDevice('sim-device-01', 'c3RpbGw=')],
      ]);
      await expect(hook.main(withAssignment(), scoped(reg.fetch))).rejects.toThrow(
        /could not delete the unused role assignment .*\(403\).*azd hooks run postprovision/s,
      );
      expect(readFileSync(file, 'utf8')).toContain('SharedAccessKey=c3RpbGw=');
    });

    it('refuses a value that is not a role assignment id, without calling Azure for it', async () => {
      const reg = fakeRegistry([[200, sasDevice('sim-device-01', 'a2V5')]]);
      const run = hook.main(
        { ...env(), IOTHUB_FUNCTION_UNUSED_ROLE_ASSIGNMENT_ID: '/subscriptions/x/../../elsewhere' },
        scoped(reg.fetch),
      );
      await expect(run).rejects.toThrow(/not a role assignment id/);
      expect(reg.calls.map((c) => c.method)).toEqual(['GET']);
    });
  });

  describe('resuming (the hook runs with continueOnError: azd deploys the app anyway)', () => {
    it('gives up after IOTHUB_ROLE_WAIT_SECONDS, says the app is deployed and how to resume', async () => {
      const reg = fakeRegistry([[403, { Message: 'Forbidden' }]]);
      const run = hook.main(
        { ...env(), IOTHUB_ROLE_WAIT_SECONDS: '0' },
        { ...deps(reg.fetch), attempts: undefined },
      );
      await expect(run).rejects.toThrow(/deployed regardless; resume with `azd hooks run postprovision`/);
      await expect(run).rejects.toThrow(/IOTHUB_ROLE_WAIT_SECONDS=600/);
      expect(reg.calls).toHaveLength(1);
      expect(() => statSync(file)).toThrow(); // nothing half-written
    });

    it('a later run completes what an earlier run could not', async () => {
      const first = fakeRegistry([[403, { Message: 'Forbidden' }]]);
      await expect(hook.main(env(), { ...deps(first.fetch), attempts: 1 })).rejects.toThrow(/403/);
      const second = fakeRegistry([
        [404, { Message: 'DeviceNotFound' }],
        [200, sasDevice('sim-device-01', 'cmVzdW1lZA==')],
      ]);
      await expect(hook.main(env(), deps(second.fetch))).resolves.toMatchObject({
        deviceId: 'sim-device-01',
      });
      expect(second.calls.map((c) => c.method)).toEqual(['GET', 'PUT']);
      expect(readFileSync(file, 'utf8')).toContain('SharedAccessKey=cmVzdW1lZA==');
    });

    it('retries at 15 s intervals for IOTHUB_ROLE_WAIT_SECONDS (180 by default)', () => {
      expect(hook.attemptsFor({})).toBe(13);
      expect(hook.attemptsFor({ IOTHUB_ROLE_WAIT_SECONDS: '600' })).toBe(41);
      expect(hook.attemptsFor({ IOTHUB_ROLE_WAIT_SECONDS: '0' })).toBe(1);
      expect(() => hook.attemptsFor({ IOTHUB_ROLE_WAIT_SECONDS: 'soon' })).toThrow(
        /IOTHUB_ROLE_WAIT_SECONDS/,
      );
    });
  });
});
