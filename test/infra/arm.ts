// Helpers for the infra tests: find the Bicep CLI, compile infra/main.bicep into a temporary
// directory (never a stale file), and read the ARM JSON that comes out.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';

export const repoRoot = resolve(__dirname, '..', '..');
export const infraDir = join(repoRoot, 'infra');
export const mainBicep = join(infraDir, 'main.bicep');

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface ArmResource {
  type: string;
  apiVersion: string;
  name: string;
  scope?: string;
  condition?: string | boolean;
  location?: string;
  tags?: Json;
  kind?: string;
  sku?: JsonObject;
  identity?: JsonObject;
  properties?: JsonObject;
  dependsOn?: string[];
}

export interface ArmTemplate {
  $schema: string;
  parameters?: Partial<Record<string, { type: string; defaultValue?: Json; allowedValues?: Json[] }>>;
  variables?: JsonObject;
  resources: ArmResource[];
  outputs?: Partial<Record<string, { type: string; value: Json }>>;
}

export interface Module {
  name: string;
  /** Values passed to the module, as written in main (expressions are strings). */
  parameters: Record<string, Json>;
  template: ArmTemplate;
}

/** Returns the path of a working Bicep CLI, or undefined. */
export function findBicep(): string | undefined {
  const candidates = [
    process.env.BICEP_BIN,
    join(infraDir, '.bicep', 'bicep'),
    ...(process.env.PATH ?? '').split(delimiter).map((dir) => (dir ? join(dir, 'bicep') : '')),
  ];
  for (const candidate of candidates) {
    if (!candidate) continue;
    try {
      accessSync(candidate, constants.X_OK);
    } catch {
      continue;
    }
    const probe = spawnSync(candidate, ['--version'], { encoding: 'utf8', timeout: 60_000 });
    if (probe.status === 0) return candidate;
  }
  return undefined;
}

/** Returns `value`, or throws naming `what` when it is undefined (e.g. a missing array element or key). */
export function defined<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`missing ${what}`);
  return value;
}

export function isCi(): boolean {
  const ci = (process.env.CI ?? '').toLowerCase();
  return ci !== '' && ci !== 'false' && ci !== '0';
}

export interface Compiled {
  template: ArmTemplate;
  /** Everything `bicep build` printed (diagnostics go to stderr). */
  buildOutput: string;
  /** Everything `bicep lint` printed. */
  lintOutput: string;
}

