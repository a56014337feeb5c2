import type { TLSSocket } from 'node:tls';
import type { DeviceSession } from '../../hub/auth/device-auth';
import { parseSasToken } from '../../hub/auth/sas';
import type { ServiceCaller } from '../../hub/auth/service-auth';
import { parseTokenScope } from '../../hub/auth/token-scope';
import {
  authenticateDeviceCertificate,
  presentedCertificateOf,
  type PresentedCertificate,
} from '../../hub/auth/x509-auth';
import { hubErrors } from '../../hub/errors';
import type { IotHub } from '../../hub/hub';

/**
 * Who sent a request, once its token proved genuine: a shared access policy (the service API, and the device API
 * for policies with DeviceConnect) or a device or module with its own key (the device API only).
 */
export type Caller =
  | { readonly kind: 'policy'; readonly caller: ServiceCaller }
  | { readonly kind: 'identity'; readonly session: DeviceSession }
  /** No token, but a TLS client certificate: an X.509 device, whose identity the route's device id names. */
  | { readonly kind: 'certificate'; readonly presented: PresentedCertificate };

/**
 * Authenticates the `Authorization` header before any routing, as IoT Hub does (an unauthenticated request learns
 * nothing, not even whether a path exists): a policy token (`skn`) is checked as for the service API; a token
 * without `skn` is an identity's, checked by the hub's own device (or module) authentication against the identity
 * its `sr` names. Anything else is 401.
 */
export function authenticateCaller(hub: IotHub, header: string | undefined, socket?: TLSSocket): Caller {
  if (header === undefined) {
    const presented = presentedCertificateOf(socket);
    if (presented) return { kind: 'certificate', presented };
  }
  const token = header === undefined ? undefined : parseSasToken(header);
  if (!token || token.keyName !== undefined)
    return { kind: 'policy', caller: hub.authenticateService(header) };
  const scope = parseTokenScope(token.resource);
  const [collection, deviceId, modules, moduleId] = scope.segments;
  if (!hub.names.includes(scope.host) || collection?.toLowerCase() !== 'devices' || !deviceId) {
    throw hubErrors.unauthorized(
      `The token's resource (sr) names neither this hub (${hub.hostName}) nor one of its devices.`,
    );
  }
  const result =
    scope.segments.length === 2
      ? hub.authenticateDevice(deviceId, header)
      : scope.segments.length === 4 && modules?.toLowerCase() === 'modules' && moduleId
        ? hub.authenticateModule(deviceId, moduleId, header)
        : undefined;
  if (!result?.ok) {
    throw hubErrors.unauthorized(
      `The device token was refused: ${result ? result.reason : 'its resource (sr) is not a device or module'}.`,
    );
  }
  return { kind: 'identity', session: result.session };
}

/**
 * Authorizes a caller for the device API of `deviceId`, exactly as MQTT CONNECT would let it in as that device:
 * the hub's device authentication decides (the device's own token, or a policy token with DeviceConnect whose
 * `sr` covers the device; the device registered and enabled). A module's token does not act for its device.
 * Every refusal is 401, as IoT Hub answers.
 */
export function authorizeDeviceCaller(
  hub: IotHub,
  caller: Caller,
  header: string | undefined,
  deviceId: string,
): DeviceSession {
  if (caller.kind === 'certificate') {
    const result = authenticateDeviceCertificate({ registry: hub.registry }, deviceId, caller.presented);
    if (!result.ok) throw hubErrors.unauthorized(`The client certificate was refused: ${result.reason}.`);
    return result.session;
  }
  if (caller.kind === 'identity') {
    const { device, module } = caller.session;
    if (module || device.deviceId !== deviceId) {
      throw hubErrors.unauthorized(
        `The token is for ${module ? `module ${JSON.stringify(module.moduleId)} of ` : ''}device ` +
          `${JSON.stringify(device.deviceId)}; it does not act for device ${JSON.stringify(deviceId.slice(0, 128))}.`,
      );
    }
    return caller.session;
  }
  const result = hub.authenticateDevice(deviceId, header);
  if (!result.ok) throw hubErrors.unauthorized(`Not authorized as this device: ${result.reason}.`);
  return result.session;
}
