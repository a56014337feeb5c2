import { errors as commonErrors } from 'azure-iot-common';
import { translateError } from 'azure-iothub/dist/amqp_service_errors';
import {
  HubCallTimeoutError,
  mapError,
  parseHubErrorBody,
  RequestTooLargeError,
} from '../../../../src/lib/error-mapping';
import { SettingsError, ValidationError } from '../../../../src/lib/errors';

const host = 'hub.azure-devices.net';

/** An error as azure-iot-http-base builds it from an HTTP failure. */
function httpError(statusCode: number, body: string, name = 'Error', headers: Record<string, string> = {}) {
  return Object.assign(new Error('failed'), { name, response: { statusCode, headers }, responseBody: body });
}

const methodsBody = (errorCode: number, message = 'text') =>
  JSON.stringify({
    Message: JSON.stringify({ errorCode, trackingId: 'abc-123', message, timestampUtc: 'now' }),
    ExceptionMessage: '',
  });

describe('mapError', () => {
  it.each([
    [404001, 404, 'DeviceNotFound'],
    [404103, 404, 'DeviceNotOnline'],
    [504101, 504, 'GatewayTimeout'],
  ])('maps IoT Hub error %d to %d %s with the trackingId', (errorCode, status, code) => {
    const reply = mapError(httpError(status, methodsBody(errorCode)), host);
    expect(reply).toMatchObject({ status, code, trackingId: 'abc-123' });
  });

  it('reads the older ErrorCode:Name body shape', () => {
    const body = JSON.stringify({
      Message: 'ErrorCode:DeviceNotFound;Device x not found',
      ExceptionMessage: 'Tracking ID:t-9 ...',
    });
    expect(mapError(httpError(404, body, 'DeviceNotFoundError'), host)).toMatchObject({
      status: 404,
      code: 'DeviceNotFound',
      trackingId: 't-9',
    });
  });

  it('turns throttling into 429 with Retry-After, from the hub when it says', () => {
    expect(
      mapError(httpError(429, methodsBody(429001), 'ThrottlingError', { 'retry-after': '12' }), host),
    ).toMatchObject({
      status: 429,
      code: 'Throttled',
      retryAfterSeconds: 12,
    });
    expect(
      mapError(httpError(429, methodsBody(429002), 'ThrottlingError'), host).retryAfterSeconds,
    ).toBeGreaterThan(0);
  });

  it('reports hub authentication and permission failures as 502 with guidance, never the token', () => {
    const leaky = 'ErrorCode:IotHubUnauthorizedAccess;bad SharedAccessSignature sr=hub&sig=SECRET&se=1';
    const reply = mapError(httpError(401, JSON.stringify({ Message: leaky }), 'UnauthorizedError'), host);
    expect(reply).toMatchObject({ status: 502, code: 'IotHubAuthenticationFailed' });
    expect(reply.message).not.toContain('SECRET');
    expect(
      mapError(httpError(403, JSON.stringify({ Message: 'ErrorCode:Forbidden;no' })), host),
    ).toMatchObject({
      status: 502,
      code: 'IotHubAccessDenied',
    });
    expect(
      mapError(Object.assign(new Error('no az login'), { name: 'CredentialUnavailableError' }), host).code,
    ).toBe('IotHubAuthenticationFailed');
  });

  it('reports network failures as 502 IotHubUnreachable', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8443'), { code: 'ECONNREFUSED' });
    expect(mapError(refused, host)).toMatchObject({ status: 502, code: 'IotHubUnreachable' });
    expect(mapError(Object.assign(new Error('x'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' }), host).code).toBe(
      'IotHubUnreachable',
    );
  });

  it('passes validation, settings and timeout errors through with their codes', () => {
    expect(mapError(new ValidationError('InvalidTimeout', 'responseTimeoutInSeconds', 'm'), host)).toEqual({
      status: 400,
      code: 'InvalidTimeout',
      message: 'm',
      target: 'responseTimeoutInSeconds',
    });
    expect(mapError(new SettingsError('IOTHUB_HOST_NAME', 'm'), host)).toMatchObject({
      status: 500,
      target: 'IOTHUB_HOST_NAME',
    });
    expect(mapError(new HubCallTimeoutError('late'), host)).toMatchObject({
      status: 504,
      code: 'GatewayTimeout',
    });
  });

  it('maps anything else to 502 IotHubError naming the status', () => {
    expect(mapError(httpError(500, 'oops', 'InternalServerError'), host)).toMatchObject({
      status: 502,
      code: 'IotHubError',
    });
  });
});

/**
 * What azure-iothub's Client.send rejects with when IoT Hub refuses a message over AMQP: the SDK's own translation
 * (amqp_service_errors) of the AMQP error the hub sends, or of what its AMQP stack reports.
 */
const sendFailure = (cause: Error) => translateError('AMQP Transport: Could not send message', cause);
// rhea hands the hub's AMQP error over as a plain object, typed by the SDK as an Error.
const amqpRefusal = (condition: string, description: string, info?: Record<string, unknown>) =>
  sendFailure({ condition, description, ...(info ? { info } : {}) } as unknown as Error);

describe('mapError for cloud-to-device sends (AMQP)', () => {
  it.each([
    ['amqp:not-found', 404, 'DeviceNotFound'],
    ['amqp:resource-limit-exceeded', 403, 'DeviceMaximumQueueDepthExceeded'],
    ['amqp:link:message-size-exceeded', 413, 'MessageTooLarge'],
    ['com.microsoft:device-container-throttled', 429, 'Throttled'],
    ['com.microsoft:quota-exceeded', 403, 'IotHubQuotaExceeded'],
    ['amqp:unauthorized-access', 502, 'IotHubAuthenticationFailed'],
    ['com.microsoft:argument-error', 400, 'InvalidRequest'],
    ['com.microsoft:timeout', 504, 'GatewayTimeout'],
    ['amqp:internal-error', 502, 'IotHubError'],
  ])('maps the hub refusing with %s to %d %s, with its description', (condition, status, code) => {
    const reply = mapError(amqpRefusal(condition, 'what the hub says'), host);
    expect(reply).toMatchObject({ status, code });
    expect(reply.message).toContain('what the hub says');
  });

  it('gives a throttled caller a Retry-After, and passes the hub tracking id on', () => {
    expect(
      mapError(amqpRefusal('com.microsoft:device-container-throttled', 'slow down'), host),
    ).toMatchObject({
      retryAfterSeconds: 5,
    });
    const reply = mapError(
      amqpRefusal('amqp:not-found', 'no such device', { 'com.microsoft:tracking-id': 'track-7' }),
      host,
    );
    expect(reply.trackingId).toBe('track-7');
  });

  it('reads a refused token under the plain Error the SDK wraps it in, never echoing the token', () => {
    const refused = new commonErrors.UnauthorizedError('bad SharedAccessSignature sr=hub&sig=SECRET&se=1');
    const error = sendFailure(refused);
    expect(error.name).toBe('Error');
    const reply = mapError(error, host);
    expect(reply).toMatchObject({ status: 502, code: 'IotHubAuthenticationFailed' });
    expect(reply.message).not.toContain('SECRET');
  });

  it('reports a connection that closed before opening as 502 IotHubUnreachable', () => {
    const closed = sendFailure(new commonErrors.NotConnectedError('rhea: connection disconnected'));
    expect(mapError(closed, host)).toMatchObject({ status: 502, code: 'IotHubUnreachable' });
    const refused = sendFailure(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    expect(mapError(refused, host)).toMatchObject({ status: 502, code: 'IotHubUnreachable' });
  });

  it('answers 413 for a request its own validation finds too large', () => {
    expect(mapError(new RequestTooLargeError('MessageTooLarge', 'payload', 'm'), host)).toEqual({
      status: 413,
      code: 'MessageTooLarge',
      message: 'm',
      target: 'payload',
    });
  });

  it('leaves HTTP errors to the HTTP mapping', () => {
    expect(mapError(httpError(404, methodsBody(404001)), host)).toMatchObject({
      status: 404,
      code: 'DeviceNotFound',
      trackingId: 'abc-123',
    });
  });
});

describe('parseHubErrorBody', () => {
  it('returns nothing for bodies it does not understand', () => {
    expect(parseHubErrorBody('not json')).toEqual({});
    expect(parseHubErrorBody('{"other":1}')).toEqual({});
    expect(parseHubErrorBody(undefined)).toEqual({});
  });
});
