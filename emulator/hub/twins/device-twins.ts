import {
  applyPatch,
  checkDocumentSize,
  emptyTwinObject,
  parsePropertyPatch,
  TWIN_LIMITS,
  TwinPatchError,
  type TwinObject,
} from './twin-properties';

interface Twin {
  desired: TwinObject;
  reported: TwinObject;
  desiredVersion: number;
  reportedVersion: number;
}

/** The hub's answer to a device's twin request, for its transport to deliver (MQTT: `$iothub/twin/res/...`). */
export type TwinAnswer =
  | { readonly status: 200; readonly body: Buffer }
  | { readonly status: 204; readonly version: number }
  | { readonly status: 400 | 413; readonly body: Buffer };

/**
 * A minimal in-memory device twin so that devices reading their twin or reporting properties get IoT Hub's answers
 * instead of hanging. Reported patches follow IoT Hub's rules (names, nesting, sizes), answered with its
 * statuses. Desired properties cannot be set from the service side yet.
 */
export class DeviceTwins {
  private readonly twins = new Map<string, Twin>();

  /** The device's view of its twin: desired and reported properties with their versions. */
  get(deviceId: string): TwinAnswer {
    const twin = this.twinOf(deviceId);
    const body = {
      desired: { ...twin.desired, $version: twin.desiredVersion },
      reported: { ...twin.reported, $version: twin.reportedVersion },
    };
    return { status: 200, body: Buffer.from(JSON.stringify(body)) };
  }

  /** Applies a reported-properties patch (client JSON) whole, or not at all. */
  patchReported(deviceId: string, payload: Buffer): TwinAnswer {
    const twin = this.twinOf(deviceId);
    try {
      const patch = parsePropertyPatch(payload.toString('utf8'));
      const reported = applyPatch(twin.reported, patch);
      checkDocumentSize(reported, TWIN_LIMITS.propertiesBytes, 'reported');
      twin.reported = reported;
    } catch (error) {
      if (!(error instanceof TwinPatchError)) throw error;
      return { status: error.status, body: Buffer.from(JSON.stringify({ message: error.message })) };
    }
    twin.reportedVersion++;
    return { status: 204, version: twin.reportedVersion };
  }

  /** Forgets a device's twin (the device was deleted). */
  forget(deviceId: string): void {
    this.twins.delete(deviceId);
  }

  private twinOf(deviceId: string): Twin {
    let twin = this.twins.get(deviceId);
    if (!twin) {
      twin = {
        desired: emptyTwinObject(),
        reported: emptyTwinObject(),
        desiredVersion: 1,
        reportedVersion: 1,
      };
      this.twins.set(deviceId, twin);
    }
    return twin;
  }
}
