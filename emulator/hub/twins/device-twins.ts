import { twinResponseTopic } from '../../transports/mqtt/topics';
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

/**
 * A minimal in-memory device twin so that devices calling getTwin() or reporting properties get IoT Hub's answers
 * instead of hanging. Reported patches follow IoT Hub's rules (names, nesting, sizes), answered with its
 * statuses. Desired properties cannot be set from the service side yet.
 */
export class DeviceTwins {
  private readonly twins = new Map<string, Twin>();

  handle(
    deviceId: string,
    request: { kind: 'twin-get' | 'twin-reported'; requestId: string },
    payload: Buffer,
  ): { topic: string; payload: Buffer } {
    const twin = this.twinOf(deviceId);
    if (request.kind === 'twin-get') {
      const body = {
        desired: { ...twin.desired, $version: twin.desiredVersion },
        reported: { ...twin.reported, $version: twin.reportedVersion },
      };
      return { topic: twinResponseTopic(200, request.requestId), payload: Buffer.from(JSON.stringify(body)) };
    }
    try {
      const patch = parsePropertyPatch(payload.toString('utf8'));
      const reported = applyPatch(twin.reported, patch);
      checkDocumentSize(reported, TWIN_LIMITS.propertiesBytes, 'reported');
      twin.reported = reported;
    } catch (error) {
      if (!(error instanceof TwinPatchError)) throw error;
      return {
        topic: twinResponseTopic(error.status, request.requestId),
        payload: Buffer.from(JSON.stringify({ message: error.message })),
      };
    }
    twin.reportedVersion++;
    return {
      topic: twinResponseTopic(204, request.requestId, twin.reportedVersion),
      payload: Buffer.alloc(0),
    };
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
