import { randomUUID } from 'node:crypto';
import type { ConnectedDevices } from '../connections/connected-devices';
import { HubError, hubErrors } from '../errors';
import type { DeviceRegistry } from '../registry';
import { twinEtag, withReportedPatch, withServiceChange, type DeviceTwin } from './device-twin';
import type { DeviceTwins } from './device-twins';
import { parsePropertyPatch, TwinPatchError } from './twin-properties';
import { readServiceChange } from './twin-requests';
import { desiredChangeBody, deviceTwinBody, serviceTwinJson, type ServiceTwinJson } from './twin-views';

/** The hub's answer to a device's twin request, for its transport to deliver (MQTT: `$iothub/twin/res/...`). */
export type TwinAnswer =
  | { readonly status: 200; readonly body: Buffer }
  | { readonly status: 204; readonly version: number }
  | { readonly status: 400 | 404 | 413; readonly body: Buffer };

/**
 * Device twins as IoT Hub serves them, whatever the transport: the service reads, patches and replaces tags and
 * desired properties (with etags), the device reads its twin and patches reported properties, and every desired
 * change is pushed to the device's connection when it listens. Each change is on disk (`persist`) before it is
 * answered or pushed: a version a device or service has seen is never lost, nor given again to other content.
 */
export class TwinService {
  constructor(
    private readonly store: DeviceTwins,
    private readonly registry: DeviceRegistry,
    private readonly connections: ConnectedDevices,
    /** Persists the registry with the twins; resolves once every change so far is on disk. */
    private readonly persist: () => Promise<void>,
  ) {}

  /** `GET /twins/{id}`: 404 DeviceNotFound for an unknown device (a disabled one still has its twin). */
  read(deviceId: string): ServiceTwinJson {
    return this.json(this.store.get(this.registry.get(deviceId).deviceId));
  }

  /** `PATCH /twins/{id}`: merges tags and desired properties; 412 when `ifMatch` is not the twin's etag. */
  update(deviceId: string, body: unknown, ifMatch?: string): Promise<ServiceTwinJson> {
    return this.changeFromService(deviceId, body, ifMatch, 'patch');
  }

  /** `PUT /twins/{id}`: replaces the tags and desired properties the body holds. */
  replace(deviceId: string, body: unknown, ifMatch?: string): Promise<ServiceTwinJson> {
    return this.changeFromService(deviceId, body, ifMatch, 'replace');
  }

  /** A device reads its twin: desired and reported properties with their versions. */
  readForDevice(deviceId: string): TwinAnswer {
    if (!this.registry.find(deviceId)) return refusal(hubErrors.deviceNotFound(deviceId));
    return { status: 200, body: deviceTwinBody(this.store.get(deviceId)) };
  }

  /** A device's reported-properties patch (JSON text), applied whole or not at all; answered once on disk. */
  async reportFromDevice(deviceId: string, payload: Buffer): Promise<TwinAnswer> {
    // The device may have been deleted while its publish was on its way: no twin to write to then.
    if (!this.registry.find(deviceId)) return refusal(hubErrors.deviceNotFound(deviceId));
    let twin: DeviceTwin;
    try {
      const patch = parsePropertyPatch(payload.toString('utf8'));
      twin = withReportedPatch(this.store.get(deviceId), patch, new Date().toISOString());
    } catch (error) {
      if (!(error instanceof TwinPatchError)) throw error;
      return refusal(asHubError(error));
    }
    this.store.set(twin);
    await this.persist();
    return { status: 204, version: twin.reported.version };
  }

  private async changeFromService(
    deviceId: string,
    body: unknown,
    ifMatch: string | undefined,
    kind: 'patch' | 'replace',
  ): Promise<ServiceTwinJson> {
    this.registry.get(deviceId);
    const current = this.store.get(deviceId);
    if (ifMatch !== undefined) checkEtag(current, ifMatch);
    let twin: DeviceTwin;
    try {
      const change = readServiceChange(body, deviceId, kind);
      twin = withServiceChange(current, change, new Date().toISOString());
      this.store.set(twin);
      await this.persist();
      if (change.desired) this.push(twin, desiredChangeBody(change.desired, twin.desired.version));
    } catch (error) {
      throw error instanceof TwinPatchError ? asHubError(error) : error;
    }
    return this.json(twin);
  }

  /**
   * Hands a desired change to the device's connection, if it listens. IoT Hub keeps no notification for a device
   * that is not connected or not subscribed: it reads its twin when it comes back (the SDKs do on reconnecting).
   */
  private push(twin: DeviceTwin, body: Buffer): void {
    // The device was deleted (and maybe created again) while the change was written: it is not this twin's any more.
    if (this.store.get(twin.deviceId).desired.version < twin.desired.version) return;
    this.connections.get(twin.deviceId)?.sendDesiredPropertiesPatch(body, twin.desired.version);
  }

  private json(twin: DeviceTwin): ServiceTwinJson {
    return serviceTwinJson(twin, this.registry.describe(this.registry.get(twin.deviceId)));
  }
}

/** `*` matches any twin; otherwise the etag, quoted or not (the SDKs quote it), weak prefix ignored. */
export function checkEtag(twin: DeviceTwin, ifMatch: string): void {
  const unquoted = ifMatch.trim().replace(/^W\//, '').replace(/^"|"$/g, '');
  if (unquoted === '*' || unquoted === twinEtag(twin)) return;
  throw hubErrors.preconditionFailed(
    `The etag ${JSON.stringify(ifMatch.slice(0, 64))} does not match the twin's current etag: read the twin again.`,
  );
}

export function asHubError(error: TwinPatchError): HubError {
  return error.status === 413
    ? hubErrors.messageTooLarge(error.message)
    : hubErrors.argumentInvalid(error.message);
}

/**
 * A refused device request: the status on the response topic, and a body with IoT Hub's `errorCode`, which is what
 * the device SDKs read to fail the call (azure-iot-device-mqtt ignores the status and looks for `errorCode`).
 */
export function refusal(error: HubError): TwinAnswer {
  const status = error.httpStatus === 413 ? 413 : error.httpStatus === 404 ? 404 : 400;
  const body = {
    errorCode: error.errorCode,
    trackingId: randomUUID().replace(/-/g, ''),
    message: error.message,
    timestampUtc: new Date().toISOString(),
  };
  return { status, body: Buffer.from(JSON.stringify(body)) };
}
