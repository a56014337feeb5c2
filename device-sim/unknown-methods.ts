import { EventEmitter } from 'node:events';
import { DeviceMethodResponse } from 'azure-iot-device';
import { Amqp } from 'azure-iot-device-amqp';

/** What the device SDK's transports hand to the client for each method request (MQTT and AMQP alike). */
interface MethodMessage {
  readonly requestId: string;
  readonly methods: { readonly methodName: string };
}

/** A device transport as the SDK dispatches methods through it: one `method_<name>` event per request. */
export type MethodTransport = EventEmitter &
  ConstructorParameters<typeof DeviceMethodResponse>[1] & {
    onDeviceMethod(methodName: string, callback: (message: MethodMessage) => void): void;
  };

const METHOD_EVENT_PREFIX = 'method_';

/**
 * Answers, at once, the direct methods the device has no handler for: 404 with the methods it does support, as
 * the IoT Hub quickstart's device does. The Node device SDK has no catch-all: its transport emits
 * `method_<name>` for every request and the client listens only to the names it registered, so an unknown name
 * gets no answer and the caller waits for its whole response timeout. This watches the transport's events for
 * names nobody listens to. It checks the SDK's shape first and throws if that changed, rather than silently
 * letting calls time out again. Works on both transports: see `methodEventSource`.
 */
export function answerUnknownMethods(
  transport: MethodTransport,
  supportedMethods: () => readonly string[],
  log: (line: string) => void,
): void {
  if (typeof transport.onDeviceMethod !== 'function' || typeof transport.sendMethodResponse !== 'function') {
    throw new Error(
      'The device SDK transport no longer has onDeviceMethod/sendMethodResponse: device-sim/unknown-methods.ts ' +
        'must follow how azure-iot-device dispatches direct methods now.',
    );
  }
  const source = methodEventSource(transport);
  const emit = source.emit.bind(source);
  source.emit = (event: string | symbol, ...args: unknown[]): boolean => {
    if (
      typeof event === 'string' &&
      event.startsWith(METHOD_EVENT_PREFIX) &&
      source.listenerCount(event) === 0 &&
      isMethodMessage(args[0])
    ) {
      const name = args[0].methods.methodName;
      const supported = supportedMethods();
      const message = `Direct method ${name} not defined. This device supports: ${supported.join(', ') || 'none'}.`;
      log(`Direct method ${name} is not defined here; answered 404`);
      new DeviceMethodResponse(args[0].requestId, transport)
        .send(404, { message })
        .catch((error: unknown) => {
          log(`could not answer the unknown method ${name}: ${(error as Error).message}`);
        });
      return true;
    }
    return emit(event, ...args);
  };
}

/**
 * Where the transport emits `method_<name>`: azure-iot-device-mqtt's Mqtt on itself; azure-iot-device-amqp's Amqp on
 * its method client (the private `_deviceMethodClient`, which reads the `/devices/{id}/methods/devicebound` link and
 * holds the listeners `onDeviceMethod` registers). Answers still go through the transport's sendMethodResponse.
 */
function methodEventSource(transport: MethodTransport): EventEmitter {
  if (!(transport instanceof Amqp)) return transport;
  const methodClient = (transport as unknown as { _deviceMethodClient?: unknown })._deviceMethodClient;
  if (
    !(methodClient instanceof EventEmitter) ||
    typeof (methodClient as { onDeviceMethod?: unknown }).onDeviceMethod !== 'function'
  ) {
    throw new Error(
      'The AMQP device transport no longer dispatches direct methods through _deviceMethodClient: ' +
        'device-sim/unknown-methods.ts must follow how azure-iot-device-amqp does it now.',
    );
  }
  return methodClient as EventEmitter;
}

function isMethodMessage(value: unknown): value is MethodMessage {
  if (typeof value !== 'object' || value === null) return false;
  const { requestId, methods } = value as { requestId?: unknown; methods?: { methodName?: unknown } };
  return typeof requestId === 'string' && typeof methods?.methodName === 'string';
}
