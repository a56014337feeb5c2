import { EventEmitter } from 'node:events';
import type { Logger } from '../../log';
import type { DeviceSession } from '../auth/device-auth';
import { identityKey, type ModuleRegistry } from '../modules/module-registry';
import type { DeviceRegistry } from '../registry';
import type { DeviceConnection } from './device-connection';

interface ConnectedDevicesEvents {
  /** A device's connection (not a module's: those have the `module-` events). */
  connected: [connection: DeviceConnection];
  disconnected: [connection: DeviceConnection];
  /** The device's current connection now accepts direct methods. */
  'methods-ready': [deviceId: string];
  /** The device's current connection can take a cloud-to-device message. */
  'c2d-ready': [deviceId: string];
  'module-connected': [connection: DeviceConnection];
  'module-disconnected': [connection: DeviceConnection];
  /** The module's current connection now accepts direct methods. */
  'module-methods-ready': [deviceId: string, moduleId: string];
}

/** The longest delay a Node timer takes (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The identities connected to the hub (devices and modules), one connection per identity, whatever the transport.
 * As IoT Hub does: a new connection of an identity takes over from its older one (a module's connection never
 * takes over its device's, nor the reverse); a connection ends when its token expires and when its identity is
 * disabled, deleted or re-keyed; the registry shows each identity's connection state. Device connections keep the
 * `connected`/`disconnected`/`methods-ready` events; module connections have `module-` events of their own, so
 * that observers of devices see devices only.
 */
export class ConnectedDevices extends EventEmitter<ConnectedDevicesEvents> {
  /** By identity key: the device id, or `<device>/<module>`. */
  private readonly current = new Map<string, { connection: DeviceConnection; expiryTimer: NodeJS.Timeout }>();

  constructor(
    private readonly registry: DeviceRegistry,
    private readonly log: Logger,
    /** Module identities; without it (unit tests of devices alone) no module connection is accepted. */
    private readonly modules?: ModuleRegistry,
  ) {
    super();
    registry.on('revoked', (deviceId) => {
      this.current.get(deviceId)?.connection.close('the device was disabled, deleted or re-keyed');
      // A device's re-keying leaves its modules' own keys valid; disabling or deleting it ends them.
      if (registry.find(deviceId)?.status === 'enabled') return;
      for (const { connection } of [...this.current.values()]) {
        if (connection.deviceId === deviceId && connection.moduleId !== undefined) {
          connection.close('its device was disabled or deleted');
        }
      }
    });
    modules?.on('revoked', (deviceId, moduleId) => {
      this.current
        .get(identityKey(deviceId, moduleId))
        ?.connection.close('the module was deleted or re-keyed');
    });
  }

  /** How many devices are connected (their modules' connections not counted: see `identityCount`). */
  get size(): number {
    let devices = 0;
    for (const { connection } of this.current.values()) if (connection.moduleId === undefined) devices++;
    return devices;
  }

  /** How many identities are connected, devices and modules. */
  get identityCount(): number {
    return this.current.size;
  }

  /** The device's own connection (never one of its modules'). */
  get(deviceId: string): DeviceConnection | undefined {
    return this.current.get(deviceId)?.connection;
  }

  /** A module's connection. */
  getModule(deviceId: string, moduleId: string): DeviceConnection | undefined {
    return this.current.get(identityKey(deviceId, moduleId))?.connection;
  }

  /** A connection by identity key (`identityKey(deviceId, moduleId)`). */
  getIdentity(key: string): DeviceConnection | undefined {
    return this.current.get(key)?.connection;
  }

