import { createHash } from 'node:crypto';
import { hubErrors } from '../errors';

/**
 * Continuation tokens (`x-ms-continuation`): opaque to clients, they say where the next page starts and for which
 * query, so that a token cannot be replayed against another query. The emulator keeps no cursor: each page runs
 * the query again and skips what earlier pages gave (results come in a stable order: by device, then module).
 */
interface TokenBody {
  readonly v: 1;
  /** Results already returned. */
  readonly o: number;
  /** A digest of the query text. */
  readonly q: string;
}

const MAX_TOKEN_LENGTH = 512;

export function continuationToken(queryKey: string, offset: number): string {
  const body: TokenBody = { v: 1, o: offset, q: digest(queryKey) };
  return Buffer.from(JSON.stringify(body)).toString('base64url');
}

/** The offset a token resumes at (0 without a token); 400 for a token this query did not give. */
export function readContinuationToken(queryKey: string, token: string | undefined): number {
  if (token === undefined || token === '') return 0;
  const invalid = () =>
    hubErrors.badRequest('The continuation token is invalid or belongs to another query.');
  if (token.length > MAX_TOKEN_LENGTH) throw invalid();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (typeof parsed !== 'object' || parsed === null) throw invalid();
  const { v, o, q } = parsed as Partial<Record<keyof TokenBody, unknown>>;
  if (v !== 1 || typeof o !== 'number' || !Number.isSafeInteger(o) || o < 0 || q !== digest(queryKey)) {
    throw invalid();
  }
  return o;
}

function digest(queryKey: string): string {
  return createHash('sha256').update(queryKey).digest('base64url').slice(0, 22);
}
