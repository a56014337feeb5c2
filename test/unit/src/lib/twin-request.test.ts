import { ValidationError } from '../../../../src/lib/errors';
import { parseTwinDeviceId, parseTwinUpdate } from '../../../../src/lib/twin-request';
import { thrownBy } from '../../../../devkit/thrown-by';

const params = { deviceId: 'sim-device-01' };
const refusal = (body: string, ifMatch: string | null = null, routeParams: Record<string, string> = params) =>
  thrownBy(ValidationError, () => parseTwinUpdate(routeParams, body, ifMatch));

describe('parseTwinUpdate', () => {
  it('passes tags and desired properties through as IoT Hub takes them, nulls included', () => {
    const update = parseTwinUpdate(
      params,
      '{"tags": {"site": "lab"}, "properties": {"desired": {"telemetryInterval": 5, "old": null}}}',
      null,
    );
    expect(update).toEqual({
      deviceId: 'sim-device-01',
      etag: '*',
      patch: { tags: { site: 'lab' }, properties: { desired: { telemetryInterval: 5, old: null } } },
    });
  });

  it('takes an If-Match etag as given, quoted or not', () => {
    expect(parseTwinUpdate(params, '{"tags":{"a":1}}', '"AAAAAAAAAAE="').etag).toBe('"AAAAAAAAAAE="');
    expect(parseTwinUpdate(params, '{"tags":{"a":1}}', 'AAAAAAAAAAE=').etag).toBe('AAAAAAAAAAE=');
    expect(parseTwinUpdate(params, '{"tags":{"a":1}}', '*').etag).toBe('*');
  });

  it.each([
    ['invalid JSON', '{"tags":', 'InvalidJson', 'body'],
    ['an array', '[]', 'InvalidBody', 'body'],
    ['an empty body', '{}', 'EmptyPatch', 'body'],
    ['an unknown field', '{"desired": {"a": 1}}', 'UnknownField', 'desired'],
    ['reported properties', '{"properties": {"reported": {"a": 1}}}', 'ReadOnlyField', 'properties.reported'],
    ['tags that are not an object', '{"tags": 5}', 'InvalidTwinPatch', 'tags'],
    [
      'a name with $',
      '{"properties": {"desired": {"$version": 1}}}',
      'InvalidTwinPatch',
      'properties.desired',
    ],
    ['a name with a space', '{"tags": {"a": {"b c": 1}}}', 'InvalidTwinPatch', 'tags.a'],
    ['a string over 4 KB', JSON.stringify({ tags: { s: 'v'.repeat(4097) } }), 'InvalidTwinPatch', 'tags.s'],
    [
      'an integer beyond 2^52 - 1',
      '{"properties": {"desired": {"n": 4503599627370496}}}',
      'InvalidTwinPatch',
      'properties.desired.n',
    ],
    [
      'objects 11 levels below the section',
      `{"tags": ${'{"a":'.repeat(12)}1${'}'.repeat(12)}}`,
      'InvalidTwinPatch',
      'tags.a.a.a.a.a.a.a.a.a.a.a',
    ],
  ])('refuses %s, naming the field', (_what, body, code, field) => {
    expect(refusal(body)).toMatchObject({ code, field });
  });

  it('accepts objects 10 levels below the section and integers at the documented bounds', () => {
    const body = `{"tags": ${'{"a":'.repeat(11)}1${'}'.repeat(11)}, "properties": {"desired": {"lo": -4503599627370496, "hi": 4503599627370495}}}`;
    expect(parseTwinUpdate(params, body, null).patch.properties?.desired).toEqual({
      lo: -4503599627370496,
      hi: 4503599627370495,
    });
  });

  it('refuses an invalid device id and a malformed If-Match', () => {
    expect(thrownBy(ValidationError, () => parseTwinDeviceId({ deviceId: 'a b' }))).toMatchObject({
      code: 'InvalidDeviceId',
      field: 'deviceId',
    });
    expect(refusal('{"tags":{"a":1}}', 'not an etag')).toMatchObject({
      code: 'InvalidIfMatch',
      field: 'If-Match',
    });
  });

  it('stops at the first problem of a value nested 100,000 levels deep, without recursion', () => {
    const deep = `{"tags": {"a": ${'['.repeat(100_000)}${']'.repeat(100_000)}}}`;
    expect(refusal(deep)).toMatchObject({ code: 'InvalidTwinPatch' });
  });
});