  /**
   * Makes `connection` its identity's current one. Returns false (and closes it) when the identity was disabled,
   * deleted or re-keyed between its authentication and now, when no connection of it was there to be dropped.
   */
  attach(connection: DeviceConnection, session: DeviceSession): boolean {
    const { deviceId, moduleId } = connection;
    const key = identityKey(deviceId, moduleId);
    if (!this.stillValid(connection, session)) {
      this.log.warn(`${describe(connection)} was revoked while connecting; closing`);
      connection.close('the identity was revoked while connecting');
      return false;
    }
    const previous = this.current.get(key);
    if (previous) {
      clearTimeout(previous.expiryTimer);
      if (previous.connection !== connection)
        previous.connection.close('a newer connection of the identity took over');
    }
    const expiryTimer = setTimeout(
      () => {
        connection.close('its SAS token expired');
      },
      Math.min(MAX_TIMER_MS, Math.max(0, session.expiry * 1000 - Date.now())),
    );
    expiryTimer.unref();
    this.current.set(key, { connection, expiryTimer });
    this.setConnectionState(connection, true);
    this.log.info(`${describe(connection)} connected`);
    if (moduleId === undefined) {
      this.emit('connected', connection);
      if (connection.acceptsMethods()) this.emit('methods-ready', deviceId);
    } else {
      this.emit('module-connected', connection);
      if (connection.acceptsMethods()) this.emit('module-methods-ready', deviceId, moduleId);
    }
    return true;
  }

  /** The connection ended; an older connection taken over by a newer one changes nothing. */
  detach(connection: DeviceConnection): void {
    const key = identityKey(connection.deviceId, connection.moduleId);
    const entry = this.current.get(key);
    if (entry?.connection !== connection) return;
    clearTimeout(entry.expiryTimer);
    this.current.delete(key);
    this.setConnectionState(connection, false);
    this.log.info(`${describe(connection)} disconnected`);
    this.emit(connection.moduleId === undefined ? 'disconnected' : 'module-disconnected', connection);
  }

  /** The transport reports that `connection` can now take direct methods (MQTT: it subscribed). */
  methodsReady(connection: DeviceConnection): void {
    const { deviceId, moduleId } = connection;
    if (this.current.get(identityKey(deviceId, moduleId))?.connection !== connection) return;
    if (moduleId === undefined) this.emit('methods-ready', deviceId);
    else this.emit('module-methods-ready', deviceId, moduleId);
  }

  /** The transport reports that `connection` can take a cloud-to-device message (subscribed, acknowledged, credit). */
  cloudToDeviceReady(connection: DeviceConnection): void {
    // Cloud-to-device messages go to devices only; a module's inputs are IoT Edge routing, not C2D.
    if (connection.moduleId !== undefined) return;
    if (this.current.get(connection.deviceId)?.connection === connection) {
      this.emit('c2d-ready', connection.deviceId);
    }
  }

  /** Stops the expiry timers; the transports close the connections themselves. */
  clear(): void {
    for (const { expiryTimer } of this.current.values()) clearTimeout(expiryTimer);
    this.current.clear();
  }

  private stillValid(connection: DeviceConnection, session: DeviceSession): boolean {
    const device = this.registry.find(connection.deviceId);
    if (device?.status !== 'enabled') return false;
    if (connection.moduleId === undefined) {
      return (
        device.primaryKey === session.device.primaryKey && device.secondaryKey === session.device.secondaryKey
      );
    }
    const module = this.modules?.find(connection.deviceId, connection.moduleId);
    return (
      module !== undefined &&
      module.primaryKey === session.module?.primaryKey &&
      module.secondaryKey === session.module.secondaryKey
    );
  }

  private setConnectionState(connection: DeviceConnection, connected: boolean): void {
    if (connection.moduleId === undefined) this.registry.setConnectionState(connection.deviceId, connected);
    else this.modules?.setConnectionState(connection.deviceId, connection.moduleId, connected);
  }
}

function describe(connection: DeviceConnection): string {
  return connection.moduleId === undefined
    ? `device ${JSON.stringify(connection.deviceId)}`
    : `module ${JSON.stringify(connection.moduleId)} of device ${JSON.stringify(connection.deviceId)}`;
}