export function compileMain(bicep: string): Compiled {
  const dir = mkdtempSync(join(tmpdir(), 'infra-arm-'));
  try {
    const outfile = join(dir, 'main.json');
    const build = spawnSync(bicep, ['build', mainBicep, '--outfile', outfile], {
      encoding: 'utf8',
      timeout: 180_000,
    });
    if (build.status !== 0) {
      throw new Error(`bicep build failed (${build.status}):\n${build.stdout}${build.stderr}`);
    }
    const lint = spawnSync(bicep, ['lint', mainBicep], { encoding: 'utf8', timeout: 180_000 });
    const template = JSON.parse(readFileSync(outfile, 'utf8')) as ArmTemplate;
    return {
      template,
      buildOutput: `${build.stdout}${build.stderr}`.trim(),
      lintOutput:
        `${lint.stdout}${lint.stderr}`.trim() + (lint.status === 0 ? '' : `\n(exit ${lint.status})`),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The nested deployments (Bicep modules) of a template, by name. */
export function modules(template: ArmTemplate): Map<string, Module> {
  const found = new Map<string, Module>();
  for (const r of template.resources) {
    if (r.type !== 'Microsoft.Resources/deployments') continue;
    const props = r.properties as unknown as {
      parameters?: Record<string, { value: Json }>;
      template: ArmTemplate;
    };
    const parameters: Record<string, Json> = {};
    for (const [key, v] of Object.entries(props.parameters ?? {})) parameters[key] = v.value;
    found.set(r.name, { name: r.name, parameters, template: props.template });
  }
  return found;
}

const isExpression = (v: unknown): v is string => typeof v === 'string' && /^\[.*\]$/s.test(v);
const unwrap = (expr: string): string => expr.slice(1, -1);
const asOperand = (v: Json): string => {
  if (typeof v !== 'string') return JSON.stringify(v);
  return /^\[.*\]$/s.test(v) ? unwrap(v) : `'${v.replace(/'/g, "''")}'`;
};

/** Inlines `variables('x')` and `variables('x').y` of a template into an expression body. */
export function inlineVariables(body: string, variables: JsonObject = {}): string {
  let out = body;
  for (let i = 0; i < 20; i++) {
    const next = out.replace(/variables\('([^']+)'\)(?:\.(\w+))?/g, (_m, name: string, prop?: string) => {
      let value: Json | undefined = variables[name];
      if (prop !== undefined) value = (value as JsonObject | undefined)?.[prop];
      if (value === undefined) throw new Error(`unknown variable ${name}${prop ? `.${prop}` : ''}`);
      return asOperand(value);
    });
    if (next === out) return out;
    out = next;
  }
  throw new Error(`variables nest too deep in ${body}`);
}

/**
 * Rewrites a value found inside a module's template as an expression of main.bicep: the
 * module's variables are inlined, its parameters replaced by what main passes, and main's
 * variables inlined. A plain literal comes back unchanged; `'x'` alone comes back as x.
 */
export function toMain(
  value: Json | undefined,
  mod: Module | undefined,
  main: ArmTemplate,
): Json | undefined {
  if (!isExpression(value)) return value;
  let body = unwrap(value);
  if (mod) {
    body = inlineVariables(body, mod.template.variables);
    body = body.replace(/parameters\('([^']+)'\)/g, (_m, name: string) => {
      const passed =
        name in mod.parameters ? mod.parameters[name] : mod.template.parameters?.[name]?.defaultValue;
      if (passed === undefined) throw new Error(`module ${mod.name} gets no value for ${name}`);
      return asOperand(passed);
    });
  }
  body = inlineVariables(body, main.variables);
  return simplify(body);
}

// ARM expressions have no operators, so substituting a call for a name needs no parentheses.
function simplify(body: string): Json {
  const b = body.trim();
  if (/^'([^']|'')*'$/.test(b)) return b.slice(1, -1).replace(/''/g, "'");
  if (b === 'true' || b === 'false') return b === 'true';
  if (/^-?\d+$/.test(b)) return Number(b);
  return `[${b}]`;
}

/** Name of the module whose output an expression reads, e.g. 'function-identity' for outputs.principalId. */
export function moduleOutput(expr: Json | undefined): { module: string; output: string } | undefined {
  if (typeof expr !== 'string') return undefined;
  const m =
    /^\[reference\(extensionResourceId\(.*'Microsoft\.Resources\/deployments', '([^']+)'\), '[^']+'\)\.outputs\.(\w+)\.value\]$/s.exec(
      expr,
    );
  if (!m) return undefined;
  return { module: defined(m[1], `module name in ${expr}`), output: defined(m[2], `output name in ${expr}`) };
}

export function allResources(template: ArmTemplate): { module?: Module; resource: ArmResource }[] {
  const out: { module?: Module; resource: ArmResource }[] = template.resources.map((resource) => ({
    resource,
  }));
  for (const mod of modules(template).values()) {
    for (const resource of mod.template.resources) out.push({ module: mod, resource });
  }
  return out;
}

/** Role definition guids named in a roleDefinitionId expression (both branches of an if()). */
export function builtInRoleIds(expr: Json | undefined): string[] {
  if (typeof expr !== 'string') return [];
  const ids = [
    ...expr.matchAll(
      /subscriptionResourceId\('Microsoft\.Authorization\/roleDefinitions', '([0-9a-f-]{36})'\)/g,
    ),
  ];
  return ids.map((m) => defined(m[1], `role definition guid in ${m[0]}`));
}
