import { mapTwinError } from '../../../../src/lib/twin-errors';

const host = 'hub.azure-devices.net';

/** An error as azure-iothub's RestApiClient.translateError builds it. */
function httpError(statusCode: number, codeName: string, name: string) {
  const responseBody = JSON.stringify({
    Message: `ErrorCode:${codeName};what the hub says`,
    ExceptionMessage: 'Tracking ID:t-1-G:0-TimeStamp:now',
  });
  return Object.assign(new Error('what the hub says'), { name, response: { statusCode }, responseBody });
}

describe('mapTwinError', () => {
  it('answers 412 PreconditionFailed for a stale etag (InvalidEtagError), with the trackingId', () => {
    expect(mapTwinError(httpError(412, 'PreconditionFailed', 'InvalidEtagError'), host)).toMatchObject({
      status: 412,
      code: 'PreconditionFailed',
      target: 'If-Match',
      trackingId: 't-1-G:0-TimeStamp:now',
    });
  });

  it("answers 413 TwinTooLarge when the twin would exceed IoT Hub's limits", () => {
    const reply = mapTwinError(httpError(413, 'MessageTooLarge', 'Error'), host);
    expect(reply).toMatchObject({ status: 413, code: 'TwinTooLarge' });
    expect(reply.message).toMatch(/8 KB.*32 KB.*what the hub says/);
  });

  it('maps everything else as the method function does', () => {
    expect(mapTwinError(httpError(404, 'DeviceNotFound', 'DeviceNotFoundError'), host)).toMatchObject({
      status: 404,
      code: 'DeviceNotFound',
    });
    expect(mapTwinError(httpError(400, 'ArgumentInvalid', 'ArgumentError'), host)).toMatchObject({
      status: 400,
      code: 'InvalidRequest',
    });
  });
});
