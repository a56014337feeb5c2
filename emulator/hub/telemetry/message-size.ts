/** IoT Hub's limit for one device-to-cloud message: body, system property values, user property names and values. */
export const MAX_MESSAGE_BYTES = 256 * 1024;

/**
 * A message's size as IoT Hub counts it against its 256 KB limit: the body, the values of the system properties,
 * and the names and values of the application properties, in UTF-8 bytes.
 */
export function messageSize(
  body: Buffer,
  system: Readonly<Record<string, string>>,
  user: Readonly<Record<string, string>>,
): number {
  let size = body.length;
  for (const value of Object.values(system)) size += Buffer.byteLength(value, 'utf8');
  for (const [name, value] of Object.entries(user)) {
    size += Buffer.byteLength(name, 'utf8') + Buffer.byteLength(value, 'utf8');
  }
  return size;
}
