import { HubError } from '../../../../hub/errors';
import { parseQuery } from '../../../../hub/query/parse-query';
import { runQuery } from '../../../../hub/query/run-query';

const documents = Array.from({ length: 25 }, (_, index) => ({
  deviceId: `d${String(index).padStart(2, '0')}`,
  tags: { even: index % 2 === 0, ...(index % 5 === 0 ? {} : { site: index < 10 ? 'a' : 'b' }) },
}));

function all(text: string, pageSize: number): { pages: unknown[][]; tokens: (string | undefined)[] } {
  const query = parseQuery(text);
  const pages: unknown[][] = [];
  const tokens: (string | undefined)[] = [];
  let continuation: string | undefined;
  do {
    const page = runQuery(query, documents, { text, pageSize, continuation });
    pages.push([...page.items]);
    tokens.push(page.continuation);
    continuation = page.continuation;
  } while (continuation !== undefined);
  return { pages, tokens };
}

describe('runQuery', () => {
  it('pages through every match once, and the last page has no continuation', () => {
    const { pages, tokens } = all('SELECT * FROM devices WHERE tags.even = true', 5);
    expect(pages.map((page) => page.length)).toEqual([5, 5, 3]);
    expect(pages.flat().map((item) => (item as { deviceId: string }).deviceId)).toEqual(
      documents.filter((_, index) => index % 2 === 0).map((document) => document.deviceId),
    );
    expect(tokens.at(-1)).toBeUndefined();
  });

  it('projects the selected properties, leaving out absent ones', () => {
    const query = parseQuery(
      "SELECT deviceId, tags.site AS place FROM devices WHERE deviceId IN ['d00', 'd01']",
    );
    const page = runQuery(query, documents, { text: 'q', pageSize: 10, continuation: undefined });
    expect(page.items.map((item) => ({ ...(item as object) }))).toEqual([
      { deviceId: 'd00' },
      { deviceId: 'd01', place: 'a' },
    ]);
  });

  it('counts all, and counts per group (a missing key being its own group)', () => {
    const total = runQuery(parseQuery('SELECT COUNT() AS n FROM devices'), documents, {
      text: 't',
      pageSize: 100,
      continuation: undefined,
    });
    expect(total.items.map((item) => ({ ...(item as object) }))).toEqual([{ n: 25 }]);
    const text = 'SELECT tags.site AS site, COUNT() AS n FROM devices GROUP BY tags.site';
    const grouped = runQuery(parseQuery(text), documents, { text, pageSize: 100, continuation: undefined });
    expect(grouped.items.map((item) => ({ ...(item as object) }))).toEqual([
      { n: 5 },
      { site: 'a', n: 8 },
      { site: 'b', n: 12 },
    ]);
  });

  it('counts zero on no match', () => {
    const text = "SELECT COUNT() AS n FROM devices WHERE deviceId = 'none'";
    const page = runQuery(parseQuery(text), documents, { text, pageSize: 100, continuation: undefined });
    expect(page.items.map((item) => ({ ...(item as object) }))).toEqual([{ n: 0 }]);
  });

  it('applies TOP across pages', () => {
    const { pages } = all('SELECT TOP 7 * FROM devices', 3);
    expect(pages.map((page) => page.length)).toEqual([3, 3, 1]);
  });

  it('refuses a continuation token of another query or a forged one with 400', () => {
    const first = runQuery(parseQuery('SELECT * FROM devices'), documents, {
      text: 'SELECT * FROM devices',
      pageSize: 2,
      continuation: undefined,
    });
    const other = 'SELECT * FROM devices WHERE tags.even = true';
    for (const continuation of [
      first.continuation,
      'not-a-token',
      Buffer.from('{"v":1,"o":-1}').toString('base64url'),
    ]) {
      expect(() =>
        runQuery(parseQuery(other), documents, { text: other, pageSize: 2, continuation }),
      ).toThrow(HubError);
    }
  });
});
