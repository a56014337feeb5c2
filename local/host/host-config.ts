import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export type JsonObject = Record<string, unknown>;

/** host.json is missing nothing the host needs, but what is there is malformed. */
export class HostConfigError extends Error {
  override readonly name = 'HostConfigError';
}

/**
 * App settings with this prefix override host.json, as in Azure: for example
 * `AzureFunctionsJobHost__extensions__eventHubs__maxEventBatchSize=10`.
 */
const OVERRIDE_PREFIX = 'azurefunctionsjobhost__';

/**
 * Reads host.json the way the Functions host does: keys are case-insensitive, and app settings named
 * `AzureFunctionsJobHost__<path>` override the values at that path (their values stay strings, as the host's
 * configuration binder receives them).
 */
export function readHostConfig(projectDir: string, settings: Readonly<Record<string, string>>): JsonObject {
  const path = join(projectDir, 'host.json');
  let config: JsonObject = {};
  if (existsSync(path)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8'));
    } catch (error) {
      throw new HostConfigError(`${path} is not valid JSON: ${(error as Error).message}`);
    }
    if (!isJsonObject(parsed)) throw new HostConfigError(`${path} must hold a JSON object.`);
    config = parsed;
  }
  return applyHostConfigOverrides(config, settings);
}

export function applyHostConfigOverrides(
  config: JsonObject,
  settings: Readonly<Record<string, string>>,
): JsonObject {
  const result = structuredClone(config);
  for (const [key, value] of Object.entries(settings)) {
    if (!key.toLowerCase().startsWith(OVERRIDE_PREFIX)) continue;
    const path = key
      .slice(OVERRIDE_PREFIX.length)
      .split(/__|:/)
      .filter((segment) => segment !== '');
    if (path.length > 0) setAtPath(result, path, value);
  }
  return result;
}

/** The value at a path of keys, matched case-insensitively; undefined when any step is missing. */
export function getSection(config: unknown, ...path: readonly string[]): unknown {
  let current: unknown = config;
  for (const segment of path) {
    if (!isJsonObject(current)) return undefined;
    const key = findKey(current, segment);
    current = key === undefined ? undefined : current[key];
  }
  return current;
}

/** `extensions.http.routePrefix`, without surrounding slashes; `api` by default. */
export function httpRoutePrefix(config: JsonObject): string {
  const prefix = getSection(config, 'extensions', 'http', 'routePrefix');
  return typeof prefix === 'string' ? prefix.replace(/^\/+|\/+$/g, '') : 'api';
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function findKey(object: JsonObject, name: string): string | undefined {
  const lower = name.toLowerCase();
  return Object.keys(object).find((key) => key.toLowerCase() === lower);
}

function setAtPath(target: JsonObject, path: readonly string[], value: string): void {
  const [head, ...rest] = path;
  if (head === undefined) return;
  const key = findKey(target, head) ?? head;
  if (rest.length === 0) {
    target[key] = value;
    return;
  }
  const child = target[key];
  const next: JsonObject = isJsonObject(child) ? child : {};
  target[key] = next;
  setAtPath(next, rest, value);
}
