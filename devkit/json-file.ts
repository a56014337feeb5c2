import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * A JSON document on disk, written atomically (temporary file + rename) so that a crash never leaves half a
 * file. Saves are coalesced: many changes in a burst (1,000 devices created at start) cost one or two writes.
 */
export class JsonFile<T> {
  private writing: Promise<void> | undefined;
  private dirty = false;

  constructor(
    readonly path: string,
    private readonly snapshot: () => T,
  ) {}

  static async read<T>(path: string): Promise<T | undefined> {
    try {
      return JSON.parse(await readFile(path, 'utf8')) as T;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new Error(
        `Cannot read ${path}: ${(error as Error).message}. Fix or delete it (or start with --reset).`,
      );
    }
  }

  /** Schedules a save of the current snapshot; resolves once a save that includes this change is on disk. */
  save(): Promise<void> {
    this.dirty = true;
    this.writing ??= this.drain();
    return this.writing;
  }

  /** Waits for pending writes. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private async drain(): Promise<void> {
    try {
      while (this.dirty) {
        this.dirty = false;
        const text = JSON.stringify(this.snapshot(), null, 2);
        await mkdir(dirname(this.path), { recursive: true });
        const temporary = `${this.path}.${process.pid}.tmp`;
        await writeFile(temporary, text, { mode: 0o600 });
        await rename(temporary, this.path);
      }
    } finally {
      // Cleared in the same turn as the loop's last check, so a save() from now on starts a new drain.
      this.writing = undefined;
    }
  }
}
