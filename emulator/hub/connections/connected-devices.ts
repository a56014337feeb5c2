import { EventEmitter } from 'node:events';
import type { Logger } from '../../log';
import type { DeviceSession } from '../auth/device-auth';
import type { DeviceRegistry } from '../registry';
import type { DeviceConnection } from './device-connection';

interface ConnectedDevicesEvents {
  connected: [connection: DeviceConnection];
  disconnected: [connection: DeviceConnection];
  /** The device's current connection now accepts direct methods. */
  'methods-ready': [deviceId: string];
  /** The device's current connection can take a cloud-to-device message. */
  'c2d-ready': [deviceId: string];
}

/** The longest delay a Node timer takes (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The devices connected to the hub, one connection per identity, whatever the transport. As IoT Hub does: a new
 * connection of a device takes over from its older one; a connection ends when its token expires and when its
 * device is disabled, deleted or re-keyed; the registry shows each device's connection state.
 */
export class ConnectedDevices extends EventEmitter<ConnectedDevicesEvents> {
  private readonly current = new Map<string, { connection: DeviceConnection; expiryTimer: NodeJS.Timeout }>();

  constructor(
    private readonly registry: DeviceRegistry,
    private readonly log: Logger,
  ) {
    super();
    registry.on('revoked', (deviceId) => {
      this.current.get(deviceId)?.connection.close('the device was disabled, deleted or re-keyed');
    });
  }

  get size(): number {
    return this.current.size;
  }

  get(deviceId: string): DeviceConnection | undefined {
    return this.current.get(deviceId)?.connection;
  }

  /**
   * Makes `connection` the device's current one. Returns false (and closes it) when the device was disabled,
   * deleted or re-keyed between its authentication and now, when no connection of it was there to be dropped.
   */
  attach(connection: DeviceConnection, session: DeviceSession): boolean {
    const { deviceId } = connection;
    const device = this.registry.find(deviceId);
    if (
      device?.status !== 'enabled' ||
      device.primaryKey !== session.device.primaryKey ||
      device.secondaryKey !== session.device.secondaryKey
    ) {
      this.log.warn(`device ${JSON.stringify(deviceId)} was revoked while connecting; closing`);
      connection.close('the device was revoked while connecting');
      return false;
    }
    const previous = this.current.get(deviceId);
    if (previous) {
      clearTimeout(previous.expiryTimer);
      if (previous.connection !== connection)
        previous.connection.close('a newer connection of the device took over');
    }
    const expiryTimer = setTimeout(
      () => {
        connection.close('its SAS token expired');
      },
      Math.min(MAX_TIMER_MS, Math.max(0, session.expiry * 1000 - Date.now())),
    );
    expiryTimer.unref();
    this.current.set(deviceId, { connection, expiryTimer });
    this.registry.setConnectionState(deviceId, true);
    this.log.info(`device ${JSON.stringify(deviceId)} connected`);
    this.emit('connected', connection);
    if (connection.acceptsMethods()) this.emit('methods-ready', deviceId);
    return true;
  }

  /** The connection ended; an older connection taken over by a newer one changes nothing. */
  detach(connection: DeviceConnection): void {
    const entry = this.current.get(connection.deviceId);
    if (entry?.connection !== connection) return;
    clearTimeout(entry.expiryTimer);
    this.current.delete(connection.deviceId);
    this.registry.setConnectionState(connection.deviceId, false);
    this.log.info(`device ${JSON.stringify(connection.deviceId)} disconnected`);
    this.emit('disconnected', connection);
  }

  /** The transport reports that `connection` can now take direct methods (MQTT: it subscribed). */
  methodsReady(connection: DeviceConnection): void {
    if (this.current.get(connection.deviceId)?.connection === connection) {
      this.emit('methods-ready', connection.deviceId);
    }
  }

  /** The transport reports that `connection` can take a cloud-to-device message (subscribed, acknowledged, credit). */
  cloudToDeviceReady(connection: DeviceConnection): void {
    if (this.current.get(connection.deviceId)?.connection === connection) {
      this.emit('c2d-ready', connection.deviceId);
    }
  }

  /** Stops the expiry timers; the transports close the connections themselves. */
  clear(): void {
    for (const { expiryTimer } of this.current.values()) clearTimeout(expiryTimer);
    this.current.clear();
  }
}
