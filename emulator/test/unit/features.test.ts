import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FEATURES, featureTableMarkdown, TRANSPORTS } from '../../features';

/** A Markdown table's cells, row by row: the same whatever the column widths Prettier gives it. */
function cells(markdown: string): string[][] {
  return markdown
    .trim()
    .split('\n')
    .map((line) =>
      line
        .trim()
        .replace(/^\||\|$/g, '')
        .split('|')
        .map((cell) => cell.trim().replace(/^-+$/, '---')),
    );
}

describe("the README's feature table", () => {
  it('is the table of emulator/features.ts (npm run readme --workspace iothub-emulator rewrites it)', () => {
    const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
    const section = /<!-- features:start -->\n([\s\S]*?)\n<!-- features:end -->/.exec(readme)?.[1];
    expect(section).toBeDefined();
    expect(cells(section ?? '')).toEqual(cells(featureTableMarkdown()));
  });

  it('gives every feature a value for every transport', () => {
    for (const row of FEATURES) expect(Object.keys(row.support).sort()).toEqual([...TRANSPORTS].sort());
  });
});
