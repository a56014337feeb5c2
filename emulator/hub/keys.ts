import { randomBytes } from 'node:crypto';

/** A 256-bit key in base64, the format IoT Hub generates for devices and policies. */
export function generateKey(): string {
  return randomBytes(32).toString('base64');
}

/** IoT Hub accepts symmetric keys of 16 to 64 bytes, base64-encoded. */
export function isValidKey(key: string): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(key) || key.length % 4 !== 0) return false;
  const bytes = Buffer.from(key, 'base64').length;
  return bytes >= 16 && bytes <= 64;
}
