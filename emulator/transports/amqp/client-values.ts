/**
 * Client-sent AMQP values in text, for error messages and logs. AMQP lets a client put any type anywhere (a map
 * where a string belongs), and a map decodes to an object whose own `toString` or `valueOf` keys would make
 * `String()` or `Number()` throw inside rhea's input handler, ending the whole connection. Nothing here calls a
 * method of the value.
 */
export function describeClientValue(value: unknown, maxLength = 200): string {
  if (typeof value === 'string') return value.slice(0, maxLength);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return `${value}`;
  if (value === undefined || value === null) return `${value}`;
  if (Buffer.isBuffer(value)) return `(${value.length} bytes of binary)`;
  return `(${Array.isArray(value) ? 'a list' : 'a map'})`;
}

/** An integer sent as an AMQP number (or a decimal string, as some clients write numbers), else undefined. */
export function clientInteger(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) ? value : undefined;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string' && /^-?\d{1,15}$/.test(value)) return Number.parseInt(value, 10);
  return undefined;
}

/** A link address as text: only a string can name a node; anything else names none (''). */
export function addressText(address: unknown): string {
  return typeof address === 'string' ? address : '';
}
