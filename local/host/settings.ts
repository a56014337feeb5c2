import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface LocalSettings {
  /** App settings: local.settings.json `Values`, overridden by the environment. */
  readonly values: Readonly<Record<string, string>>;
  /** The file the values came from. */
  readonly source: string;
}

/**
 * Reads app settings as `func start` does: `local.settings.json` `Values` (here falling back to the committed
 * example, whose defaults point at the local emulator), with environment variables taking precedence.
 */
export function loadLocalSettings(projectDir: string, env: NodeJS.ProcessEnv = process.env): LocalSettings {
  const candidates = [
    join(projectDir, 'local.settings.json'),
    join(projectDir, 'local.settings.json.example'),
  ];
  const source = candidates.find((path) => existsSync(path));
  const fileValues: Record<string, string> = {};
  if (source) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(source, 'utf8'));
    } catch (error) {
      throw new Error(`${source} is not valid JSON: ${(error as Error).message}`);
    }
    const values: unknown =
      typeof parsed === 'object' && parsed !== null ? ((parsed as { Values?: unknown }).Values ?? {}) : {};
    if (typeof values !== 'object' || values === null || Array.isArray(values)) {
      throw new Error(`${source}: "Values" must be an object of strings.`);
    }
    for (const [key, value] of Object.entries(values as Record<string, unknown>)) {
      if (typeof value !== 'string') throw new Error(`${source}: Values.${key} must be a string.`);
      fileValues[key] = value;
    }
  }
  const merged: Record<string, string> = { ...fileValues };
  for (const [key, value] of Object.entries(env)) if (value !== undefined) merged[key] = value;
  return { values: merged, source: source ?? '(none: environment only)' };
}

/** Resolves `%NAME%` app-setting references in a binding value, as the Functions host does. */
export function resolveSettingReferences(
  value: string,
  settings: Readonly<Record<string, string>>,
  where: string,
): string {
  return value.replace(/%([^%]+)%/g, (_match, name: string) => {
    const resolved = settings[name];
    if (resolved === undefined)
      throw new Error(`${where} refers to %${name}%, but no app setting ${name} is defined.`);
    return resolved;
  });
}

/**
 * Whether the app setting `AzureWebJobs.<name>.Disabled` (also written with `__` or `:` for `.`) disables the
 * function, as in Azure: `true` or `1`.
 */
export function isFunctionDisabled(
  functionName: string,
  settings: Readonly<Record<string, string>>,
): boolean {
  const names = ['.', '__', ':'].map((sep) =>
    `azurewebjobs${sep}${functionName}${sep}disabled`.toLowerCase(),
  );
  return Object.entries(settings).some(
    ([key, value]) => names.includes(key.toLowerCase()) && /^\s*(true|1)\s*$/i.test(value),
  );
}
