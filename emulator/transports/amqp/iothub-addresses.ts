/**
 * The link addresses of IoT Hub's own AMQP endpoint (`/devices/{id}/...` for devices, `/messages/...` for
 * services), as the SDKs write them: with or without a leading slash, and sometimes as a full
 * `amqps://<host>/...` URL. Device ids are URL-encoded in addresses.
 */
export type IotHubAddress =
  | { readonly kind: 'device-telemetry'; readonly deviceId: string }
  | { readonly kind: 'device-c2d'; readonly deviceId: string }
  | { readonly kind: 'device-methods'; readonly deviceId: string }
  | { readonly kind: 'device-twin'; readonly deviceId: string }
  | { readonly kind: 'service-c2d' }
  | { readonly kind: 'service-feedback' }
  | { readonly kind: 'service-file-notifications' }
  | { readonly kind: 'service-events'; readonly rest: string }
  | { readonly kind: 'node'; readonly name: '$cbs' | '$management' }
  | { readonly kind: 'unknown' };

const DEVICE_LINKS: Readonly<Record<string, IotHubAddress['kind']>> = {
  'messages/events': 'device-telemetry',
  'messages/devicebound': 'device-c2d',
  'methods/devicebound': 'device-methods',
  twin: 'device-twin',
};

/** Classifies a link address; `unknown` for anything IoT Hub does not serve. */
export function parseIotHubAddress(address: unknown): IotHubAddress {
  // AMQP allows an address of any type; only a string can name one of IoT Hub's nodes.
  if (typeof address !== 'string') return { kind: 'unknown' };
  if (address === '$cbs' || address === '$management') return { kind: 'node', name: address };
  const path = address.replace(/^amqps?:\/\/[^/]*/i, '').replace(/^\/+/, '');
  const segments = path.split('/');
  if (segments[0]?.toLowerCase() === 'devices' && segments.length >= 3) {
    let deviceId: string;
    try {
      deviceId = decodeURIComponent(segments[1] ?? '');
    } catch {
      return { kind: 'unknown' };
    }
    const kind = DEVICE_LINKS[segments.slice(2).join('/').toLowerCase()];
    if (!kind || deviceId === '') return { kind: 'unknown' };
    return { kind, deviceId } as IotHubAddress;
  }
  const lower = path.toLowerCase();
  if (lower === 'messages/devicebound') return { kind: 'service-c2d' };
  if (lower === 'messages/servicebound/feedback') return { kind: 'service-feedback' };
  if (lower === 'messages/servicebound/filenotifications') return { kind: 'service-file-notifications' };
  if (lower === 'messages/events' || lower.startsWith('messages/events/')) {
    return { kind: 'service-events', rest: path.slice('messages/events'.length) };
  }
  return { kind: 'unknown' };
}

/** The device a service C2D message is addressed to: `to` = `/devices/{url-encoded id}/messages/devicebound`. */
export function deviceIdOfC2dTarget(to: unknown): string | undefined {
  if (typeof to !== 'string') return undefined;
  const match = /^\/devices\/([^/]+)\/messages\/devicebound$/i.exec(to);
  if (!match?.[1]) return undefined;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return undefined;
  }
}
