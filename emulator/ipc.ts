import type { EmulatorInfo, EmulatorOptions, EmulatorStats } from './emulator';

/** Messages between the programmatic API (parent) and an emulator process it forked (child). */
export type ParentMessage =
  | { type: 'ensure-devices'; requestId: number; deviceIds: string[] }
  /** Answered with `devices`, the strings keyed `<deviceId>/<moduleId>`. */
  | { type: 'ensure-modules'; requestId: number; modules: { deviceId: string; moduleId: string }[] }
  | { type: 'stats'; requestId: number }
  | { type: 'reset'; requestId: number }
  | { type: 'stop' };

export type ChildMessage =
  | { type: 'ready'; info: EmulatorInfo; deviceConnectionStrings: Record<string, string> }
  | { type: 'devices'; requestId: number; deviceConnectionStrings?: Record<string, string>; error?: string }
  | { type: 'stats'; requestId: number; stats: EmulatorStats }
  | { type: 'reset'; requestId: number; deviceConnectionStrings?: Record<string, string>; error?: string }
  | { type: 'failed'; error: string };

/** Options passed to a forked emulator through its environment, as JSON. */
export const OPTIONS_ENV = 'IOTHUB_EMULATOR_OPTIONS_JSON';
export type SerializableEmulatorOptions = Omit<EmulatorOptions, 'log'>;
