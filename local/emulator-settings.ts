import { join } from 'node:path';
import type { EmulatorInfo } from 'iothub-emulator';
import { CHECKPOINT_DIR_SETTING } from './eventhub/eventhub-triggers';

/** The app settings that point this app's functions at a running emulator (as local.settings.json holds them). */
export function emulatorAppSettings(info: EmulatorInfo): Record<string, string> {
  return {
    IOTHUB_SERVICE_CONNECTION_STRING: info.serviceConnectionString,
    IOTHUB_EMULATOR_CA_CERT: info.caPath,
    IOTHUB_EVENTS_CONNECTION: info.eventHubConnectionString,
    IOTHUB_EVENTS_HUB_NAME: info.eventHubName,
    // The group the function reads with, as in Azure; `$Default` stays free for other readers.
    IOTHUB_EVENTS_CONSUMER_GROUP: 'functions',
  };
}

/**
 * The app settings plus the local host's checkpoint folder inside the emulator's data directory, so that
 * checkpoints go with the events they point into (`--reset` wipes both; a fresh emulator never meets old ones).
 */
export function emulatorHostSettings(info: EmulatorInfo): Record<string, string> {
  return { ...emulatorAppSettings(info), [CHECKPOINT_DIR_SETTING]: join(info.dataDir, 'checkpoints') };
}
