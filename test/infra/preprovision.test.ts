// The azd preprovision hook (infra/hooks/preprovision.cjs), against a fake Azure Resource Manager.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { repoRoot } from './arm';

interface HookDeps {
  getToken?: (scope: string) => Promise<string> | string;
  fetch?: typeof fetch;
  pollMs?: number;
  timeoutMs?: number;
  providers?: string[];
  log?: (msg: string) => void;
}
interface HookModule {
  PROVIDERS_API_VERSION: string;
  REQUIRED_PROVIDERS: string[];
  main(
    env: NodeJS.ProcessEnv,
    deps?: HookDeps,
  ): Promise<{ skipped: boolean; providers: Record<string, string> }>;
}

const hookPath = join(repoRoot, 'infra', 'hooks', 'preprovision.cjs');
const hook = createRequire(__filename)(hookPath) as HookModule;

const SUB = '00000000-1111-2222-3333-444444444444';
const ARM = `https://management.azure.com/subscriptions/${SUB}/providers`;

interface Call {
  method: string;
  url: string;
  auth: string | null;
}

/** A fake ARM: answers from a list of [status, body] in order and records the calls. */
function fakeArm(answers: [number, unknown][]): { fetch: typeof fetch; calls: Call[] } {
  const calls: Call[] = [];
  const fetchImpl = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    calls.push({ method: init?.method ?? 'GET', url, auth: new Headers(init?.headers).get('authorization') });
    const next = answers.shift();
    if (!next) return Promise.reject(new Error('unexpected call'));
    const [status, body] = next;
    return Promise.resolve(new Response(body === undefined ? null : JSON.stringify(body), { status }));
  };
  return { fetch: fetchImpl, calls };
}

const state = (registrationState: string): unknown => ({ namespace: 'Microsoft.App', registrationState });

describe('preprovision hook (resource providers)', () => {
  const env = (): NodeJS.ProcessEnv => ({ AZURE_SUBSCRIPTION_ID: SUB });
  const deps = (f: typeof fetch): HookDeps => ({
    getToken: (scope) => (scope === 'https://management.azure.com/.default' ? 'arm-token' : 'wrong-scope'),
    fetch: f,
    pollMs: 0,
    log: () => undefined,
  });

  it('checks Microsoft.App, which Flex Consumption needs but ARM does not register from the template', () => {
    expect(hook.REQUIRED_PROVIDERS).toEqual(['Microsoft.App']);
  });

  it('does nothing more when the provider is already registered', async () => {
    const arm = fakeArm([[200, state('Registered')]]);
    await expect(hook.main(env(), deps(arm.fetch))).resolves.toEqual({
      skipped: false,
      providers: { 'Microsoft.App': 'already registered' },
    });
    expect(arm.calls).toEqual([
      {
        method: 'GET',
        url: `${ARM}/Microsoft.App?api-version=${hook.PROVIDERS_API_VERSION}`,
        auth: 'Bearer arm-token',
      },
    ]);
  });

  it('registers a NotRegistered provider and waits until it is Registered', async () => {
    const arm = fakeArm([
      [200, state('NotRegistered')],
      [200, state('Registering')],
      [200, state('Registering')],
      [200, state('Registered')],
    ]);
    await expect(hook.main(env(), deps(arm.fetch))).resolves.toMatchObject({
      providers: { 'Microsoft.App': 'registered' },
    });
    expect(arm.calls.map((c) => [c.method, c.url])).toEqual([
      ['GET', `${ARM}/Microsoft.App?api-version=${hook.PROVIDERS_API_VERSION}`],
      ['POST', `${ARM}/Microsoft.App/register?api-version=${hook.PROVIDERS_API_VERSION}`],
      ['GET', `${ARM}/Microsoft.App?api-version=${hook.PROVIDERS_API_VERSION}`],
      ['GET', `${ARM}/Microsoft.App?api-version=${hook.PROVIDERS_API_VERSION}`],
    ]);
  });

  it('waits for a registration already in progress without registering again', async () => {
    const arm = fakeArm([
      [200, state('Registering')],
      [200, state('Registered')],
    ]);
    await hook.main(env(), deps(arm.fetch));
    expect(arm.calls.map((c) => c.method)).toEqual(['GET', 'GET']);
  });

  it('says who can register it, and the command, when the signed-in account may not', async () => {
    const arm = fakeArm([
      [200, state('NotRegistered')],
      [403, { error: { code: 'AuthorizationFailed' } }],
    ]);
    const run = hook.main(env(), deps(arm.fetch));
    await expect(run).rejects.toThrow(/Contributor or Owner/);
    await expect(run).rejects.toThrow(/az provider register --namespace Microsoft\.App --wait/);
  });

  it('gives up after its time limit with the command to check the state', async () => {
    const arm = fakeArm([
      [200, state('NotRegistered')],
      [200, {}],
      [200, state('Registering')],
    ]);
    await expect(hook.main(env(), { ...deps(arm.fetch), timeoutMs: 0 })).rejects.toThrow(
      /still Registering .*az provider show --namespace Microsoft\.App/,
    );
  });

  it('skips the check, with the manual command, before azd knows the subscription', async () => {
    const messages: string[] = [];
    const arm = fakeArm([]);
    await expect(hook.main({}, { ...deps(arm.fetch), log: (m) => messages.push(m) })).resolves.toEqual({
      skipped: true,
      providers: {},
    });
    expect(arm.calls).toHaveLength(0);
    expect(messages.join('\n')).toMatch(/az provider register --namespace Microsoft\.App --wait/);
  });

  it('runs as a script; without a subscription it exits 0 (nothing to check yet)', () => {
    const res = spawnSync(process.execPath, [hookPath], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '' },
      timeout: 30_000,
    });
    expect(res.status).toBe(0);
    expect(res.stdout).toMatch(/^preprovision: AZURE_SUBSCRIPTION_ID is not set yet/);
  });
});
