import { hubErrors } from '../../hub/errors';
import type { IotHub } from '../../hub/hub';
import { DEVICE_ID_RULE, isValidDeviceId } from '../../hub/identifiers';
import type { DeviceRecord } from '../../hub/registry';
import { dashboardErrors } from '../errors';

/** The device a route names: 400 for an id IoT Hub would refuse, 404 DeviceNotFound for an unknown one. */
export function deviceOf(hub: IotHub, params: Readonly<Record<string, string>>): DeviceRecord {
  const deviceId = params.deviceId ?? '';
  if (!isValidDeviceId(deviceId)) {
    throw dashboardErrors.invalid(
      'deviceId',
      `The device id ${JSON.stringify(deviceId.slice(0, 200))} is invalid: use ${DEVICE_ID_RULE}.`,
      'InvalidDeviceId',
    );
  }
  const record = hub.registry.find(deviceId);
  if (!record) throw hubErrors.deviceNotFound(deviceId);
  return record;
}

/** One of `choices` from a body field; `fallback` when absent (or required when there is none). */
export function choiceField<T extends string>(
  fields: Record<string, unknown>,
  name: string,
  choices: readonly T[],
  fallback?: T,
): T {
  const value = fields[name];
  if ((value === undefined || value === null) && fallback !== undefined) return fallback;
  const choice = choices.find((candidate) => candidate === value);
  if (choice === undefined) {
    throw dashboardErrors.invalid(name, `${name} must be one of ${choices.map((c) => `"${c}"`).join(', ')}.`);
  }
  return choice;
}
