import { RequestTooLargeError } from '../../../../src/lib/error-mapping';
import { ValidationError } from '../../../../src/lib/errors';
import { cloudToDeviceMessage } from '../../../../src/lib/cloud-to-device';
import { parseCloudToDeviceRequest, type CloudToDeviceRequest } from '../../../../src/lib/c2d-request';
import { thrownBy } from '../../../../devkit/thrown-by';

const params = { deviceId: 'sim-device-01' };
const now = Date.parse('2030-01-01T00:00:00Z');
const parse = (body: unknown, routeParams: Record<string, string> = params) =>
  parseCloudToDeviceRequest(
    routeParams,
    typeof body === 'string' ? body : JSON.stringify(body),
    now,
    () => 'generated-id',
  );
const refusal = (body: unknown, routeParams?: Record<string, string>) =>
  thrownBy(ValidationError, () => parse(body, routeParams));

// IoT Hub's documented limits: 64 KB a cloud-to-device message (body, system property values, property names and
// values), a time to live of at most 48 hours.
const MAX_BYTES = 64 * 1024;
const MAX_TTL_SECONDS = 48 * 3600;
const TO = '/devices/sim-device-01/messages/devicebound';

describe('parseCloudToDeviceRequest', () => {
  it('sends a JSON payload as JSON text, with a generated message id and no feedback by default', () => {
    const request = parse({ payload: { command: 'reboot', delay: [1, 2] } });
    expect(request).toEqual({
      deviceId: 'sim-device-01',
      body: Buffer.from('{"command":"reboot","delay":[1,2]}'),
      messageId: 'generated-id',
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      ack: 'none',
      properties: {},
    });
    expect(parse({ payload: null }).body.toString()).toBe('null');
    expect(parse({ payload: 'text' }).body.toString()).toBe('"text"');
  });

  it('sends a string body as is, and keeps every field given', () => {
    const request = parse({
      body: 'reboot now',
      properties: { priority: 'high', "a!#$%&'*+-.^_`|~Z9": "b!#$%&'*+-.^_`|~" },
      ack: 'full',
      messageId: "m-1:2.3+%_#*?!(),=@;$'",
      correlationId: 'corr 42',
      contentType: 'text/plain',
      contentEncoding: 'us-ascii',
      expiryTimeUtc: '2030-01-01T01:00:00Z',
    });
    expect(request).toEqual({
      deviceId: 'sim-device-01',
      body: Buffer.from('reboot now'),
      messageId: "m-1:2.3+%_#*?!(),=@;$'",
      correlationId: 'corr 42',
      contentType: 'text/plain',
      contentEncoding: 'us-ascii',
      ack: 'full',
      expiryTimeUtc: new Date('2030-01-01T01:00:00Z'),
      properties: { priority: 'high', "a!#$%&'*+-.^_`|~Z9": "b!#$%&'*+-.^_`|~" },
    });
    expect(parse({ body: '' }).body.length).toBe(0);
  });

  it.each(['none', 'positive', 'negative', 'full'])('accepts ack %s', (ack) => {
    expect(parse({ payload: 1, ack }).ack).toBe(ack);
  });

  it('turns ttlSeconds into an expiry time from now, up to 48 hours', () => {
    expect(parse({ payload: 1, ttlSeconds: 1 }).expiryTimeUtc).toEqual(new Date(now + 1000));
    expect(parse({ payload: 1, ttlSeconds: MAX_TTL_SECONDS }).expiryTimeUtc).toEqual(
      new Date(now + MAX_TTL_SECONDS * 1000),
    );
    expect(parse({ payload: 1, expiryTimeUtc: '2030-01-03T00:00:00+00:00' }).expiryTimeUtc).toEqual(
      new Date(now + MAX_TTL_SECONDS * 1000),
    );
    expect(parse({ payload: 1, expiryTimeUtc: null, ttlSeconds: null })).not.toHaveProperty('expiryTimeUtc');
  });

  it('accepts a message of exactly 64 KB counted as IoT Hub counts it, and refuses one byte more with 413', () => {
    const fixed = 'generated-id'.length + TO.length + 'none'.length + 'k'.length + 'v'.length;
    const body = (extra: number) => ({ body: 'x'.repeat(MAX_BYTES - fixed + extra), properties: { k: 'v' } });
    expect(parse(body(0)).body.length).toBe(MAX_BYTES - fixed);
    const tooLarge = thrownBy(RequestTooLargeError, () => parse(body(1)));
    expect(tooLarge).toMatchObject({ code: 'MessageTooLarge', field: 'body' });
    expect(tooLarge.message).toContain(String(MAX_BYTES));
    // Multi-byte characters count as their UTF-8 bytes.
    expect(thrownBy(RequestTooLargeError, () => parse({ payload: 'é'.repeat(MAX_BYTES / 2) })).field).toBe(
      'payload',
    );
  });

  it('refuses a request body over 1 MB before parsing it', () => {
    const huge = `{"body": "${'x'.repeat(1024 * 1024)}"}`;
    expect(thrownBy(RequestTooLargeError, () => parse(huge))).toMatchObject({ code: 'MessageTooLarge' });
  });

  it.each([
    ['no body', '', 'MissingBody', 'body'],
    ['invalid JSON', '{"payload": ', 'InvalidJson', 'body'],
    ['a non-object body', '[1]', 'InvalidBody', 'body'],
    ['an unknown field', { payload: 1, ttl: 5 }, 'UnknownField', 'ttl'],
    ['neither payload nor body', { ack: 'full' }, 'MissingPayload', 'payload'],
    ['both payload and body', { payload: 1, body: 'x' }, 'ConflictingFields', 'body'],
    ['a body that is not a string', { body: { a: 1 } }, 'InvalidMessageBody', 'body'],
    [
      'properties that are not an object',
      { payload: 1, properties: ['a'] },
      'InvalidProperties',
      'properties',
    ],
    [
      'a property value that is not a string',
      { payload: 1, properties: { a: 1 } },
      'InvalidPropertyValue',
      'properties',
    ],
    [
      'a property name with a space',
      { payload: 1, properties: { 'a b': 'c' } },
      'InvalidPropertyName',
      'properties',
    ],
    ['an empty property name', { payload: 1, properties: { '': 'c' } }, 'InvalidPropertyName', 'properties'],
    [
      'a non-ASCII property value',
      { payload: 1, properties: { a: 'é' } },
      'InvalidPropertyValue',
      'properties',
    ],
    [
      'a property value with a slash',
      { payload: 1, properties: { a: 'x/y' } },
      'InvalidPropertyValue',
      'properties',
    ],
    [
      'a property named with the iothub- prefix',
      { payload: 1, properties: { 'IoThub-ack': 'full' } },
      'InvalidPropertyName',
      'properties',
    ],
    ['an unknown ack mode', { payload: 1, ack: 'all' }, 'InvalidAck', 'ack'],
    ['a message id with a space', { payload: 1, messageId: 'a b' }, 'InvalidMessageId', 'messageId'],
    [
      'a message id of 129 characters',
      { payload: 1, messageId: 'm'.repeat(129) },
      'InvalidMessageId',
      'messageId',
    ],
    [
      'a correlation id with a control character',
      { payload: 1, correlationId: 'a\nb' },
      'InvalidSystemProperty',
      'correlationId',
    ],
    ['an empty content type', { payload: 1, contentType: '' }, 'InvalidSystemProperty', 'contentType'],
    [
      'a content encoding as a number',
      { payload: 1, contentEncoding: 8 },
      'InvalidSystemProperty',
      'contentEncoding',
    ],
    ['a zero TTL', { payload: 1, ttlSeconds: 0 }, 'InvalidExpiry', 'ttlSeconds'],
    ['a TTL over 48 hours', { payload: 1, ttlSeconds: MAX_TTL_SECONDS + 1 }, 'InvalidExpiry', 'ttlSeconds'],
    ['a fractional TTL', { payload: 1, ttlSeconds: 1.5 }, 'InvalidExpiry', 'ttlSeconds'],
    ['a TTL as a string', { payload: 1, ttlSeconds: '60' }, 'InvalidExpiry', 'ttlSeconds'],
    [
      'an expiry in the past',
      { payload: 1, expiryTimeUtc: '2029-12-31T23:59:59Z' },
      'InvalidExpiry',
      'expiryTimeUtc',
    ],
    [
      'an expiry now',
      { payload: 1, expiryTimeUtc: '2030-01-01T00:00:00Z' },
      'InvalidExpiry',
      'expiryTimeUtc',
    ],
    [
      'an expiry over 48 hours away',
      { payload: 1, expiryTimeUtc: '2030-01-03T00:00:01Z' },
      'InvalidExpiry',
      'expiryTimeUtc',
    ],
    [
      'an expiry without a time zone',
      { payload: 1, expiryTimeUtc: '2030-01-01T01:00:00' },
      'InvalidExpiry',
      'expiryTimeUtc',
    ],
    [
      'an expiry at hour 24',
      { payload: 1, expiryTimeUtc: '2030-01-01T24:00:00Z' },
      'InvalidExpiry',
      'expiryTimeUtc',
    ],
    [
      'both an expiry and a TTL',
      { payload: 1, expiryTimeUtc: '2030-01-01T01:00:00Z', ttlSeconds: 5 },
      'ConflictingFields',
      'ttlSeconds',
    ],
  ])('refuses %s with 400, naming the field', (_label, body, code, field) => {
    const error = refusal(body);
    expect(error).not.toBeInstanceOf(RequestTooLargeError);
    expect(error).toMatchObject({ code, field });
    expect(error.message.length).toBeGreaterThan(10);
  });

  it('refuses a day the month lacks, which Date.parse would read as a day of the next month', () => {
    // 2030 is no leap year: "February 29th" would be March 1st, within 48 hours of this "now".
    const feb28 = Date.parse('2030-02-28T12:00:00Z');
    const body = JSON.stringify({ payload: 1, expiryTimeUtc: '2030-02-29T13:00:00Z' });
    expect(thrownBy(ValidationError, () => parseCloudToDeviceRequest(params, body, feb28))).toMatchObject({
      code: 'InvalidExpiry',
      field: 'expiryTimeUtc',
    });
    const valid = JSON.stringify({ payload: 1, expiryTimeUtc: '2030-03-01T13:00:00+01:00' });
    expect(parseCloudToDeviceRequest(params, valid, feb28).expiryTimeUtc).toEqual(
      new Date('2030-03-01T12:00:00Z'),
    );
  });

  it('refuses a payload nested deeper than 64 levels without overflowing the stack', () => {
    const deep = `{"payload": ${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    expect(refusal(deep)).toMatchObject({ code: 'PayloadTooDeep', field: 'payload' });
    expect(parse({ payload: JSON.parse(`${'['.repeat(64)}${']'.repeat(64)}`) as unknown }).body.length).toBe(
      128,
    );
  });

  it('checks the device id with IoT Hub rules', () => {
    expect(refusal({ payload: 1 }, { deviceId: 'bad id' })).toMatchObject({
      code: 'InvalidDeviceId',
      field: 'deviceId',
    });
    expect(refusal({ payload: 1 }, {})).toMatchObject({ code: 'InvalidDeviceId' });
    expect(parse({ payload: 1 }, { deviceId: "a-.%_*?!(),:=@$'Z9" }).deviceId).toBe("a-.%_*?!(),:=@$'Z9");
  });

  it('keeps a property named __proto__ as data', () => {
    const request = parse('{"payload": 1, "properties": {"__proto__": "x"}}');
    expect(Object.entries(request.properties)).toEqual([['__proto__', 'x']]);
  });
});

describe('cloudToDeviceMessage', () => {
  it('carries every field into the SDK message, and leaves ack off for none', () => {
    const request: CloudToDeviceRequest = {
      deviceId: 'd',
      body: Buffer.from('{"a":1}'),
      messageId: 'm1',
      correlationId: 'c1',
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      ack: 'negative',
      expiryTimeUtc: new Date(now),
      properties: { k: 'v' },
    };
    const message = cloudToDeviceMessage(request);
    expect(message.getBytes().toString()).toBe('{"a":1}');
    expect(message).toMatchObject({
      messageId: 'm1',
      correlationId: 'c1',
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      ack: 'negative',
      expiryTimeUtc: now,
    });
    expect(message.properties.getValue('k')).toBe('v');
    expect(cloudToDeviceMessage({ ...request, ack: 'none' }).ack).toBeUndefined();
  });
});
