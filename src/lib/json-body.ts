import { ValidationError } from './errors';

/**
 * A request body that must be a JSON object: 400 InvalidJson when it does not parse, 400 InvalidBody (with an
 * example of what is expected) when it is not an object. Shared by every function that takes a JSON body.
 */
export function parseJsonObjectBody(text: string, example: string): Record<string, unknown> {
  let value: unknown;
  try {
    // Iterative in V8: nesting alone cannot exhaust the stack; the callers bound depth after.
    value = JSON.parse(text);
  } catch (error) {
    throw new ValidationError(
      'InvalidJson',
      'body',
      `The request body is not valid JSON: ${(error as Error).message}.`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ValidationError(
      'InvalidBody',
      'body',
      `The request body must be a JSON object such as ${example}.`,
    );
  }
  return value as Record<string, unknown>;
}
