import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Writes a file so that, even after a crash or a power loss, it holds the old content or the new one, never a
 * part or nothing: a temporary file in the same folder, written and fsynced, renamed over the target (atomic on
 * one file system), then the folder fsynced so that the rename itself is on disk. The one writer of every state
 * file (registry, telemetry layout, certificates, checkpoints).
 */
export async function writeFileAtomic(path: string, content: string, mode = 0o600): Promise<void> {
  const folder = dirname(path);
  await mkdir(folder, { recursive: true });
  const temporary = `${path}.${process.pid}.${randomUUID()}.tmp`;
  const handle = await open(temporary, 'w', mode);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  await syncFolder(folder);
}

/** fsync of a folder: makes the names created, renamed or deleted in it durable. */
export async function syncFolder(folder: string): Promise<void> {
  const handle = await open(folder, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** A state file that cannot be read: it names the file, says what is wrong and what to do. */
export class StateFileError extends Error {
  override readonly name = 'StateFileError';
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The file's JSON, or undefined when it does not exist. A file that is not JSON is a StateFileError saying which
 * file, what it holds (`what`) and what to do; nothing is deleted.
 */
export async function readJsonFile(path: string, what = 'state'): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StateFileError(path, `Cannot read ${path} (${what}): ${(error as Error).message}.`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const damage = text.trim() === '' ? 'is empty' : `is not valid JSON (${(error as Error).message})`;
    throw new StateFileError(
      path,
      `${path} ${damage}; it holds ${what}. Restore it from a backup, or delete it to start over: only what ` +
        'it holds starts over, nothing else is touched.',
    );
  }
}

/**
 * A JSON document on disk, written atomically and durably (writeFileAtomic). Saves are coalesced: many changes in
 * a burst (1,000 devices created at start) cost one or two writes, and a save resolves only once a write that
 * includes its change is on disk.
 */
export class JsonFile<T> {
  private writing: Promise<void> | undefined;
  private dirty = false;

  constructor(
    readonly path: string,
    private readonly snapshot: () => T,
  ) {}

  /** The document, or undefined when the file does not exist; StateFileError when it cannot be read. */
  static async read<T>(path: string, what?: string): Promise<T | undefined> {
    return (await readJsonFile(path, what)) as T | undefined;
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
        await writeFileAtomic(this.path, JSON.stringify(this.snapshot(), null, 2));
      }
    } finally {
      // Cleared in the same turn as the loop's last check, so a save() from now on starts a new drain.
      this.writing = undefined;
    }
  }
}
