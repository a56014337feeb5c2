import { randomUUID } from 'node:crypto';

/**
 * An error the emulator answers with, carrying IoT Hub's numeric error code (e.g. 404001) and its name
 * (e.g. DeviceNotFound), so that REST bodies can be written in the shapes the real service uses.
 */
export class HubError extends Error {
  override readonly name = 'HubError';
  constructor(
    readonly httpStatus: number,
    readonly errorCode: number,
    readonly codeName: string,
    message: string,
  ) {
    super(message);
  }
}

export const hubErrors = {
  // Numeric codes as Microsoft.Azure.Devices lists them (IotHubServiceErrorCode).
  /** IoT Hub's generic 400, e.g. for a query it cannot read. */
  badRequest: (message: string) => new HubError(400, 400000, 'BadRequest', message),
  invalidProtocolVersion: (message: string) => new HubError(400, 400001, 'InvalidProtocolVersion', message),
  argumentInvalid: (message: string) => new HubError(400, 400004, 'ArgumentInvalid', message),
  formatError: (message: string) => new HubError(400, 400006, 'IotHubFormatError', message),
  unauthorized: (message: string) => new HubError(401, 401002, 'IotHubUnauthorizedAccess', message),
  forbidden: (message: string) => new HubError(403, 403001, 'IotHubUnauthorizedAccess', message),
  deviceNotFound: (deviceId: string) =>
    new HubError(404, 404001, 'DeviceNotFound', `Device ${JSON.stringify(deviceId)} not found or disabled.`),
  moduleNotFound: (deviceId: string, moduleId: string) =>
    new HubError(
      404,
      404010,
      'ModuleNotFound',
      `Module ${JSON.stringify(moduleId)} on device ${JSON.stringify(deviceId)} not found.`,
    ),
  deviceMaximumQueueDepthExceeded: (message: string) =>
    new HubError(403, 403004, 'DeviceMaximumQueueDepthExceeded', message),
  deviceMessageLockLost: (message: string) => new HubError(412, 412002, 'DeviceMessageLockLost', message),
  deviceNotOnline: (message = 'Timed out waiting for device to connect.') =>
    new HubError(404, 404103, 'DeviceNotOnline', message),
  jobNotFound: (jobId: string) =>
    new HubError(404, 404002, 'JobNotFound', `Job ${JSON.stringify(jobId.slice(0, 128))} not found.`),
  notFound: (message: string) => new HubError(404, 404000, 'NotFound', message),
  methodNotAllowed: (message: string) => new HubError(405, 405000, 'MethodNotAllowed', message),
  deviceAlreadyExists: (deviceId: string) =>
    new HubError(
      409,
      409001,
      'DeviceAlreadyExists',
      `A device with ID ${JSON.stringify(deviceId)} is already registered.`,
    ),
  moduleAlreadyExists: (deviceId: string, moduleId: string) =>
    new HubError(
      409,
      409301,
      'ModuleAlreadyExistsOnDevice',
      `A module with ID ${JSON.stringify(moduleId)} is already registered on device ${JSON.stringify(deviceId)}.`,
    ),
  /** A job id already in use: IoT Hub answers with its generic conflict code. */
  jobAlreadyExists: (jobId: string) =>
    new HubError(409, 409000, 'Conflict', `A job with ID ${JSON.stringify(jobId)} already exists.`),
  preconditionFailed: (message: string) => new HubError(412, 412001, 'PreconditionFailed', message),
  messageTooLarge: (message: string) => new HubError(413, 413001, 'MessageTooLarge', message),
  /** A device's answer the hub cannot pass on (too large); azure-iothub maps 502 to BadDeviceResponseError. */
  badDeviceResponse: (message: string) => new HubError(502, 502101, 'BadDeviceResponse', message),
  gatewayTimeout: () =>
    new HubError(504, 504101, 'GatewayTimeout', 'Timed out waiting for the response from device.'),
};

export type ErrorBodyShape = 'json-in-message' | 'error-code-prefix';

/**
 * IoT Hub wraps errors in `{Message, ExceptionMessage}`. Direct-method routes put a JSON document
 * (errorCode, trackingId, message, timestampUtc) in `Message`; registry routes write `ErrorCode:<Name>;<text>`,
 * which is what azure-iothub turns into typed errors such as DeviceNotFoundError.
 */
export function errorBody(error: HubError, shape: ErrorBodyShape): { body: string; trackingId: string } {
  const trackingId = `${randomUUID().replace(/-/g, '')}-G:0-TimeStamp:${new Date().toISOString()}`;
  const timestampUtc = new Date().toISOString();
  const message =
    shape === 'json-in-message'
      ? JSON.stringify({
          errorCode: error.errorCode,
          trackingId,
          message: error.message,
          info: {},
          timestampUtc,
        })
      : `ErrorCode:${error.codeName};${error.message}`;
  const exceptionMessage = shape === 'json-in-message' ? '' : `Tracking ID:${trackingId}`;
  return { body: JSON.stringify({ Message: message, ExceptionMessage: exceptionMessage }), trackingId };
}
