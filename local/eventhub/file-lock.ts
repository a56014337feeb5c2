import { mkdir, open, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

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
