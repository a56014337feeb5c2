/**
 * `GET /health` on the HTTPS port: an emulator addition (IoT Hub has no such path), answered before
 * authentication so that a CI job or a container check can wait for the emulator without a token, as the Event
 * Hubs emulator's health endpoint allows. It says only that the emulator serves and which one it is: no keys, no
 * devices.
 */
export const HEALTH_PATH = '/health';

export interface HealthReport {
  readonly status: 'Healthy';
  readonly name: string;
  readonly version: string;
  readonly hubName: string;
}

/** Whether a request is the health check (the query string, if any, is ignored). */
export function isHealthCheck(method: string | undefined, url: string | undefined): boolean {
  if (method !== 'GET' && method !== 'HEAD') return false;
  const path = (url ?? '').split('?', 1)[0];
  return path === HEALTH_PATH;
}
