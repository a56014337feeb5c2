import type { SharedAccessPolicy } from '../policies';
import { hasRight } from '../policies';
import type { DeviceRecord, DeviceRegistry } from '../registry';
import { parseSasToken, verifySasToken } from './sas';
import { parseTokenScope, tokenGrants } from './token-scope';

export type ConnectVerdict =
  { ok: true; device: DeviceRecord; expiry: number } | { ok: false; returnCode: 4 | 5; reason: string };

export interface DeviceAuthContext {
  readonly hostName: string;
  readonly registry: DeviceRegistry;
  readonly policy: (keyName: string) => SharedAccessPolicy | undefined;
}

/**
 * Decides a CONNECT as IoT Hub does: client id = device id, user name `<host>/<deviceId>/?api-version=...`,
 * password a SAS token for `<host>/devices/<deviceId>` signed with one of the device's keys (or with a hub policy
 * that has DeviceConnect), not expired, device registered and enabled. 4 = bad user name or password, 5 = not authorized.
 */
export function authenticateDevice(
  context: DeviceAuthContext,
  clientId: string,
  username: string | undefined,
  password: Buffer | undefined,
  nowMs = Date.now(),
): ConnectVerdict {
  if (clientId.includes('/'))
    return { ok: false, returnCode: 5, reason: 'module identities are not supported yet' };
  const host = context.hostName.toLowerCase();
  if (!username || !username.toLowerCase().startsWith(`${host}/${clientId.toLowerCase()}/`)) {
    return {
      ok: false,
      returnCode: 4,
      reason: `user name must be "${context.hostName}/${clientId}/?api-version=..."`,
    };
  }
  if (!password || password.length === 0)
    return { ok: false, returnCode: 4, reason: 'no SAS token in the password' };
  const token = parseSasToken(password.toString('utf8'));
  if (!token) return { ok: false, returnCode: 4, reason: 'the password is not a SAS token' };

  const device = context.registry.find(clientId);
  if (!device) return { ok: false, returnCode: 5, reason: 'device is not registered' };
  if (device.status !== 'enabled') return { ok: false, returnCode: 5, reason: 'device is disabled' };

  const scope = parseTokenScope(token.resource);
  const deviceResource = ['devices', clientId];
  let keys: string[];
  if (token.keyName !== undefined) {
    const policy = context.policy(token.keyName);
    if (!policy || !hasRight(policy, 'DeviceConnect')) {
      return { ok: false, returnCode: 5, reason: `policy "${token.keyName}" does not grant DeviceConnect` };
    }
    // A policy token acts for every device its sr covers: the hub, all devices, or this one.
    if (!tokenGrants(scope, context.hostName, deviceResource)) {
      return { ok: false, returnCode: 5, reason: 'token resource (sr) does not cover this device' };
    }
    keys = [policy.primaryKey, policy.secondaryKey];
  } else {
    // A device key signs for its own device only: sr must name exactly this hub and device.
    const exact = scope.segments.length === 2 && tokenGrants(scope, context.hostName, deviceResource);
    if (!exact) {
      return { ok: false, returnCode: 5, reason: 'token resource (sr) names another hub or device' };
    }
    keys = [device.primaryKey, device.secondaryKey];
  }
  const failure = verifySasToken(token, keys, nowMs);
  if (failure === 'expired') return { ok: false, returnCode: 5, reason: 'token expired' };
  if (failure) return { ok: false, returnCode: 5, reason: 'signature does not match the device keys' };
  return { ok: true, device, expiry: token.expiry };
}
