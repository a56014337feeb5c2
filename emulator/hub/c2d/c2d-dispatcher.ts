import type { ConnectedDevices } from '../connections/connected-devices';
import type { CloudToDeviceQueues } from './cloud-to-device';

/**
 * Moves cloud-to-device messages from the queues to the devices' connections, whatever their transport: a message
 * goes out when one is available and the device's current connection can take it; messages delivered on a
 * connection that ends unsettled go back to the queue, to be delivered again after the device reconnects.
 */
export class CloudToDeviceDispatcher {
  constructor(
    private readonly queues: CloudToDeviceQueues,
    private readonly devices: ConnectedDevices,
  ) {
    queues.on('available', (deviceId) => {
      this.pump(deviceId);
    });
    devices.on('c2d-ready', (deviceId) => {
      this.pump(deviceId);
    });
    devices.on('connected', ({ deviceId }) => {
      this.pump(deviceId);
    });
    devices.on('disconnected', (connection) => {
      for (const lockToken of connection.unsettledCloudToDevice()) {
        try {
          queues.abandon(connection.deviceId, lockToken);
        } catch {
          // Settled or expired meanwhile: nothing to give back.
        }
      }
    });
  }

  /** Delivers what the device's connection can take now. */
  pump(deviceId: string): void {
    const connection = this.devices.get(deviceId);
    while (connection?.acceptsCloudToDevice()) {
      const message = this.queues.receive(deviceId);
      if (!message) return;
      connection.deliverCloudToDevice(message);
    }
  }
}
