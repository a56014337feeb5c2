/** The pages, addressed by the URL's fragment, so that the query (with the token) stays as the user opened it. */
export type Route =
  | { readonly page: 'hub' }
  | { readonly page: 'devices'; readonly params: URLSearchParams }
  | { readonly page: 'device'; readonly deviceId: string }
  | { readonly page: 'events' }
  | { readonly page: 'not-found' };

export function parseHash(hash: string): Route {
  const [path = '', query = ''] = hash.replace(/^#/, '').split('?', 2);
  const segments = path.split('/').filter((segment) => segment !== '');
  if (segments.length === 0 || (segments.length === 1 && segments[0] === 'hub')) return { page: 'hub' };
  if (segments[0] === 'devices' && segments.length === 1) {
    return { page: 'devices', params: new URLSearchParams(query) };
  }
  if (segments[0] === 'devices' && segments.length === 2) {
    try {
      return { page: 'device', deviceId: decodeURIComponent(segments[1] ?? '') };
    } catch {
      return { page: 'not-found' };
    }
  }
  if (segments[0] === 'events' && segments.length === 1) return { page: 'events' };
  return { page: 'not-found' };
}

export function deviceHref(deviceId: string): string {
  return `#/devices/${encodeURIComponent(deviceId)}`;
}

export function devicesHref(params: URLSearchParams): string {
  const query = params.toString();
  return query === '' ? '#/devices' : `#/devices?${query}`;
}
