import type { QueryDocument } from './evaluate';
import { parseQuery } from './parse-query';
import type { Collection } from './query-ast';
import { runQuery, type QueryPage } from './run-query';

/** Where each collection's documents come from, each in a stable order (paging relies on it). */
export type QuerySources = Readonly<Record<Collection, () => Iterable<QueryDocument>>>;

export interface QueryAnswer extends QueryPage {
  /** `x-ms-item-type`: what the items are. */
  readonly itemType: 'Twin' | 'DeviceJob' | 'Raw';
}

/** `POST /devices/query`: parses the query (400 for what IoT Hub would not accept) and answers one page. */
export class QueryService {
  constructor(private readonly sources: QuerySources) {}

  run(text: string, pageSize: number, continuation: string | undefined): QueryAnswer {
    const query = parseQuery(text);
    const page = runQuery(query, this.sources[query.from](), { text, pageSize, continuation });
    const itemType =
      query.select !== undefined ? 'Raw' : query.from === 'devices.jobs' ? 'DeviceJob' : 'Twin';
    return { ...page, itemType };
  }
}
