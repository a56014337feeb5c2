import { randomReading, telemetryMessage } from '../../../device-sim/telemetry';

describe('simulated telemetry', () => {
  it('keeps readings in the quickstart ranges with two decimals', () => {
    for (const r of [0, 0.25, 0.999999]) {
      const reading = randomReading(() => r);
      expect(reading.temperature).toBeGreaterThanOrEqual(20);
      expect(reading.temperature).toBeLessThanOrEqual(35);
      expect(reading.humidity).toBeGreaterThanOrEqual(60);
      expect(reading.humidity).toBeLessThanOrEqual(80);
      expect(Math.round(reading.temperature * 100) / 100).toBe(reading.temperature);
    }
  });

  it('builds a JSON message with id, content type, encoding and temperatureAlert', () => {
    const hot = telemetryMessage({ temperature: 30.01, humidity: 70 });
    expect(JSON.parse(hot.getData() as string)).toEqual({ temperature: 30.01, humidity: 70 });
    expect(hot.messageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(hot.contentType).toBe('application/json');
    expect(hot.contentEncoding).toBe('utf-8');
    expect(hot.properties.getValue('temperatureAlert')).toBe('true');
    expect(telemetryMessage({ temperature: 30, humidity: 70 }).properties.getValue('temperatureAlert')).toBe(
      'false',
    );
  });
});
