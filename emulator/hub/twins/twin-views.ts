import type { DeviceDescription } from '../registry';
import { twinEtag, type DeviceTwin, type DocumentChange, type TwinSection } from './device-twin';
import type { Metadata } from './twin-metadata';
import type { PatchObject, TwinObject, TwinValue } from './twin-properties';

/** A section as JSON: its properties, then `$metadata` and `$version` (names a property can never take). */
export type SectionJson = Record<string, TwinValue | Metadata>;

/**
 * A device twin as IoT Hub's service API returns it (`GET /twins/{id}`, 2021-04-12): the device identity's
 * read-only fields (without keys, `generationId` or `connectionStateUpdatedTime`), the twin's versions, tags and
 * both property sections with their metadata.
 */
export interface ServiceTwinJson {
  readonly deviceId: string;
  readonly etag: string;
  readonly deviceEtag: string;
  readonly status: DeviceDescription['status'];
  readonly statusReason?: string;
  readonly statusUpdateTime: string;
  readonly connectionState: DeviceDescription['connectionState'];
  readonly lastActivityTime: string;
  readonly cloudToDeviceMessageCount: number;
  readonly authenticationType: DeviceDescription['authentication']['type'];
  readonly x509Thumbprint: DeviceDescription['authentication']['x509Thumbprint'];
  readonly modelId: string;
  readonly version: number;
  readonly tags: TwinObject;
  readonly properties: { readonly desired: SectionJson; readonly reported: SectionJson };
  readonly capabilities: DeviceDescription['capabilities'];
}

export function serviceTwinJson(twin: DeviceTwin, device: DeviceDescription): ServiceTwinJson {
  return {
    deviceId: twin.deviceId,
    etag: twinEtag(twin),
    deviceEtag: device.etag.replace(/^"|"$/g, ''),
    status: device.status,
    ...(device.statusReason === null ? {} : { statusReason: device.statusReason }),
    statusUpdateTime: device.statusUpdatedTime,
    connectionState: device.connectionState,
    lastActivityTime: device.lastActivityTime,
    cloudToDeviceMessageCount: device.cloudToDeviceMessageCount,
    authenticationType: device.authentication.type,
    x509Thumbprint: device.authentication.x509Thumbprint,
    modelId: '',
    version: twin.version,
    tags: twin.tags,
    properties: { desired: sectionJson(twin.desired, true), reported: sectionJson(twin.reported, true) },
    capabilities: device.capabilities,
  };
}

/**
 * The device's view of its twin (MQTT `$iothub/twin/GET`): desired and reported properties with their `$version`,
 * without metadata or tags, as IoT Hub sends it to devices.
 */
export function deviceTwinBody(twin: DeviceTwin): Buffer {
  return Buffer.from(
    JSON.stringify({
      desired: sectionJson(twin.desired, false),
      reported: sectionJson(twin.reported, false),
    }),
  );
}

/**
 * What a device subscribed to desired-property updates receives for a change: the patch as the service wrote it
 * (nulls included, so that the device deletes those too) or, for a replacement, the whole new document; with the new
 * `$version`.
 */
export function desiredChangeBody(change: DocumentChange, version: number): Buffer {
  const body: PatchObject = Object.assign(
    Object.create(null) as PatchObject,
    change.kind === 'patch' ? change.patch : change.document,
  );
  body.$version = version;
  return Buffer.from(JSON.stringify(body));
}

function sectionJson(section: TwinSection, withMetadata: boolean): SectionJson {
  // Without prototype, like the document: a property named __proto__ is copied as data.
  const json = Object.assign(Object.create(null) as SectionJson, section.properties);
  if (withMetadata) json.$metadata = section.metadata;
  json.$version = section.version;
  return json;
}
