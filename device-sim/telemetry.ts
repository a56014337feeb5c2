import { randomUUID } from 'node:crypto';
import { Message } from 'azure-iot-device';

export interface Reading {
  readonly temperature: number;
  readonly humidity: number;
}

/** Above this temperature (°C) a message carries temperatureAlert=true, as in the IoT Hub quickstart. */
export const TEMPERATURE_ALERT_THRESHOLD = 30;

/** A quickstart-style reading: temperature 20..35 °C, humidity 60..80 %, two decimals. */
export function randomReading(random: () => number = Math.random): Reading {
  return {
    temperature: round2(20 + random() * 15),
    humidity: round2(60 + random() * 20),
  };
}

/** The telemetry message: JSON body, utf-8, a message id and the temperatureAlert user property. */
export function telemetryMessage(reading: Reading): Message {
  const message = new Message(JSON.stringify(reading));
  message.messageId = randomUUID();
  message.contentType = 'application/json';
  message.contentEncoding = 'utf-8';
  message.properties.add(
    'temperatureAlert',
    reading.temperature > TEMPERATURE_ALERT_THRESHOLD ? 'true' : 'false',
  );
  return message;
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
