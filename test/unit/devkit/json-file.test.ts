import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonFile, readJsonFile, StateFileError, writeFileAtomic } from '../../../devkit/json-file';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'json-file-'));
});
afterEach(() => {
  jest.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

/** Spies on fsync of every FileHandle, recording which paths were synced (files and folders). */
async function spyOnSync(): Promise<string[]> {
  const probe = await open(join(dir, 'probe'), 'w');
  const prototype = Object.getPrototypeOf(probe) as { sync: () => Promise<void> };
  await probe.close();
  const synced: string[] = [];
  const original = prototype.sync;
  jest.spyOn(prototype, 'sync').mockImplementation(function (this: { fd: number }) {
    synced.push(String(this.fd));
    return original.call(this);
  });
  return synced;
}

describe('writeFileAtomic', () => {
  it('fsyncs the new content and then the folder, so that a power loss keeps the old file or the new one', async () => {
    const synced = await spyOnSync();
    await writeFileAtomic(join(dir, 'state.json'), '{"v":1}');
    // One sync for the temporary file before the rename, one for the folder after it.
    expect(synced).toHaveLength(2);
    expect(readFileSync(join(dir, 'state.json'), 'utf8')).toBe('{"v":1}');
    expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('leaves the old content in place when the write fails', async () => {
    writeFileSync(join(dir, 'state.json'), '{"v":1}');
    await expect(writeFileAtomic(join(dir, 'missing', 'deeper', '\0bad'), 'x')).rejects.toThrow();
    expect(readFileSync(join(dir, 'state.json'), 'utf8')).toBe('{"v":1}');
  });
});

describe('JsonFile saves', () => {
  it('are fsynced: a created device survives a power loss, like a PUBACKed event', async () => {
    const synced = await spyOnSync();
    const file = new JsonFile(join(dir, 'state.json'), () => ({ devices: ['dev-1'] }));
    await file.save();
    expect(synced.length).toBeGreaterThanOrEqual(2);
    expect(JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'))).toEqual({ devices: ['dev-1'] });
  });
});

describe('readJsonFile', () => {
  it.each([
    ['empty', '', /is empty/],
    ['cut off', '{"formatVersion":1,"partit', /is not valid JSON/],
  ])(
    'names an %s file, says what it holds and what to do, and deletes nothing',
    async (_what, content, damage) => {
      const path = join(dir, 'layout.json');
      writeFileSync(path, content);
      const error = await readJsonFile(path, 'the partition count').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StateFileError);
      expect((error as StateFileError).message).toMatch(damage);
      expect((error as StateFileError).message).toContain(path);
      expect((error as StateFileError).message).toContain('it holds the partition count');
      expect((error as StateFileError).message).toMatch(/delete it to start over/);
      expect(readFileSync(path, 'utf8')).toBe(content);
    },
  );

  it('gives undefined for a file that does not exist', async () => {
    expect(await readJsonFile(join(dir, 'none.json'))).toBeUndefined();
  });
});
