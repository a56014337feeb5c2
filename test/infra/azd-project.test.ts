// The azd project files: azure.yaml, infra/main.parameters.json, .funcignore, and what must stay out of git.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defined, repoRoot } from './arm';

const read = (...parts: string[]): string => readFileSync(join(repoRoot, ...parts), 'utf8');

/** The lines of a YAML block that starts at `^key:` (indented children only). */
function block(yaml: string, key: string, indent = 0): string {
  const pad = ' '.repeat(indent);
  const m = new RegExp(`^${pad}${key}:\\n((?:${pad} {2}.*\\n|\\s*\\n)+)`, 'm').exec(yaml);
  return m?.[1] ?? '';
}

describe('azd project', () => {
  const yaml = read('azure.yaml');

  it('azure.yaml: one function service (project ., language ts) deployed from dist/functions-package', () => {
    const services = block(yaml, 'services');
    expect(services.match(/^ {2}\S+:$/gm)).toEqual(['  functions:']);
    expect(services).toMatch(/^ {4}project: \.$/m);
    expect(services).toMatch(/^ {4}language: ts$/m);
    expect(services).toMatch(/^ {4}host: function$/m);
    // azd zips the `dist` directory; the package carries its node_modules, so no remote build
    // (https://learn.microsoft.com/azure/developer/azure-developer-cli/function-app-deployments).
    expect(services).toMatch(/^ {4}dist: dist\/functions-package$/m);
    expect(services).toMatch(/^ {4}remoteBuild: false$/m);
    const prepackage = block(services, 'prepackage', 6);
    const runs = [...prepackage.matchAll(/^ {10}run: (.*)$/gm)].map((m) => m[1]);
    expect(runs).toEqual([
      'node infra/scripts/package-functions.cjs',
      'node infra/scripts/package-functions.cjs',
    ]);
    expect(prepackage).not.toMatch(/continueOnError: true/);
    expect(existsSync(join(repoRoot, 'infra', 'scripts', 'package-functions.cjs'))).toBe(true);
  });

  it('azure.yaml: preprovision registers resource providers and stops azd when it cannot', () => {
    const hook = block(yaml, 'preprovision', 2);
    expect([...hook.matchAll(/^ {6}run: (.*)$/gm)].map((m) => m[1])).toEqual([
      'node infra/hooks/preprovision.cjs',
      'node infra/hooks/preprovision.cjs',
    ]);
    expect([...hook.matchAll(/^ {6}continueOnError: (\w+)$/gm)].map((m) => m[1])).toEqual(['false', 'false']);
  });

  it('azure.yaml: postprovision never stops azd before the app is deployed (continueOnError)', () => {
    const hook = block(yaml, 'postprovision', 2);
    expect([...hook.matchAll(/^ {6}run: (.*)$/gm)].map((m) => m[1])).toEqual([
      'node infra/hooks/postprovision.cjs',
      'node infra/hooks/postprovision.cjs',
    ]);
    expect([...hook.matchAll(/^ {6}continueOnError: (\w+)$/gm)].map((m) => m[1])).toEqual(['true', 'true']);
    for (const f of ['postprovision.cjs', 'preprovision.cjs', 'azure.cjs']) {
      expect(existsSync(join(repoRoot, 'infra', 'hooks', f))).toBe(true);
    }
  });

  it('main.parameters.json feeds main.bicep from the azd environment', () => {
    const params = (
      JSON.parse(read('infra', 'main.parameters.json')) as { parameters: Record<string, { value: unknown }> }
    ).parameters;
    const value = (name: string): unknown => defined(params[name], `parameter ${name}`).value;
    expect(value('environmentName')).toBe('${AZURE_ENV_NAME}');
    expect(value('location')).toBe('${AZURE_LOCATION}');
    // azd fills both from the signed-in account itself (bicep provider, evalParamEnvSubst): no manual step.
    expect(value('principalId')).toBe('${AZURE_PRINCIPAL_ID}');
    expect(value('principalType')).toBe('${AZURE_PRINCIPAL_TYPE}');
    expect(value('nodeVersion')).toBe('${FUNCTION_NODE_VERSION=22}');
    expect(value('directMethodsOnlyRole')).toBe('${IOTHUB_DIRECT_METHODS_ONLY_ROLE=true}');
    expect(value('privateNetworking')).toBe('${PRIVATE_NETWORKING=false}');
    expect(value('iotHubEnforceTls12')).toBe('${IOTHUB_ENFORCE_TLS12=auto}');
    // Written by azd from the output of the same name after a successful deployment; unset before.
    expect(value('iotHubRoutingPrincipalId')).toBe('${IOTHUB_ROUTING_PRINCIPAL_ID}');
    const declared = new Set([...read('infra', 'main.bicep').matchAll(/^param (\w+)/gm)].map((m) => m[1]));
    for (const name of Object.keys(params))
      expect(`${name}: ${String(declared.has(name))}`).toBe(`${name}: true`);
    expect(read('infra', 'main.bicep')).toMatch(/^output IOTHUB_ROUTING_PRINCIPAL_ID string = /m);
  });

  it('uses local modules only (no br:/ts: registry module), so the infra compiles without internet', () => {
    const files = readdirSync(join(repoRoot, 'infra'), { recursive: true, encoding: 'utf8' }).filter(
      (f) => f.endsWith('.bicep') && !f.startsWith('.bicep'),
    );
    expect(files).toContain('main.bicep');
    for (const f of files) {
      const refs = [...read('infra', f).matchAll(/^\s*module\s+\w+\s+'([^']+)'/gm)].map((m) => m[1]);
      for (const ref of refs) expect(`${f}: ${ref}`).toMatch(/: [\w./-]+\.bicep$/);
    }
  });

  it('.funcignore at the root does not exclude node_modules (azd refuses that with remoteBuild: false)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'funcignore-'));
    try {
      mkdirSync(join(dir, 'node_modules'));
      mkdirSync(join(dir, 'dist', 'src', 'functions'), { recursive: true });
      const git = (args: string[], input?: string) =>
        spawnSync('git', args, {
          cwd: dir,
          input,
          encoding: 'utf8',
          env: { PATH: process.env.PATH ?? '', HOME: dir, GIT_CONFIG_NOSYSTEM: '1' },
        });
      expect(git(['init', '-q']).status).toBe(0);
      const res = git(
        ['-c', `core.excludesFile=${join(repoRoot, '.funcignore')}`, 'check-ignore', '--no-index', '--stdin'],
        ['node_modules', 'dist', 'dist/src', 'tsconfig.json', 'local.settings.json', 'emulator'].join('\n'),
      );
      expect(res.stdout.split('\n').filter(Boolean).sort()).toEqual([
        'emulator',
        'local.settings.json',
        'tsconfig.json',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps the device key file, the deployment package and the Bicep CLI out of git', () => {
    const paths = ['device.env', 'infra/.bicep/bicep', 'dist/functions-package/package.json'];
    const res = spawnSync('git', ['check-ignore', '--no-index', ...paths], {
      cwd: repoRoot,
      encoding: 'utf8',
    });
    expect(res.stdout.trim().split('\n').sort()).toEqual([...paths].sort());
  });
});
