import { hubErrors } from '../errors';

/** Results per page when the caller does not say (`x-ms-max-item-count`), as IoT Hub's default. */
export const DEFAULT_PAGE_SIZE = 100;
/** The largest page IoT Hub gives for twin queries. */
export const MAX_PAGE_SIZE = 1000;

/** `x-ms-max-item-count`: a whole number 1..MAX_PAGE_SIZE; absent means the default. */
export function readPageSize(header: string | undefined): number {
  if (header === undefined || header.trim() === '') return DEFAULT_PAGE_SIZE;
  const value = Number(header.trim());
  if (!/^\d+$/.test(header.trim()) || !Number.isSafeInteger(value) || value < 1 || value > MAX_PAGE_SIZE) {
    throw hubErrors.badRequest(`x-ms-max-item-count must be a whole number from 1 to ${MAX_PAGE_SIZE}.`);
  }
  return value;
}
