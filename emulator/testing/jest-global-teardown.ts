import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { RunningEmulator } from '../api';
import { TEST_HANDLE } from './test-environment';

/** Jest `globalTeardown`: stops the emulator `iothub-emulator/jest-global-setup` started, and removes its
 * temporary data directory. */
async function globalTeardown(): Promise<void> {
  const emulator = (globalThis as Record<symbol, unknown>)[TEST_HANDLE] as RunningEmulator | undefined;
  if (!emulator) return;
  await emulator.stop();
  if (emulator.info.dataDir.startsWith(tmpdir()))
    rmSync(emulator.info.dataDir, { recursive: true, force: true });
}

export = globalTeardown;
