import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Writes a file so that readers see the old content or the new one, never a part: a temporary file in the same
 * folder, flushed to disk, then renamed over the target (rename is atomic on one file system).
 */
export async function writeFileAtomic(path: string, content: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.${randomUUID()}.tmp`;
  const handle = await open(temporary, 'w', 0o600);
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
}

/** The file's JSON, or undefined when it does not exist. A file that is not JSON is an error naming it. */
export async function readJsonFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new Error(`${path} is not valid JSON (${(error as Error).message}); delete it to start over.`);
  }
}

export interface FileLockOptions {
  /** Give up after this long. */
  readonly timeoutMs?: number;
  /** A lock file older than this was left by a process that died while holding it. */
  readonly staleMs?: number;
}

const RETRY_MS = 15;

/**
 * Runs `action` while holding `<path>.lock`, created exclusively, so that a read-compare-write on `path` is atomic
 * across processes (for example two local hosts sharing a checkpoint folder). Returns undefined, without running
 * `action`, when the lock could not be taken in time.
 */
export async function withFileLock<T>(
  path: string,
  action: () => Promise<T>,
  options: FileLockOptions = {},
): Promise<{ value: T } | undefined> {
  const lockPath = `${path}.lock`;
  const deadline = Date.now() + (options.timeoutMs ?? 5_000);
  const staleMs = options.staleMs ?? 30_000;
  await mkdir(dirname(lockPath), { recursive: true });
  for (;;) {
    try {
      const handle = await open(lockPath, 'wx', 0o600);
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const age = await stat(lockPath).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    );
    if (age > staleMs) {
      await unlink(lockPath).catch(() => undefined);
      continue;
    }
    if (Date.now() >= deadline) return undefined;
    // A lock is held for one small file write: waiting a few milliseconds is how a file lock is polled.
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
  try {
    return { value: await action() };
  } finally {
    await unlink(lockPath).catch(() => undefined);
  }
}
