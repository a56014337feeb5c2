import { generateKey } from './keys';

export type Right = 'RegistryRead' | 'RegistryWrite' | 'ServiceConnect' | 'DeviceConnect';

export interface SharedAccessPolicy {
  readonly keyName: string;
  readonly primaryKey: string;
  readonly secondaryKey: string;
  readonly rights: readonly Right[];
}

/** The policies every IoT hub is created with, named and scoped as in Azure. */
const BUILT_IN_RIGHTS: Readonly<Record<string, readonly Right[]>> = {
  iothubowner: ['RegistryRead', 'RegistryWrite', 'ServiceConnect', 'DeviceConnect'],
  service: ['ServiceConnect'],
  device: ['DeviceConnect'],
  registryRead: ['RegistryRead'],
  registryReadWrite: ['RegistryRead', 'RegistryWrite'],
};

/** Keeps persisted policies and adds any missing built-in one with fresh keys. */
export function ensureBuiltInPolicies(
  existing: readonly SharedAccessPolicy[] | undefined,
): SharedAccessPolicy[] {
  const byName = new Map((existing ?? []).map((policy) => [policy.keyName, policy]));
  for (const [keyName, rights] of Object.entries(BUILT_IN_RIGHTS)) {
    if (!byName.has(keyName)) {
      byName.set(keyName, { keyName, primaryKey: generateKey(), secondaryKey: generateKey(), rights });
    }
  }
  return [...byName.values()];
}

export function hasRight(policy: SharedAccessPolicy, right: Right): boolean {
  // RegistryWrite implies RegistryRead, as in IoT Hub.
  return (
    policy.rights.includes(right) || (right === 'RegistryRead' && policy.rights.includes('RegistryWrite'))
  );
}
