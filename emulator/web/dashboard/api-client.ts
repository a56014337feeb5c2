import type {
  CloudToDeviceReply,
  ConnectionStringReply,
  DeviceDetail,
  DevicePage,
  DeviceRow,
  ErrorReply,
  HubEvent,
  HubSummary,
  JsonValue,
  ListReply,
  MethodReply,
  TelemetryItem,
  TwinReply,
} from '../../dashboard/api-types';

/** A refusal from the dashboard's API, with the code and field it named. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly target: string | undefined,
  ) {
    super(message);
  }
}

export interface DeviceListQuery {
  readonly search: string;
  readonly status: string;
  readonly connection: string;
  readonly offset: number;
  readonly limit: number;
}

export interface MethodCall {
  readonly methodName: string;
  readonly payload: JsonValue;
  readonly responseTimeoutInSeconds: number;
  readonly connectTimeoutInSeconds: number;
}

export interface CloudToDeviceMessage {
  readonly payload?: JsonValue;
  readonly body?: string;
  readonly ack: 'none' | 'positive' | 'negative' | 'full';
}

const path = (deviceId: string, ...rest: string[]) =>
  ['devices', encodeURIComponent(deviceId), ...rest].join('/');

/** The dashboard's API, typed, with the token from the page URL in every request's Authorization header. */
export class ApiClient {
  constructor(readonly token: string) {}

  hub(): Promise<HubSummary> {
    return this.call('GET', 'hub');
  }

  events(limit: number): Promise<ListReply<HubEvent>> {
    return this.call('GET', `events?limit=${String(limit)}`);
  }

  devices(query: DeviceListQuery): Promise<DevicePage> {
    const params = new URLSearchParams({
      search: query.search,
      status: query.status,
      connection: query.connection,
      offset: String(query.offset),
      limit: String(query.limit),
    });
    return this.call('GET', `devices?${params.toString()}`);
  }

  device(deviceId: string): Promise<DeviceDetail> {
    return this.call('GET', path(deviceId));
  }

  createDevice(deviceId: string): Promise<DeviceRow> {
    return this.call('POST', 'devices', { deviceId });
  }

  setStatus(deviceId: string, status: 'enabled' | 'disabled'): Promise<DeviceRow> {
    return this.call('PATCH', path(deviceId), { status });
  }

  deleteDevice(deviceId: string): Promise<undefined> {
    return this.call('DELETE', path(deviceId));
  }

  regenerateKey(deviceId: string, key: 'primary' | 'secondary'): Promise<DeviceRow> {
    return this.call('POST', path(deviceId, 'keys'), { key });
  }

  connectionString(deviceId: string, key: 'primary' | 'secondary'): Promise<ConnectionStringReply> {
    return this.call('POST', path(deviceId, 'connection-string'), { key });
  }

  telemetry(deviceId: string, limit: number): Promise<ListReply<TelemetryItem>> {
    return this.call('GET', `${path(deviceId, 'telemetry')}?limit=${String(limit)}`);
  }

  deviceEvents(deviceId: string): Promise<ListReply<HubEvent>> {
    return this.call('GET', path(deviceId, 'events'));
  }

  twin(deviceId: string): Promise<TwinReply> {
    return this.call('GET', path(deviceId, 'twin'));
  }

  updateDesired(deviceId: string, desired: JsonValue, etag: string): Promise<TwinReply> {
    return this.call('PATCH', path(deviceId, 'twin'), { desired, etag });
  }

  invoke(deviceId: string, call: MethodCall): Promise<MethodReply> {
    return this.call('POST', path(deviceId, 'methods'), call);
  }

  sendMessage(deviceId: string, message: CloudToDeviceMessage): Promise<CloudToDeviceReply> {
    return this.call('POST', path(deviceId, 'messages'), message);
  }

  private async call<T>(method: string, route: string, body?: unknown): Promise<T> {
    const response = await fetch(`/api/${route}`, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      cache: 'no-store',
    });
    const text = await response.text();
    if (!response.ok) {
      const error = parseError(text);
      throw new ApiError(response.status, error.code, error.message, error.target);
    }
    // The server's replies are typed by api-types.ts; an empty one (204) is undefined.
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }
}

function parseError(text: string): ErrorReply['error'] {
  try {
    const reply = JSON.parse(text) as Partial<ErrorReply>;
    if (reply.error && typeof reply.error.message === 'string') return reply.error;
  } catch {
    // not JSON: a proxy's or the browser's own page
  }
  return { code: 'Error', message: text.slice(0, 200) || 'The request failed.' };
}
