/** IoT Hub's limit on a query's text, the condition included. */
export const MAX_QUERY_LENGTH = 8192;
// The longer of the two forms used (a job's condition is read as `SELECT * FROM devices WHERE ...`).
const QUERY_PREFIX = 'SELECT deviceId FROM devices WHERE ';
/** The longest condition that still fits in a query once prefixed. */
export const MAX_CONDITION_LENGTH = MAX_QUERY_LENGTH - QUERY_PREFIX.length;

/** `SELECT deviceId FROM devices WHERE <condition>`: the query that resolves a condition to device ids. */
export function devicesQuery(condition: string): string {
  return `${QUERY_PREFIX}${condition}`;
}

/**
 * A job condition selecting exactly the listed devices: `deviceId IN ['a', 'b']`. Device ids may hold `'`, which
 * IoT Hub's string literals take escaped with a backslash.
 */
export function deviceIdsCondition(deviceIds: readonly string[]): string {
  const literals = deviceIds.map((id) => `'${id.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`);
  return `deviceId IN [${literals.join(', ')}]`;
}
