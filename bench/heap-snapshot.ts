import { readFileSync } from 'node:fs';

/** Self size and count of the objects of one kind in a heap snapshot. */
export interface HeapGroup {
  readonly name: string;
  readonly count: number;
  readonly bytes: number;
}

interface SnapshotFile {
  readonly snapshot: {
    readonly meta: {
      readonly node_fields: readonly string[];
      readonly node_types: readonly [readonly string[], ...unknown[]];
    };
  };
  readonly nodes: readonly number[];
  readonly strings: readonly string[];
}

/**
 * Groups a V8 heap snapshot's nodes by kind: objects by constructor name, everything else (strings, code, arrays,
 * closures...) by node type, as the "Summary" view of Chrome's memory tool does. Reads the whole file: fine for
 * the heaps of a bench at small scale (a heap of a few hundred MB makes a snapshot too big for one JSON string).
 */
export function groupHeapSnapshot(path: string): Map<string, HeapGroup> {
  const file = JSON.parse(readFileSync(path, 'utf8')) as SnapshotFile;
  const fields = file.snapshot.meta.node_fields;
  const types = file.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const groups = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < file.nodes.length; i += width) {
    const type = types[file.nodes[i + typeAt] ?? 0] ?? '?';
    const name = type === 'object' ? (file.strings[file.nodes[i + nameAt] ?? 0] ?? '?') : `(${type})`;
    const group = groups.get(name) ?? { count: 0, bytes: 0 };
    group.count++;
    group.bytes += file.nodes[i + sizeAt] ?? 0;
    groups.set(name, group);
  }
  return new Map([...groups].map(([name, group]) => [name, { name, ...group }]));
}

/** The kinds that grew most from `before` to `after`, in bytes. */
export function heapGrowth(
  before: ReadonlyMap<string, HeapGroup>,
  after: ReadonlyMap<string, HeapGroup>,
  top: number,
): HeapGroup[] {
  return [...after.values()]
    .map((group) => {
      const old = before.get(group.name);
      return {
        name: group.name,
        count: group.count - (old?.count ?? 0),
        bytes: group.bytes - (old?.bytes ?? 0),
      };
    })
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, top);
}
