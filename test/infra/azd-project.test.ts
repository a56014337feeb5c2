// The azd project files: azure.yaml, infra/main.parameters.json, and what must stay out of git.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defined, repoRoot } from './arm';

const read = (...parts: string[]): string => readFileSync(join(repoRoot, ...parts), 'utf8');

describe('azd project', () => {
  it('azure.yaml: one function service (project ., language ts) and a Node postprovision hook', () => {
    const yaml = read('azure.yaml');
    const services = /^services:\n((?: {2}.*\n)+)/m.exec(yaml)?.[1] ?? '';
    expect(services.match(/^ {2}\S+:$/gm)).toEqual(['  functions:']);
    expect(services).toMatch(/^ {4}project: \.$/m);
    expect(services).toMatch(/^ {4}language: ts$/m);
    expect(services).toMatch(/^ {4}host: function$/m);
    expect(yaml).toMatch(/^ {2}postprovision:$/m);
    const runs = [...yaml.matchAll(/^ {6}run: (.*)$/gm)].map((m) => m[1]);
    expect(runs).toEqual(['node infra/hooks/postprovision.cjs', 'node infra/hooks/postprovision.cjs']);
    expect(existsSync(join(repoRoot, 'infra', 'hooks', 'postprovision.cjs'))).toBe(true);
  });

  it('main.parameters.json feeds main.bicep from the azd environment', () => {
    const params = (
      JSON.parse(read('infra', 'main.parameters.json')) as { parameters: Record<string, { value: unknown }> }
    ).parameters;
    expect(defined(params.environmentName, 'parameter environmentName').value).toBe('${AZURE_ENV_NAME}');
    expect(defined(params.location, 'parameter location').value).toBe('${AZURE_LOCATION}');
    expect(defined(params.principalId, 'parameter principalId').value).toBe('${AZURE_PRINCIPAL_ID}');
    const declared = new Set([...read('infra', 'main.bicep').matchAll(/^param (\w+)/gm)].map((m) => m[1]));
    for (const name of Object.keys(params))
      expect(`${name}: ${String(declared.has(name))}`).toBe(`${name}: true`);
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

  it('keeps the device key file and the Bicep CLI out of git', () => {
    const res = spawnSync('git', ['check-ignore', '--no-index', 'device.env', 'infra/.bicep/bicep'], {
      cwd: repoRoot,
      encoding: 'utf8',
    });
    expect(res.stdout.trim().split('\n').sort()).toEqual(['device.env', 'infra/.bicep/bicep']);
  });
});
