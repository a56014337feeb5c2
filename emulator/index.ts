/**
 * The emulator's public API, as a test setup or a script uses it: start an emulator in its own process, read where
 * it listens and its connection strings, create devices, stop it. Everything else in this package is internal.
 */
export { startEmulator, type RunningEmulator, type StartEmulatorOptions } from './api';
export type { DeviceTransport, EmulatorInfo, EmulatorStats } from './emulator';
export { EMULATOR_DEFAULTS } from './config/options';
export { createSasToken } from './hub/auth/sas';
export type {
  DeviceCertificate,
  DeviceCertificateRequest,
  DeviceCertificateStyle,
  TlsMaterial,
} from './certificates';
export type { SdkConnectionString } from './config/sdk-connection-strings';
export type { EmulatorSettings } from './settings-file';
export { readEmulatorSettings } from './testing/test-environment';
