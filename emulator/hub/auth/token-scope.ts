/**
 * What a SAS token's resource (`sr`) grants, as IoT Hub reads it: a host and a path, where the path is a prefix of
 * the resources the token may reach, compared segment by segment. `<host>` covers the whole hub;
 * `<host>/devices/dev1` covers `devices/dev1` and everything under it, but neither `devices/dev10` nor the
 * collection `devices` itself.
 */
export interface TokenScope {
  /** Lower-cased host name (host names are case-insensitive). */
  readonly host: string;
  /** Path segments after the host; empty for the whole hub. Ids stay as written: they are case-sensitive. */
  readonly segments: readonly string[];
}

/** Splits a decoded `sr` (`myhub.azure-devices.net/devices/dev1`, optionally with a scheme) into its scope. */
export function parseTokenScope(resource: string): TokenScope {
  const withoutScheme = resource.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const [host = '', ...rest] = withoutScheme.split('/');
  return { host: host.toLowerCase(), segments: rest.filter((segment) => segment !== '') };
}

/**
 * Whether `granted` covers `wanted`: the same path or a parent of it, segment-wise. The first segment (a
 * collection name such as `devices`) is compared without case; ids after it exactly.
 */
export function scopeCovers(granted: readonly string[], wanted: readonly string[]): boolean {
  if (granted.length > wanted.length) return false;
  return granted.every((segment, index) =>
    index === 0 ? segment.toLowerCase() === wanted[index]?.toLowerCase() : segment === wanted[index],
  );
}

/**
 * The hub a token must name: its one host name, or every name it answers to (`HubNames`: the Azure host name,
 * `localhost`, `localhost:<port>`, ...).
 */
export type HubHost = string | { includes(host: string): boolean };

/** Whether `host` (a token's, lower-cased) names the hub. */
export function namesHub(hub: HubHost, host: string): boolean {
  return typeof hub === 'string' ? host === hub.toLowerCase() : hub.includes(host);
}

/** Whether a token with this scope may act on `wanted` (path segments) of the hub `hub` names. */
export function tokenGrants(scope: TokenScope, hub: HubHost, wanted: readonly string[]): boolean {
  return namesHub(hub, scope.host) && scopeCovers(scope.segments, wanted);
}
