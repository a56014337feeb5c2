import type { IncomingMessage } from 'node:http';
import { Http } from 'azure-iot-http-base';
import type { CloudToDeviceMessage } from '../../../../hub/c2d/cloud-to-device';
import { HubError } from '../../../../hub/errors';
import {
  deviceBoundHeaders,
  messageProperties,
  rawHeaderPairs,
} from '../../../../transports/https/message-headers';
import { parsePropertyBag } from '../../../../transports/mqtt/topics';

describe('device HTTPS message headers', () => {
  describe('telemetry properties from request headers', () => {
    it('reads the headers azure-iot-device-http writes as the MQTT front reads the same message’s topic', () => {
      // Header names as azure-iot-device-http 1.14.4 sendEvent writes them (dist/http.js).
      const overHttp = messageProperties([
        ['iothub-to', '/devices/dev1/messages/events'],
        ['User-Agent', 'azure-iot-device/1.18.4'],
        ['IoTHub-MessageId', 'm1'],
        ['IoTHub-CorrelationId', 'c1'],
        ['IoTHub-UserId', 'u1'],
        ['iothub-contenttype', 'application/json'],
        ['iothub-contentencoding', 'utf-8'],
        ['iothub-interface-id', 'urn:x'],
        ['iothub-app-temperatureAlert', 'true'],
        ['dt-subject', 'thermostat1'],
      ]);
      // The topic azure-iot-device-mqtt writes for the same message (`$.sub` for dt-subject).
      const overMqtt = parsePropertyBag(
        '%24.mid=m1&%24.cid=c1&%24.uid=u1&%24.ct=application%2Fjson&%24.ce=utf-8&%24.ifid=urn%3Ax&temperatureAlert=true&%24.sub=thermostat1',
      );
      expect({ system: { ...overHttp.system }, user: { ...overHttp.user } }).toEqual({
        system: { ...overMqtt?.system },
        user: { ...overMqtt?.user },
      });
    });

    it('keeps application property names in the case the device wrote them', () => {
      expect({ ...messageProperties([['iothub-app-TemperatureAlert', 'yes']]).user }).toEqual({
        TemperatureAlert: 'yes',
      });
    });

    it('writes an expiry that is a date in ISO 8601, as MQTT devices send `$.exp`', () => {
      const date = new Date(Date.UTC(2030, 0, 2, 3, 4, 5));
      expect(messageProperties([['IoTHub-Expiry', String(date)]]).system.absoluteExpiryTime).toBe(
        '2030-01-02T03:04:05.000Z',
      );
    });

    it.each([
      ['an application property without a name', [['iothub-app-', 'x']]],
      [
        'an application property given twice',
        [
          ['iothub-app-a', '1'],
          ['IOTHUB-APP-a', '2'],
        ],
      ],
      [
        'a system property given twice',
        [
          ['iothub-messageid', '1'],
          ['IoTHub-MessageId', '2'],
        ],
      ],
    ] as [string, [string, string][]][])('refuses %s with 400 ArgumentInvalid', (_what, pairs) => {
      expect(() => messageProperties(pairs)).toThrow(HubError);
      try {
        messageProperties(pairs);
      } catch (error) {
        expect((error as HubError).errorCode).toBe(400004);
      }
    });

    it('reads header values as the UTF-8 bytes they were sent as', () => {
      const latin1 = Buffer.from('température', 'utf8').toString('latin1');
      expect(rawHeaderPairs(['iothub-app-note', latin1])).toEqual([['iothub-app-note', 'température']]);
    });
  });

  describe('a cloud-to-device message as response headers', () => {
    const message: CloudToDeviceMessage = {
      deviceId: 'dev1',
      messageId: 'msg-1',
      correlationId: 'corr-1',
      userId: undefined,
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      to: '/devices/dev1/messages/devicebound',
      ack: 'full',
      properties: { color: 'blue', 'line\nbreak': 'a\u0000b', 'naïve key': 'café' },
      body: Buffer.from('{"on":true}'),
      enqueuedTimeMs: Date.UTC(2030, 0, 1),
      expiryTimeMs: Date.UTC(2030, 0, 1, 1),
      sequenceNumber: 7,
      deliveryCount: 1,
      lockToken: '0b5c8ad3-1f0e-4a57-9d1c-2c7bb1f5a111',
      lockedUntilMs: Date.UTC(2030, 0, 1, 0, 1),
    };

    it('reads back through azure-iot-http-base `toMessage`, as the device SDK reads it', () => {
      const response = { statusCode: 200, headers: lowerCased(deviceBoundHeaders(message)) };
      const received = new Http().toMessage(response as unknown as IncomingMessage, message.body);
      expect(received.messageId).toBe('msg-1');
      expect(received.correlationId).toBe('corr-1');
      expect(received.to).toBe('/devices/dev1/messages/devicebound');
      expect(received.lockToken).toBe(message.lockToken);
      expect(Date.parse(String(received.expiryTimeUtc))).toBe(message.expiryTimeMs);
      expect(received.properties.getValue('iothub-app-color')).toBe('blue');
    });

    it('counts previous deliveries, and gives the sequence number and ack', () => {
      const headers = deviceBoundHeaders(message);
      expect(headers['iothub-deliverycount']).toBe('0');
      expect(headers['iothub-sequencenumber']).toBe('7');
      expect(headers['iothub-ack']).toBe('full');
      expect(headers['iothub-userid']).toBe('');
    });

    it('writes only names and values HTTP allows, whatever the service named its properties', () => {
      const headers = deviceBoundHeaders(message);
      for (const [name, value] of Object.entries(headers)) {
        expect(name).toMatch(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/);
        // Node's own check (`checkInvalidHeaderChar`): tab, then 0x20-0x7e and 0x80-0xff.
        expect(value).toMatch(/^[\t\x20-\x7e\x80-\xff]*$/);
      }
      expect(headers['iothub-app-line%0Abreak']).toBe('a%00b');
      expect(Buffer.from(headers['iothub-app-na%C3%AFve%20key'] ?? '', 'latin1').toString('utf8')).toBe(
        'café',
      );
    });
  });
});

function lowerCased(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}
