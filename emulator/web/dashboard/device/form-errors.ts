import type { JsonValue } from '../../../dashboard/api-types';
import { ApiError } from '../api-client';

/** Parses JSON typed by the user; the message names the field. */
export function readJson(text: string, fieldName: string): { value: JsonValue } | { error: string } {
  try {
    return { value: JSON.parse(text) as JsonValue };
  } catch (error) {
    return { error: `${fieldName} is not valid JSON: ${(error as Error).message}` };
  }
}

/** An API refusal as the forms show it: the status, IoT Hub's error name, and what to fix. */
export function refusalText(error: unknown): string {
  if (error instanceof ApiError) {
    return `${String(error.status)} ${error.code}: ${error.message}`;
  }
  return error instanceof Error ? error.message : String(error);
}
