/**
 * The emulator's public API, as a test setup or a script uses it: start an emulator in its own process, read where
 * it listens and its connection strings, create devices, stop it. Everything else in this package is internal.
 */
export { startEmulator, type RunningEmulator, type StartEmulatorOptions } from './api';
export type { DeviceTransport, EmulatorInfo, EmulatorStats } from './emulator';
/** The emulator in this process, for tools that need to look inside it (benchmarks); tests want `startEmulator`. */
export { Emulator, type EmulatorOptions } from './emulator';
export { EMULATOR_DEFAULTS } from './config/options';
export { createSasToken } from './hub/auth/sas';
export {
  loadOrCreateTlsMaterial,
  type DeviceCertificate,
  type DeviceCertificateRequest,
  type DeviceCertificateStyle,
  type TlsMaterial,
} from './certificates';
export type { SdkConnectionString } from './config/sdk-connection-strings';
export type { EmulatorSettings } from './settings-file';
export { readEmulatorSettings } from './testing/test-environment';
