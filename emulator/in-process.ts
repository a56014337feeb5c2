/**
 * `iothub-emulator/in-process`: the emulator's parts in this process, for tools that need to look inside it (a
 * benchmark reading its heap) or its TLS material before it starts (a test that sets NODE_EXTRA_CA_CERTS for a
 * child). Tests want `startEmulator` from the main entry, which runs the emulator in a child process. A separate
 * entry because loading these costs about 0.4 s (the whole emulator, the certificate generator), which the main
 * entry does not.
 */
export { Emulator, type EmulatorOptions } from './emulator';
export { loadOrCreateTlsMaterial } from './certificates';
