import { twinResponseTopic } from './topics';

interface Twin {
  desired: Record<string, unknown>;
  reported: Record<string, unknown>;
  desiredVersion: number;
  reportedVersion: number;
}

/**
 * A minimal in-memory device twin so that devices calling getTwin() or reporting properties get IoT Hub's answers
 * instead of hanging. Desired properties cannot be set from the service side yet.
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
    let patch: unknown;
    try {
      patch = JSON.parse(payload.toString('utf8'));
    } catch {
      return {
        topic: twinResponseTopic(400, request.requestId),
        payload: Buffer.from('{"message":"Invalid JSON"}'),
      };
    }
    if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
      return {
        topic: twinResponseTopic(400, request.requestId),
        payload: Buffer.from('{"message":"Patch must be a JSON object"}'),
      };
    }
    mergePatch(twin.reported, patch as Record<string, unknown>);
    twin.reportedVersion++;
    return {
      topic: twinResponseTopic(204, request.requestId, twin.reportedVersion),
      payload: Buffer.alloc(0),
    };
  }

  private twinOf(deviceId: string): Twin {
    let twin = this.twins.get(deviceId);
    if (!twin) {
      twin = { desired: {}, reported: {}, desiredVersion: 1, reportedVersion: 1 };
      this.twins.set(deviceId, twin);
    }
    return twin;
  }
}

/** JSON merge patch semantics used by twins: null removes a property, objects merge recursively. */
function mergePatch(target: Record<string, unknown>, patch: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      Reflect.deleteProperty(target, key);
    } else if (typeof value === 'object' && !Array.isArray(value)) {
      const existing = target[key];
      const child =
        typeof existing === 'object' && existing !== null && !Array.isArray(existing) ? existing : {};
      mergePatch(child as Record<string, unknown>, value as Record<string, unknown>);
      target[key] = child;
    } else {
      target[key] = value;
    }
  }
}
