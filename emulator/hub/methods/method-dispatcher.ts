import { METHOD_PAYLOAD_MAX_BYTES } from '../../../src/lib/iothub-rules';
import type { HubActivity } from '../activity';
import { HubError, hubErrors } from '../errors';
import type { ConnectedDevices } from '../connections/connected-devices';
import { identityKey } from '../modules/module-registry';

export interface MethodInvocation {
  readonly methodName: string;
  readonly payload: unknown;
  readonly responseTimeoutInSeconds: number;
  readonly connectTimeoutInSeconds: number;
}

export interface MethodResult {
  readonly status: number;
  readonly payload: unknown;
}

interface PendingCall {
  /** The identity called: the device id, or `<device>/<module>`. */
  readonly identity: string;
  readonly resolve: (result: MethodResult) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

interface ConnectWaiter {
  readonly resolve: () => void;
}

/**
 * Direct methods as IoT Hub runs them, whatever the device is connected with: wait up to connectTimeout for the
 * device to be online and ready for methods, send the request with a fresh request id, and wait up to
 * responseTimeout for the answer with that id. A device that disconnects fails its pending calls at once.
 */
export class MethodDispatcher {
  private readonly pending = new Map<string, PendingCall>();
  private readonly connectWaiters = new Map<string, Set<ConnectWaiter>>();
  private nextRequestId = 1;

  constructor(
    private readonly devices: ConnectedDevices,
    private readonly activity?: HubActivity,
  ) {
    devices.on('methods-ready', (deviceId) => {
      this.wake(deviceId);
    });
    devices.on('module-methods-ready', (deviceId, moduleId) => {
      this.wake(identityKey(deviceId, moduleId));
    });
    devices.on('disconnected', ({ deviceId }) => {
      this.failPending(deviceId);
    });
    devices.on('module-disconnected', ({ deviceId, moduleId }) => {
      this.failPending(identityKey(deviceId, moduleId));
    });
  }

  private wake(identity: string): void {
    const waiters = this.connectWaiters.get(identity);
    if (!waiters) return;
    this.connectWaiters.delete(identity);
    for (const waiter of waiters) waiter.resolve();
  }

  private failPending(identity: string): void {
    for (const [requestId, call] of this.pending) {
      if (call.identity !== identity) continue;
      this.settle(requestId);
      call.reject(hubErrors.deviceNotOnline('The device disconnected before it answered the method call.'));
    }
  }

  /** Runs a call on a module's connection (`POST /twins/{d}/modules/{m}/methods`), as `invoke` does on a device's. */
  invokeOnModule(deviceId: string, moduleId: string, invocation: MethodInvocation): Promise<MethodResult> {
    return this.invoke(deviceId, invocation, moduleId);
  }

  /** Runs a call and reports how it ended to the hub's activity observers. */
  async invoke(deviceId: string, invocation: MethodInvocation, moduleId?: string): Promise<MethodResult> {
    const started = performance.now();
    const report = (status: number | undefined, error: string | undefined) => {
      this.activity?.emit('method-call', {
        deviceId,
        ...(moduleId === undefined ? {} : { moduleId }),
        methodName: invocation.methodName,
        status,
        error,
        durationMs: performance.now() - started,
      });
    };
    try {
      const result = await this.call(identityKey(deviceId, moduleId), invocation);
      report(result.status, undefined);
      return result;
    } catch (error) {
      report(undefined, error instanceof HubError ? error.codeName : 'Error');
      throw error;
    }
  }

  private async call(identity: string, invocation: MethodInvocation): Promise<MethodResult> {
    if (!this.acceptsMethods(identity)) {
      if (invocation.connectTimeoutInSeconds === 0) throw hubErrors.deviceNotOnline();
      const online = await this.waitForDevice(identity, invocation.connectTimeoutInSeconds * 1000);
      if (!online) throw hubErrors.deviceNotOnline();
    }
    const requestId = (this.nextRequestId++).toString(16);
    const body = Buffer.from(JSON.stringify(invocation.payload ?? null));
    return new Promise<MethodResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.settle(requestId);
        reject(hubErrors.gatewayTimeout());
      }, invocation.responseTimeoutInSeconds * 1000);
      this.pending.set(requestId, { identity, resolve, reject, timer });
      const sent = this.devices
        .getIdentity(identity)
        ?.sendMethodRequest({ methodName: invocation.methodName, requestId, body });
      if (sent !== true) {
        this.settle(requestId);
        reject(hubErrors.deviceNotOnline());
      }
    });
  }

  /** Fails every waiting call; used when the emulator stops. */
  cancelAll(): void {
    for (const [requestId, call] of this.pending) {
      this.settle(requestId);
      call.reject(hubErrors.deviceNotOnline('The emulator is shutting down.'));
    }
    for (const waiters of this.connectWaiters.values()) for (const waiter of waiters) waiter.resolve();
    this.connectWaiters.clear();
  }

  private waitForDevice(deviceId: string, timeoutMs: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      let waiters = this.connectWaiters.get(deviceId);
      if (!waiters) {
        waiters = new Set();
        this.connectWaiters.set(deviceId, waiters);
      }
      const set = waiters;
      const waiter: ConnectWaiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve(this.acceptsMethods(deviceId));
        },
      };
      const timer = setTimeout(() => {
        set.delete(waiter);
        if (set.size === 0 && this.connectWaiters.get(deviceId) === set) this.connectWaiters.delete(deviceId);
        resolve(false);
      }, timeoutMs);
      set.add(waiter);
    });
  }

  private acceptsMethods(identity: string): boolean {
    return this.devices.getIdentity(identity)?.acceptsMethods() === true;
  }

  /** A device's (or, with `moduleId`, a module's) answer, as its transport received it. */
  respond(deviceId: string, requestId: string, status: number, payload: Buffer, moduleId?: string): void {
    const call = this.pending.get(requestId);
    // Unknown, late, or another identity's $rid: ignored as IoT Hub does.
    if (call?.identity !== identityKey(deviceId, moduleId)) return;
    this.settle(requestId);
    if (payload.length > METHOD_PAYLOAD_MAX_BYTES) {
      call.reject(
        hubErrors.badDeviceResponse(
          `The device answered with ${payload.length} bytes; direct method responses are limited to ${METHOD_PAYLOAD_MAX_BYTES} bytes (128 KB).`,
        ),
      );
      return;
    }
    call.resolve({ status, payload: parseResponsePayload(payload) });
  }

  private settle(requestId: string): void {
    const call = this.pending.get(requestId);
    if (!call) return;
    clearTimeout(call.timer);
    this.pending.delete(requestId);
  }
}

/** Devices answer with JSON; an empty answer is null, anything else that is not JSON is kept as a string. */
function parseResponsePayload(payload: Buffer): unknown {
  if (payload.length === 0) return null;
  const text = payload.toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
