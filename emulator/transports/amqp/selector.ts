import type { StartPosition } from '../../hub/telemetry/partition-log';

/** The filter key Event Hubs clients use for the start position (a described string). */
export const SELECTOR_FILTER_KEY = 'apache.org:selector-filter:string';

export class SelectorError extends Error {
  override readonly name = 'SelectorError';
}

// The JS client quotes values (`x-opt-offset > '-1'`); the .NET client writes them bare (`x-opt-offset > -1`).
const SELECTOR =
  /^\s*amqp\.annotation\.(x-opt-offset|x-opt-sequence-number|x-opt-enqueued-time)\s*(>=|>)\s*(?:'([^']*)'|(\S+))\s*$/i;

/**
 * Turns an Event Hubs selector expression into a start position. No filter at all means the start of the
 * partition, as in Event Hubs.
 */
export function parseSelector(expression: string | undefined): StartPosition {
  if (expression === undefined) return { kind: 'earliest' };
  const match = SELECTOR.exec(expression);
  if (!match) {
    throw new SelectorError(
      `The selector filter "${expression.slice(0, 200)}" is not supported: use amqp.annotation.x-opt-offset, ` +
        'x-opt-sequence-number or x-opt-enqueued-time with > or >=.',
    );
  }
  const [, annotation = '', operator, quoted, bare] = match;
  const value = (quoted ?? bare ?? '').trim();
  const inclusive = operator === '>=';
  switch (annotation.toLowerCase()) {
    case 'x-opt-offset':
      if (value === '@latest') return { kind: 'latest' };
      if (value === '-1') return { kind: 'earliest' }; // the clients' "earliest", with > or >=
      return { kind: 'offset', value: readNumber(value, 'offset'), inclusive };
    case 'x-opt-sequence-number':
      return { kind: 'sequence', value: readNumber(value, 'sequence number'), inclusive };
    default:
      return { kind: 'enqueued-time', value: readNumber(value, 'enqueued time'), inclusive };
  }
}

function readNumber(value: string, what: string): number {
  if (!/^-?\d{1,16}$/.test(value)) {
    throw new SelectorError(
      `The ${what} "${value.slice(0, 40)}" in the selector filter is not a whole number.`,
    );
  }
  return Number(value);
}
