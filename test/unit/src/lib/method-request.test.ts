import { ValidationError } from '../../../../src/lib/errors';
import { parseMethodCall } from '../../../../src/lib/method-request';
import { thrownBy } from '../../../../devkit/thrown-by';

const params = { deviceId: 'sim-device-01', methodName: 'SetTelemetryInterval' };

const refusal = (body: string, routeParams: Record<string, string> = params) =>
  thrownBy(ValidationError, () => parseMethodCall(routeParams, body));

describe('parseMethodCall', () => {
  it('defaults to a null payload and the hub timeouts when there is no body', () => {
    expect(parseMethodCall(params, '')).toEqual({
      ...params,
      payload: null,
      responseTimeoutInSeconds: 30,
      connectTimeoutInSeconds: 0,
    });
    expect(parseMethodCall(params, '  \n')).toMatchObject({ payload: null });
  });

  it('keeps any JSON payload and the given timeouts at their bounds', () => {
    const call = parseMethodCall(
      params,
      '{"payload": {"a": [1, "b"]}, "responseTimeoutInSeconds": 300, "connectTimeoutInSeconds": 0}',
    );
    expect(call).toMatchObject({
      payload: { a: [1, 'b'] },
      responseTimeoutInSeconds: 300,
      connectTimeoutInSeconds: 0,
    });
    expect(
      parseMethodCall(params, '{"responseTimeoutInSeconds": 5, "connectTimeoutInSeconds": 300}'),
    ).toMatchObject({
      responseTimeoutInSeconds: 5,
      connectTimeoutInSeconds: 300,
    });
  });

  it('accepts a payload of exactly 128 KB and refuses one byte more', () => {
    const exact = 'x'.repeat(128 * 1024 - 2);
    expect(parseMethodCall(params, JSON.stringify({ payload: exact })).payload).toBe(exact);
    expect(refusal(JSON.stringify({ payload: `${exact}x` }))).toMatchObject({
      code: 'PayloadTooLarge',
      field: 'payload',
    });
  });

  it.each([
    ['{"responseTimeoutInSeconds": 4}', 'responseTimeoutInSeconds'],
    ['{"responseTimeoutInSeconds": 301}', 'responseTimeoutInSeconds'],
    ['{"responseTimeoutInSeconds": 10.5}', 'responseTimeoutInSeconds'],
    ['{"connectTimeoutInSeconds": -1}', 'connectTimeoutInSeconds'],
    ['{"connectTimeoutInSeconds": "5"}', 'connectTimeoutInSeconds'],
    ['{"connectTimeoutInSeconds": true}', 'connectTimeoutInSeconds'],
  ])('refuses %s', (body, field) => {
    expect(refusal(body)).toMatchObject({ code: 'InvalidTimeout', field });
  });

  it('refuses malformed bodies and unknown fields', () => {
    expect(refusal('{')).toMatchObject({ code: 'InvalidJson', field: 'body' });
    expect(refusal('"text"')).toMatchObject({ code: 'InvalidBody' });
    expect(refusal('null')).toMatchObject({ code: 'InvalidBody' });
    expect(refusal('{"payload": 1, "timeout": 5}')).toMatchObject({ code: 'UnknownField', field: 'timeout' });
  });

  it('refuses route values IoT Hub would refuse', () => {
    expect(refusal('', { deviceId: 'a b', methodName: 'm' })).toMatchObject({ code: 'InvalidDeviceId' });
    expect(refusal('', { deviceId: 'x'.repeat(129), methodName: 'm' })).toMatchObject({
      code: 'InvalidDeviceId',
    });
    expect(refusal('', { deviceId: 'dev', methodName: 'a/b' })).toMatchObject({ code: 'InvalidMethodName' });
    expect(refusal('', { deviceId: 'dev', methodName: 'a#' })).toMatchObject({ code: 'InvalidMethodName' });
    expect(refusal('', { deviceId: 'dev', methodName: '' })).toMatchObject({ code: 'InvalidMethodName' });
    expect(parseMethodCall({ deviceId: "d-1.x_%*?!(),:=@$'", methodName: 'm' }, '').deviceId).toBe(
      "d-1.x_%*?!(),:=@$'",
    );
  });
});
