import type { Connection } from 'rhea';
import type { DeviceSession } from '../../hub/auth/device-auth';
import { parseSasToken } from '../../hub/auth/sas';
import type { ServiceCaller } from '../../hub/auth/service-auth';
import { parseTokenScope } from '../../hub/auth/token-scope';
import { HubError, hubErrors } from '../../hub/errors';
import type { IotHub } from '../../hub/hub';

/**
 * A token a client put on IoT Hub's `$cbs` (or sent as its SASL PLAIN password): a device's (audience
 * `<host>/devices/<id>`) or a shared access policy's for the hub (audience `<host>`).
 */
export type IotHubClaim =
  | {
      readonly kind: 'device';
      readonly audience: string;
      readonly session: DeviceSession;
      readonly expiresAtMs: number;
    }
  | {
      readonly kind: 'service';
      readonly audience: string;
      readonly caller: ServiceCaller;
      /** Kept to authenticate devices with, when the policy grants DeviceConnect. */
      readonly token: string;
      readonly expiresAtMs: number;
    };

/**
 * Checks a token for an audience with IoT Hub's rules (the same as MQTT CONNECT and REST use): a device
 * audience takes the device's own token or a DeviceConnect policy token covering it; the hub's host name takes a
 * policy token. Throws HubError (401) otherwise.
 */
export function verifyIotHubClaim(hub: IotHub, audienceText: string, token: string): IotHubClaim {
  const audience = safeDecode(audienceText);
  const scope = parseTokenScope(audience);
  if (!hub.names.includes(scope.host)) {
    throw hubErrors.unauthorized(
      `The audience "${audience.slice(0, 200)}" is not this hub (${hub.hostName}).`,
    );
  }
  const parsed = parseSasToken(token);
  if (!parsed) throw hubErrors.unauthorized('The token is not a SharedAccessSignature.');
  const expiresAtMs = parsed.expiry * 1000;
  const [collection, deviceId, ...rest] = scope.segments;
  if (collection === undefined) {
    const caller = hub.authenticateService(token);
    return { kind: 'service', audience, caller, token, expiresAtMs };
  }
  if (collection.toLowerCase() !== 'devices' || deviceId === undefined || rest.length > 0) {
    throw hubErrors.unauthorized(
      `The audience "${audience.slice(0, 200)}" is neither the hub nor a device; modules are not supported yet.`,
    );
  }
  const verdict = hub.authenticateDevice(deviceId, token);
  if (!verdict.ok) {
    throw hubErrors.unauthorized(`Device ${JSON.stringify(deviceId)} refused: ${verdict.reason}.`);
  }
  return { kind: 'device', audience, session: verdict.session, expiresAtMs };
}

/** The claims each connection holds; a renewal for the same audience replaces the older claim. */
export class IotHubClaims {
  private readonly claims = new WeakMap<Connection, Map<string, IotHubClaim>>();

  put(connection: Connection, claim: IotHubClaim): void {
    const held = this.claims.get(connection) ?? new Map<string, IotHubClaim>();
    held.set(claimKey(claim.audience), claim);
    this.claims.set(connection, held);
  }

  /**
   * The session a device link of `deviceId` rests on: the device's own claim, or a policy claim with
   * DeviceConnect that covers the device. Undefined when no unexpired claim lets the connection act as it.
   */
  deviceSession(
    hub: IotHub,
    connection: Connection,
    deviceId: string,
    nowMs = Date.now(),
  ): DeviceSession | undefined {
    const held = [...(this.claims.get(connection)?.values() ?? [])].filter(
      (claim) => claim.expiresAtMs > nowMs,
    );
    for (const claim of held) {
      if (claim.kind === 'device' && claim.session.device.deviceId === deviceId) return claim.session;
    }
    for (const claim of held) {
      if (claim.kind !== 'service') continue;
      const verdict = hub.authenticateDevice(deviceId, claim.token);
      if (verdict.ok) return verdict.session;
    }
    return undefined;
  }

  /** The policy caller of the connection's unexpired hub-level claim, if any. */
  serviceCaller(connection: Connection, nowMs = Date.now()): ServiceCaller | undefined {
    for (const claim of this.claims.get(connection)?.values() ?? []) {
      if (claim.kind === 'service' && claim.expiresAtMs > nowMs) return claim.caller;
    }
    return undefined;
  }
}

/** An AMQP error for a refused claim or link, from the hub's error. */
export function amqpConditionOf(error: HubError): string {
  if (error.httpStatus === 404) return 'amqp:not-found';
  if (error.httpStatus === 401 || error.httpStatus === 403) return 'amqp:unauthorized-access';
  if (error.httpStatus === 413) return 'amqp:link:message-size-exceeded';
  return 'amqp:internal-error';
}

/** Host names are case-insensitive, device ids are not: `<HOST>/devices/Dev1` and `<host>/devices/dev1` differ. */
function claimKey(audience: string): string {
  const slash = audience.indexOf('/');
  return slash < 0 ? audience.toLowerCase() : audience.slice(0, slash).toLowerCase() + audience.slice(slash);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
