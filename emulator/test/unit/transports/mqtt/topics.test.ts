import {
  DESIRED_PROPERTIES_SUBSCRIPTION,
  desiredPropertiesTopic,
  isAllowedDeviceSubscription,
  parseDevicePublishTopic,
  parsePropertyBag,
} from '../../../../transports/mqtt/topics';

describe('device MQTT topics', () => {
  it('reads system and user properties from a telemetry property bag', () => {
    const topic =
      'devices/dev1/messages/events/%24.mid=m1&%24.ct=application%2Fjson&%24.ce=utf-8&temperatureAlert=true&a%20b=c%26d';
    expect(parseDevicePublishTopic('dev1', topic)).toEqual({
      kind: 'telemetry',
      properties: {
        system: { messageId: 'm1', contentType: 'application/json', contentEncoding: 'utf-8' },
        user: { temperatureAlert: 'true', 'a b': 'c&d' },
      },
    });
    expect(parseDevicePublishTopic('dev1', 'devices/dev1/messages/events/')).toEqual({
      kind: 'telemetry',
      properties: { system: {}, user: {} },
    });
  });

  it("refuses another device's topics and malformed bags", () => {
    expect(parseDevicePublishTopic('dev1', 'devices/dev2/messages/events/').kind).toBe('invalid');
    expect(parseDevicePublishTopic('dev1', 'devices/dev1/messages/events/a=%E0%A4%A').kind).toBe('invalid');
    expect(parseDevicePublishTopic('dev1', '$iothub/methods/POST/x/?$rid=1').kind).toBe('invalid');
    expect(parseDevicePublishTopic('dev1', '$iothub/methods/res/200/?nothing=1').kind).toBe('invalid');
  });

  it('reads method responses and twin requests with their $rid', () => {
    expect(parseDevicePublishTopic('dev1', '$iothub/methods/res/404/?$rid=a1')).toEqual({
      kind: 'method-response',
      status: 404,
      requestId: 'a1',
    });
    expect(parseDevicePublishTopic('dev1', '$iothub/twin/GET/?$rid=7')).toEqual({
      kind: 'twin-get',
      requestId: '7',
    });
    expect(parseDevicePublishTopic('dev1', '$iothub/twin/PATCH/properties/reported/?$rid=8')).toEqual({
      kind: 'twin-reported',
      requestId: '8',
    });
  });

  it('allows only the subscriptions IoT Hub offers a device', () => {
    expect(isAllowedDeviceSubscription('dev1', '$iothub/methods/POST/#')).toBe(true);
    expect(isAllowedDeviceSubscription('dev1', 'devices/dev1/messages/devicebound/#')).toBe(true);
    expect(isAllowedDeviceSubscription('dev1', 'devices/dev2/messages/devicebound/#')).toBe(false);
    expect(isAllowedDeviceSubscription('dev1', '#')).toBe(false);
    expect(isAllowedDeviceSubscription('dev1', 'devices/+/messages/events/#')).toBe(false);
  });

  it('keeps an empty bag empty', () => {
    expect(parsePropertyBag('')).toEqual({ system: {}, user: {} });
  });

  it('pushes desired properties where the device SDK subscribes for them', () => {
    // The topics azure-iot-device-mqtt subscribes to and reads (mqtt_twin_client.js), and IoT Hub's MQTT docs.
    expect(DESIRED_PROPERTIES_SUBSCRIPTION).toBe('$iothub/twin/PATCH/properties/desired/#');
    expect(isAllowedDeviceSubscription('dev1', DESIRED_PROPERTIES_SUBSCRIPTION)).toBe(true);
    expect(desiredPropertiesTopic(7)).toBe('$iothub/twin/PATCH/properties/desired/?$version=7');
  });
});
