import type { ConnectedDevices } from '../connections/connected-devices';
import { hubErrors } from '../errors';
import { identityKey, type ModuleRegistry } from '../modules/module-registry';
import type { DeviceRegistry } from '../registry';
import { withReportedPatch, withServiceChange, type DeviceTwin } from './device-twin';
import type { DeviceTwins } from './device-twins';
import { parsePropertyPatch, TwinPatchError } from './twin-properties';
import { readServiceChange } from './twin-requests';
import { asHubError, checkEtag, refusal, type TwinAnswer } from './twin-service';
import { desiredChangeBody, deviceTwinBody, serviceTwinJson, type ServiceTwinJson } from './twin-views';

/** A module twin as the service API returns it: a device twin's shape with `moduleId`, the module's etag and state. */
export interface ModuleTwinJson extends ServiceTwinJson {
  readonly moduleId: string;
}

/**
 * Module twins, with the rules of device twins (versions, etags, limits, `null` deleting, desired pushes to the
 * module's connection). The store keys each twin by `identityKey(deviceId, moduleId)` (its `deviceId` field holds
 * that key), so that one twin model serves both; the service sees `deviceId` and `moduleId` apart.
 */
export class ModuleTwinService {
  constructor(
    private readonly store: DeviceTwins,
    private readonly registry: DeviceRegistry,
    private readonly modules: ModuleRegistry,
    private readonly connections: ConnectedDevices,
    private readonly persist: () => Promise<void>,
  ) {}

  /** `GET /twins/{d}/modules/{m}`: 404001 for an unknown device, 404010 for an unknown module. */
  read(deviceId: string, moduleId: string): ModuleTwinJson {
    this.check(deviceId, moduleId);
    return this.json(deviceId, moduleId, this.store.get(identityKey(deviceId, moduleId)));
  }

  /** `PATCH /twins/{d}/modules/{m}`: merges tags and desired properties; 412 on a stale `ifMatch`. */
  update(deviceId: string, moduleId: string, body: unknown, ifMatch?: string): Promise<ModuleTwinJson> {
    return this.changeFromService(deviceId, moduleId, body, ifMatch, 'patch');
  }

  /** `PUT /twins/{d}/modules/{m}`: replaces the tags and desired properties the body holds. */
  replace(deviceId: string, moduleId: string, body: unknown, ifMatch?: string): Promise<ModuleTwinJson> {
    return this.changeFromService(deviceId, moduleId, body, ifMatch, 'replace');
  }

  /** A module reads its twin (MQTT `$iothub/twin/GET` on a module connection). */
  readForModule(deviceId: string, moduleId: string): TwinAnswer {
    if (!this.modules.find(deviceId, moduleId)) return refusal(hubErrors.moduleNotFound(deviceId, moduleId));
    return { status: 200, body: deviceTwinBody(this.store.get(identityKey(deviceId, moduleId))) };
  }

  /** A module's reported-properties patch, applied whole or not at all; answered once on disk. */
  async reportFromModule(deviceId: string, moduleId: string, payload: Buffer): Promise<TwinAnswer> {
    if (!this.modules.find(deviceId, moduleId)) return refusal(hubErrors.moduleNotFound(deviceId, moduleId));
    let twin: DeviceTwin;
    try {
      const patch = parsePropertyPatch(payload.toString('utf8'));
      twin = withReportedPatch(
        this.store.get(identityKey(deviceId, moduleId)),
        patch,
        new Date().toISOString(),
      );
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
    moduleId: string,
    body: unknown,
    ifMatch: string | undefined,
    kind: 'patch' | 'replace',
  ): Promise<ModuleTwinJson> {
    this.check(deviceId, moduleId);
    const key = identityKey(deviceId, moduleId);
    const current = this.store.get(key);
    if (ifMatch !== undefined) checkEtag(current, ifMatch);
    let twin: DeviceTwin;
    try {
      if (isObject(body) && body.moduleId !== undefined && body.moduleId !== moduleId) {
        throw new TwinPatchError(400, 'The moduleId in the body does not match the one in the URL.');
      }
      const change = readServiceChange(body, deviceId, kind);
      twin = withServiceChange(current, change, new Date().toISOString());
      this.store.set(twin);
      await this.persist();
      if (change.desired) {
        const pushed = desiredChangeBody(change.desired, twin.desired.version);
        // Deleted (and maybe created again) while the change was written: not this twin's module any more.
        if (this.store.get(key).desired.version >= twin.desired.version) {
          this.connections
            .getModule(deviceId, moduleId)
            ?.sendDesiredPropertiesPatch(pushed, twin.desired.version);
        }
      }
    } catch (error) {
      throw error instanceof TwinPatchError ? asHubError(error) : error;
    }
    return this.json(deviceId, moduleId, twin);
  }

  private check(deviceId: string, moduleId: string): void {
    this.registry.get(deviceId);
    this.modules.get(deviceId, moduleId);
  }

  private json(deviceId: string, moduleId: string, twin: DeviceTwin): ModuleTwinJson {
    const device = this.registry.describe(this.registry.get(deviceId));
    const module = this.modules.describe(this.modules.get(deviceId, moduleId));
    const base = serviceTwinJson(twin, device);
    return {
      ...base,
      deviceId,
      moduleId,
      deviceEtag: module.etag.replace(/^"|"$/g, ''),
      connectionState: module.connectionState,
      lastActivityTime: module.lastActivityTime,
      cloudToDeviceMessageCount: 0,
    };
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
