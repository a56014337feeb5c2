import type { SharedAccessPolicy } from '../policies';
import { hasRight } from '../policies';
import type { ModuleRecord, ModuleRegistry } from '../modules/module-registry';
import type { DeviceRecord, DeviceRegistry } from '../registry';
import { parseSasToken, verifySasToken } from './sas';
import { parseTokenScope, tokenGrants, type HubHost, type TokenScope } from './token-scope';

/** What an authenticated device connection rests on: the device record checked and when its token expires. */
export interface DeviceSession {
  readonly device: DeviceRecord;
  /** Set when the identity is a module of `device`: the module record checked. */
  readonly module?: ModuleRecord | undefined;
  /** Token expiry, Unix seconds: the hub closes the connection then (the SDKs renew by reconnecting). */
  readonly expiry: number;
}

/**
 * The verdict on a device's credentials, whatever the transport: `bad-credentials` when what it presented is not a
 * usable token (MQTT CONNACK 4), `not-authorized` when the token does not let it in (CONNACK 5).
 */
export type DeviceAuthResult =
  | { readonly ok: true; readonly session: DeviceSession }
  | { readonly ok: false; readonly failure: 'bad-credentials' | 'not-authorized'; readonly reason: string };

export interface DeviceAuthContext {
  readonly hostName: string;
  /** Every name the hub answers to in a token's `sr` (defaults to `hostName` alone). */
  readonly names?: HubHost;
  readonly registry: DeviceRegistry;
  readonly modules: ModuleRegistry;
  readonly policy: (keyName: string) => SharedAccessPolicy | undefined;
}

const badCredentials = (reason: string): DeviceAuthResult => ({
  ok: false,
  failure: 'bad-credentials',
  reason,
});
const notAuthorized = (reason: string): DeviceAuthResult => ({
  ok: false,
  failure: 'not-authorized',
  reason,
});

/**
 * Checks a device's SAS token as IoT Hub does: a token for `<host>/devices/<deviceId>` signed with one of the
 * device's keys, or a token of a hub policy with DeviceConnect whose `sr` covers the device; not expired; the
 * device registered and enabled.
 */
export function authenticateDevice(
  context: DeviceAuthContext,
  deviceId: string,
  tokenText: string | undefined,
  nowMs = Date.now(),
): DeviceAuthResult {
  // Module identities (`<device>/<module>`) authenticate through authenticateModule.
  if (deviceId.includes('/')) return notAuthorized('a module identity needs a module token check');
  if (!tokenText) return badCredentials('no SAS token');
  const token = parseSasToken(tokenText);
  if (!token) return badCredentials('the credential is not a SAS token');

  const device = context.registry.find(deviceId);
  if (!device) return notAuthorized('device is not registered');
  if (device.status !== 'enabled') return notAuthorized('device is disabled');

  const scope = parseTokenScope(token.resource);
  const deviceResource = ['devices', deviceId];
  let keys: string[];
  if (token.keyName !== undefined) {
    const policyKeys = policyKeysFor(context, token.keyName, scope, deviceResource, 'device');
    if (!Array.isArray(policyKeys)) return policyKeys;
    keys = policyKeys;
  } else {
    // A device key signs for its own device only: sr must name exactly this hub and device.
    const exact =
      scope.segments.length === 2 && tokenGrants(scope, context.names ?? context.hostName, deviceResource);
    if (!exact) return notAuthorized('token resource (sr) names another hub or device');
    // An X.509 device has no keys (they are empty): no device token can be right for it.
    if ((device.authType ?? 'sas') !== 'sas') {
      return notAuthorized('device authenticates with X.509 certificates');
    }
    keys = [device.primaryKey, device.secondaryKey];
  }
  const failure = verifySasToken(token, keys, nowMs);
  if (failure === 'expired') return notAuthorized('token expired');
  if (failure) return notAuthorized('signature does not match the device keys');
  return { ok: true, session: { device, expiry: token.expiry } };
}

/**
 * Checks a module's SAS token as IoT Hub does: a token for `<host>/devices/<d>/modules/<m>` signed with one of the
 * module's keys, or a token of a policy with DeviceConnect whose `sr` covers the module; the device enabled and the
 * module registered. A device key does not sign for its modules: they are identities of their own.
 */
export function authenticateModule(
  context: DeviceAuthContext,
  deviceId: string,
  moduleId: string,
  tokenText: string | undefined,
  nowMs = Date.now(),
): DeviceAuthResult {
  if (!tokenText) return badCredentials('no SAS token');
  const token = parseSasToken(tokenText);
  if (!token) return badCredentials('the credential is not a SAS token');

  const device = context.registry.find(deviceId);
  if (!device) return notAuthorized('device is not registered');
  if (device.status !== 'enabled') return notAuthorized('device is disabled');
  const module = context.modules.find(deviceId, moduleId);
  if (!module) return notAuthorized('module is not registered');

  const scope = parseTokenScope(token.resource);
  const moduleResource = ['devices', deviceId, 'modules', moduleId];
  let keys: string[];
  if (token.keyName !== undefined) {
    const policyKeys = policyKeysFor(context, token.keyName, scope, moduleResource, 'module');
    if (!Array.isArray(policyKeys)) return policyKeys;
    keys = policyKeys;
  } else {
    const exact =
      scope.segments.length === 4 && tokenGrants(scope, context.names ?? context.hostName, moduleResource);
    if (!exact) return notAuthorized('token resource (sr) names another hub, device or module');
    keys = [module.primaryKey, module.secondaryKey];
  }
  const failure = verifySasToken(token, keys, nowMs);
  if (failure === 'expired') return notAuthorized('token expired');
  if (failure) return notAuthorized('signature does not match the module keys');
  return { ok: true, session: { device, module, expiry: token.expiry } };
}

/**
 * The keys a policy token must be signed with to act for an identity, or the refusal: the policy grants
 * DeviceConnect and its `sr` covers the identity (the hub, all devices, the device, or the module).
 */
function policyKeysFor(
  context: DeviceAuthContext,
  keyName: string,
  scope: TokenScope,
  resource: readonly string[],
  identity: 'device' | 'module',
): string[] | DeviceAuthResult {
  const policy = context.policy(keyName);
  if (!policy || !hasRight(policy, 'DeviceConnect')) {
    return notAuthorized(`policy "${keyName}" does not grant DeviceConnect`);
  }
  if (!tokenGrants(scope, context.names ?? context.hostName, resource)) {
    return notAuthorized(`token resource (sr) does not cover this ${identity}`);
  }
  return [policy.primaryKey, policy.secondaryKey];
}
