import { EventEmitter } from 'node:events';
import type { MethodCallRecord, ConnectionRefusal } from '../hub/activity';
import type { Settlement } from '../hub/c2d/cloud-to-device';
import type { DeviceConnection } from '../hub/connections/device-connection';
import type { IotHub } from '../hub/hub';
import type { TelemetryEvent } from '../hub/telemetry/record';
import type { HubSummary, ReaderRow, StatsMessage } from './api-types';
import { DeviceActivity } from './device-activity';
import { DeviceDirectory } from './device-directory';
import { EventFeed, type NewHubEvent } from './event-feed';
import { RateSeries } from './rate-series';
import { RegistryWatch, type RegistryChange } from './registry-watch';

/** Who reads the Event Hub-compatible endpoint; supplied by whoever runs the endpoint, when it can tell. */
export type ReaderSource = () => readonly ReaderRow[];

interface ReadModelEvents {
  /** Once a second: the second that just ended. */
  stats: [stats: StatsMessage];
}

/** The longest text kept from a client's claim or a refusal reason: both come from outside. */
const MAX_TEXT = 200;

/**
 * What the dashboard knows, built only from the hub's public state and its events (connections, telemetry appends,
 * method calls, refusals, C2D settlements, registry changes): counters per second, the last events, and each
 * device's activity. It holds no hub logic and changes nothing in the hub; the API handlers act through the hub.
 */
export class ReadModel extends EventEmitter<ReadModelEvents> {
  readonly feed: EventFeed;
  readonly series = new RateSeries();
  readonly activity = new DeviceActivity();
  readonly directory: DeviceDirectory;
  readonly startedAt = Date.now();
  private readonly registryWatch: RegistryWatch;
  private readonly ticker: NodeJS.Timeout;

  constructor(
    readonly hub: IotHub,
    private readonly readers: ReaderSource | undefined,
  ) {
    super();
    this.feed = new EventFeed((deviceId) => hub.registry.find(deviceId) !== undefined);
    this.directory = new DeviceDirectory(hub, this.activity);
    this.registryWatch = new RegistryWatch(hub.registry, (deviceId, change) => {
      this.onRegistryChange(deviceId, change);
    });
    hub.connections.on('connected', this.onConnected);
    hub.connections.on('disconnected', this.onDisconnected);
    hub.telemetry.on('appended', this.onTelemetry);
    hub.activity.on('method-call', this.onMethodCall);
    hub.activity.on('connection-refused', this.onRefusal);
    hub.cloudToDevice.on('settled', this.onSettled);
    this.series.setConnected(hub.connections.size);
    // Every second, so that each second has its device count and the pages get their point even when idle.
    this.ticker = setInterval(() => {
      this.series.setConnected(this.hub.connections.size);
      this.emit('stats', this.stats());
    }, 1000).unref();
  }

  /** An event the dashboard itself caused (a message it sent, a desired change it made). */
  publish(event: NewHubEvent): void {
    this.feed.publish(event);
  }

  summary(): HubSummary {
    const { hub } = this;
    return {
      hubName: hub.hubName,
      hostName: hub.hostName,
      startedAt: this.startedAt,
      registeredDevices: hub.registry.size,
      connectedDevices: hub.connections.size,
      rates: this.series.rates(),
      partitions: hub.telemetry.partitions.map((partition) => {
        const properties = partition.properties();
        return {
          partitionId: partition.partitionId,
          beginSequenceNumber: properties.beginSequenceNumber,
          lastSequenceNumber: properties.lastEnqueuedSequenceNumber,
          lastEnqueuedTime: properties.isEmpty ? null : properties.lastEnqueuedTimeUtc.getTime(),
        };
      }),
      consumerGroups: ['$Default', ...hub.consumerGroups],
      readers: this.readers ? [...this.readers()] : null,
      series: this.series.points(),
    };
  }

  stats(): StatsMessage {
    return {
      point: this.series.lastPoint(),
      rates: this.series.rates(),
      registeredDevices: this.hub.registry.size,
      connectedDevices: this.hub.connections.size,
    };
  }

  close(): void {
    clearInterval(this.ticker);
    const { hub } = this;
    hub.connections.off('connected', this.onConnected);
    hub.connections.off('disconnected', this.onDisconnected);
    hub.telemetry.off('appended', this.onTelemetry);
    hub.activity.off('method-call', this.onMethodCall);
    hub.activity.off('connection-refused', this.onRefusal);
    hub.cloudToDevice.off('settled', this.onSettled);
    this.registryWatch.close();
    this.directory.close();
  }

  private readonly onConnected = (connection: DeviceConnection): void => {
    this.onConnection(connection, 'connected');
  };

  private readonly onDisconnected = (connection: DeviceConnection): void => {
    this.onConnection(connection, 'disconnected');
  };

  private onConnection(connection: DeviceConnection, kind: 'connected' | 'disconnected'): void {
    const { deviceId, transport } = connection;
    this.activity.touch(deviceId, Date.now());
    this.series.setConnected(this.hub.connections.size);
    this.feed.publish({ kind, deviceId, transport, summary: `${kind} over ${transport.toUpperCase()}` });
  }

  private readonly onTelemetry = (event: TelemetryEvent): void => {
    this.series.count('telemetryIn');
    this.activity.message(event.deviceId, event.enqueuedTimeUtc.getTime());
    this.feed.telemetry(event);
  };

  private readonly onMethodCall = (call: MethodCallRecord): void => {
    this.series.methodCall(call.durationMs);
    if (call.status !== undefined) this.activity.touch(call.deviceId, Date.now());
    const outcome = call.status !== undefined ? `status ${call.status}` : (call.error ?? 'failed');
    this.feed.publish({
      kind: 'method-call',
      deviceId: call.deviceId,
      methodName: call.methodName,
      status: call.status ?? null,
      error: call.error ?? null,
      durationMs: Math.round(call.durationMs * 10) / 10,
      summary: `${call.methodName}: ${outcome} in ${Math.round(call.durationMs)} ms`,
    });
  };

  private readonly onRefusal = (refusal: ConnectionRefusal): void => {
    const deviceId = refusal.deviceId.slice(0, MAX_TEXT);
    const reason = refusal.reason.slice(0, MAX_TEXT);
    this.feed.publish({
      kind: 'connection-refused',
      deviceId,
      transport: refusal.transport,
      reason,
      summary: `refused over ${refusal.transport.toUpperCase()}: ${reason}`,
    });
  };

  private readonly onSettled = ({ message, status }: Settlement): void => {
    // Completed or rejected: the device took the message. Expired and purged ones never left the hub.
    if (status === 'Success' || status === 'Rejected') this.series.count('c2dOut');
    this.feed.publish({
      kind: 'c2d-settled',
      deviceId: message.deviceId,
      messageId: message.messageId ?? null,
      outcome: status,
      summary: `cloud-to-device message ${message.messageId ?? '(no id)'}: ${status}`,
    });
  };

  private onRegistryChange(deviceId: string, change: RegistryChange): void {
    if (change === 'device-deleted') {
      this.activity.forget(deviceId);
      this.feed.forget(deviceId);
    }
    this.feed.publish({ kind: change, deviceId, summary: change.replace('device-', 'device ') });
  }
}
