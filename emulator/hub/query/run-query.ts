import { continuationToken, readContinuationToken } from './continuation';
import { matches, valueAt, type QueryDocument } from './evaluate';
import type { ParsedQuery, SelectItem } from './query-ast';

export interface QueryPage {
  readonly items: readonly unknown[];
  /** Present when more results follow: the `x-ms-continuation` to send for the next page. */
  readonly continuation: string | undefined;
}

export interface PageRequest {
  /** The query text, which continuation tokens are bound to. */
  readonly text: string;
  readonly pageSize: number;
  readonly continuation: string | undefined;
}

/**
 * Runs a parsed query over documents given in a stable order, and answers one page. `SELECT *` gives the documents
 * themselves, a projection gives the selected properties (absent ones left out), and `COUNT()` gives one row per
 * group in order of first appearance.
 */
export function runQuery(
  query: ParsedQuery,
  documents: Iterable<QueryDocument>,
  page: PageRequest,
): QueryPage {
  const offset = readContinuationToken(page.text, page.continuation);
  const results = query.select?.some((item) => item.kind === 'count')
    ? aggregate(query, documents)
    : select(query, documents, offset + page.pageSize + 1);
  const limited = query.top === undefined ? results : results.slice(0, query.top);
  const items = limited.slice(offset, offset + page.pageSize);
  const next = offset + items.length;
  return { items, continuation: next < limited.length ? continuationToken(page.text, next) : undefined };
}

/** Matching documents (projected), stopping once `enough` are found: later pages run the query again. */
function select(query: ParsedQuery, documents: Iterable<QueryDocument>, enough: number): unknown[] {
  const results: unknown[] = [];
  const wanted = Math.min(enough, query.top ?? Number.MAX_SAFE_INTEGER);
  for (const document of documents) {
    if (!matches(document, query.where)) continue;
    results.push(query.select === undefined ? document : project(document, query.select));
    if (results.length >= wanted) break;
  }
  return results;
}

function project(document: QueryDocument, items: readonly SelectItem[]): Record<string, unknown> {
  const row = Object.create(null) as Record<string, unknown>;
  for (const item of items) {
    if (item.kind !== 'property') continue;
    const value = valueAt(document, item.path);
    if (value !== undefined) row[item.name] = value;
  }
  return row;
}

function aggregate(query: ParsedQuery, documents: Iterable<QueryDocument>): unknown[] {
  const items = query.select ?? [];
  const groups = new Map<string, { row: Record<string, unknown>; count: number }>();
  for (const document of documents) {
    if (!matches(document, query.where)) continue;
    const keyValues = query.groupBy.map((path) => valueAt(document, path));
    // JSON of the key values (undefined kept apart from null) identifies the group.
    const key = JSON.stringify(keyValues.map((value) => (value === undefined ? { undefined: true } : value)));
    let group = groups.get(key);
    if (!group) {
      group = { row: project(document, items), count: 0 };
      groups.set(key, group);
    }
    group.count++;
  }
  if (groups.size === 0 && query.groupBy.length === 0) {
    groups.set('', { row: Object.create(null) as Record<string, unknown>, count: 0 });
  }
  return [...groups.values()].map(({ row, count }) => {
    for (const item of items) if (item.kind === 'count') row[item.name] = count;
    return row;
  });
}
