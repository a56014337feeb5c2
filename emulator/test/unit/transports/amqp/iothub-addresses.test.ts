import { endpoint } from 'azure-iot-common';
import { deviceIdOfC2dTarget, parseIotHubAddress } from '../../../../transports/amqp/iothub-addresses';

/**
 * Link addresses of IoT Hub's own AMQP endpoint as the SDKs write them: azure-iot-common's `endpoint` helpers (the
 * Node device SDK and azure-iothub), `amqps://<host>/...` URLs (the C SDK, uamqp), the service's `/messages/...`
 * nodes (azure-iothub's amqp.js), and the `to` azure-iothub puts on a cloud-to-device message.
 */
describe('IoT Hub AMQP link addresses', () => {
  describe('device links', () => {
    it.each([
      [endpoint.deviceEventPath('dev1'), 'device-telemetry'],
      [endpoint.deviceMessagePath('dev1'), 'device-c2d'],
      [endpoint.deviceMethodPath('dev1'), 'device-methods'],
      [endpoint.deviceTwinPath('dev1'), 'device-twin'],
    ])('reads %s as the SDK writes it (%s)', (address, kind) => {
      expect(parseIotHubAddress(address)).toEqual({ kind, deviceId: 'dev1' });
    });

    it.each([
      ['devices/dev1/messages/events', 'no leading slash'],
      ['//devices/dev1/messages/events', 'a doubled leading slash'],
      ['amqps://myhub.azure-devices.net/devices/dev1/messages/events', 'a full amqps:// URL'],
      ['amqps://myhub.azure-devices.net:5671/devices/dev1/messages/events', 'a URL with a port'],
      ['AMQPS://localhost/devices/dev1/messages/events', 'an upper-case scheme'],
      ['amqp://localhost/devices/dev1/messages/events', 'plain amqp://'],
    ])('reads %s (%s)', (address) => {
      expect(parseIotHubAddress(address)).toEqual({ kind: 'device-telemetry', deviceId: 'dev1' });
    });

    it('reads collection and link names without case, and keeps the device id as written', () => {
      expect(parseIotHubAddress('/Devices/Dev1/Messages/Events')).toEqual({
        kind: 'device-telemetry',
        deviceId: 'Dev1',
      });
      expect(parseIotHubAddress('/DEVICES/dev1/METHODS/DEVICEBOUND')).toEqual({
        kind: 'device-methods',
        deviceId: 'dev1',
      });
      expect(parseIotHubAddress('/devices/dev1/Twin')).toEqual({ kind: 'device-twin', deviceId: 'dev1' });
    });

    it.each([
      ['dev 1', 'a space'],
      ["a:b@c$d'e", 'characters IoT Hub allows in ids'],
      ['a/b', 'a slash, which only encoding keeps in one segment'],
      ['dev%1', 'a percent sign'],
    ])('decodes a URL-encoded device id with %s (%s)', (deviceId) => {
      const address = endpoint.deviceEventPath(encodeURIComponent(deviceId));
      expect(parseIotHubAddress(address)).toEqual({ kind: 'device-telemetry', deviceId });
    });

    it.each([
      ['/devices/dev1', 'a device with no link name'],
      ['/devices/', 'no device'],
      ['/devices//messages/events', 'an empty device id'],
      ['/devices/dev1/messages', 'half a link name'],
      ['/devices/dev1/messages/events/extra', 'a segment too many'],
      ['/devices/dev1/messages/feedback', 'a link IoT Hub has not'],
      ['/devices/%E0%A4%A/messages/events', 'a broken percent-encoding'],
      ['/devices/dev%zz/messages/events', 'an invalid escape'],
    ])('does not serve %s (%s)', (address) => {
      expect(parseIotHubAddress(address)).toEqual({ kind: 'unknown' });
    });
  });

  describe('service links', () => {
    it.each([
      ['/messages/devicebound', { kind: 'service-c2d' }],
      ['messages/devicebound', { kind: 'service-c2d' }],
      ['/messages/serviceBound/feedback', { kind: 'service-feedback' }],
      ['/messages/servicebound/feedback', { kind: 'service-feedback' }],
      ['/messages/serviceBound/filenotifications', { kind: 'service-file-notifications' }],
      ['amqps://myhub.azure-devices.net/messages/devicebound', { kind: 'service-c2d' }],
      ['/MESSAGES/SERVICEBOUND/FEEDBACK', { kind: 'service-feedback' }],
    ])('reads %s', (address, expected) => {
      expect(parseIotHubAddress(address)).toEqual(expected);
    });

    it('reads readers of /messages/events, keeping what follows for the redirect', () => {
      expect(parseIotHubAddress('/messages/events')).toEqual({ kind: 'service-events', rest: '' });
      expect(parseIotHubAddress('/messages/events/ConsumerGroups/$Default/Partitions/3')).toEqual({
        kind: 'service-events',
        rest: '/ConsumerGroups/$Default/Partitions/3',
      });
      expect(
        parseIotHubAddress(
          'amqps://myhub.azure-devices.net:5671/messages/events/ConsumerGroups/cg/Partitions/0',
        ),
      ).toEqual({ kind: 'service-events', rest: '/ConsumerGroups/cg/Partitions/0' });
    });

    it('reads the $cbs and $management nodes', () => {
      expect(parseIotHubAddress('$cbs')).toEqual({ kind: 'node', name: '$cbs' });
      expect(parseIotHubAddress('$management')).toEqual({ kind: 'node', name: '$management' });
    });

    it.each([
      [undefined, 'no address'],
      ['', 'an empty address'],
      ['/', 'the root'],
      ['/foo', 'an unknown node'],
      ['/messages', 'half a service address'],
      ['/messages/serviceBound', 'a collection'],
      ['/messages/devicebound/extra', 'a segment too many'],
      ['/messages/eventsx', 'a name that starts like events'],
      ['$cbs2', 'a node name that starts like $cbs'],
      ['/twins/dev1', 'a REST path'],
    ])('does not serve %s (%s)', (address, _what) => {
      expect(parseIotHubAddress(address)).toEqual({ kind: 'unknown' });
    });
  });

  describe('the `to` of a cloud-to-device message', () => {
    // azure-iothub's Amqp.send: `to = endpoint.deviceMessagePath(encodeURIComponent(deviceId))`.
    const toOf = (deviceId: string) => endpoint.deviceMessagePath(encodeURIComponent(deviceId));

    it.each(['dev1', 'Dev-1', 'dev 1', "a:b@c$d'e", 'a/b', '100%'])(
      'names the device %j as azure-iothub writes it',
      (deviceId) => {
        expect(deviceIdOfC2dTarget(toOf(deviceId))).toBe(deviceId);
      },
    );

    it.each([
      [undefined, 'no to'],
      [42, 'a number'],
      [Buffer.from('/devices/dev1/messages/devicebound'), 'binary'],
      ['', 'an empty string'],
      ['/devices/dev1/messages/events', 'the telemetry path'],
      ['/devices/dev1/methods/devicebound', 'the methods path'],
      ['/messages/devicebound', 'the service node itself'],
      ['/devices//messages/devicebound', 'no device id'],
      ['/devices/a/b/messages/devicebound', 'an unencoded slash'],
      ['/devices/dev1/messages/devicebound/x', 'a segment too many'],
      ['/devices/%E0%A4%A/messages/devicebound', 'a broken percent-encoding'],
      ['garbage', 'garbage'],
    ])('names no device for %p (%s)', (to, _what) => {
      expect(deviceIdOfC2dTarget(to)).toBeUndefined();
    });
  });
});
