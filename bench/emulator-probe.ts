import { writeHeapSnapshot } from 'node:v8';
import type { EmulatorInfo } from 'iothub-emulator';
import { Emulator, type EmulatorOptions } from 'iothub-emulator/in-process';

/**
 * The emulator in a process of the memory-growth bench's own, so that the bench can see inside it: the split of
 * `process.memoryUsage()` (V8 heap vs external vs array buffers, which the emulator's stats do not give) and heap
 * snapshots on request. The emulator itself is started exactly as its command line starts it (Emulator.start).
 *   parent -> { type: 'start', options }  child -> { type: 'ready', info, serviceConnectionString }
 *   parent -> { type: 'memory' }          child -> { type: 'memory', usage }
 *   parent -> { type: 'snapshot', path }  child -> { type: 'snapshot', path }
 *   disconnect: stops the emulator and exits.
 */
export type ProbeRequest =
  | { readonly type: 'start'; readonly options: Omit<EmulatorOptions, 'log'> }
  /** With `gc` (the probe runs with --expose-gc), after a full collection: the live heap, not its garbage. */
  | { readonly type: 'memory'; readonly gc?: boolean }
  | { readonly type: 'snapshot'; readonly path: string };

export type ProbeReply =
  | { readonly type: 'ready'; readonly info: EmulatorInfo }
  | { readonly type: 'memory'; readonly usage: NodeJS.MemoryUsage }
  | { readonly type: 'snapshot'; readonly path: string };

/** The emulator's info lines would drown the bench's table; its warnings stay. */
const QUIET = {
  info: () => undefined,
  warn: (line: string) => {
    console.warn(`[emulator] ${line}`);
  },
};

function main(): void {
  let emulator: Emulator | undefined;
  const reply = (message: ProbeReply) => process.send?.(message);
  process.on('message', (message: ProbeRequest) => {
    switch (message.type) {
      case 'start':
        void Emulator.start({ ...message.options, log: QUIET }).then((started) => {
          emulator = started;
          reply({ type: 'ready', info: started.info });
        });
        return;
      case 'memory':
        if (message.gc) (globalThis as { gc?: () => void }).gc?.();
        reply({ type: 'memory', usage: process.memoryUsage() });
        return;
      case 'snapshot':
        reply({ type: 'snapshot', path: writeHeapSnapshot(message.path) });
    }
  });
  process.once('disconnect', () => {
    void (emulator?.stop() ?? Promise.resolve()).then(() => process.exit(0));
  });
}

main();
