import { Client, type Twin } from 'azure-iot-device';
import { Mqtt } from 'azure-iot-device-mqtt';

interface ReportedSection {
  update(patch: Record<string, unknown>, done: (error?: Error) => void): void;
}

/**
 * A device on the official SDK (MQTT) that reports back every desired property it is given, as devices commonly
 * acknowledge a configuration: the dashboard's twin panel should then show the value under reported.
 */
export class TwinEchoDevice {
  private constructor(private readonly client: Client) {}

  static async connect(connectionString: string, ca: string): Promise<TwinEchoDevice> {
    const client = Client.fromConnectionString(connectionString, Mqtt);
    await client.setOptions({ ca });
    await client.open();
    const twin: Twin = await client.getTwin();
    twin.on('properties.desired', (delta: Record<string, unknown>) => {
      const patch = Object.fromEntries(Object.entries(delta).filter(([name]) => !name.startsWith('$')));
      if (Object.keys(patch).length === 0) return;
      // The SDK types the reported section loosely; its update(patch, callback) sends a reported patch.
      const reported = twin.properties.reported as ReportedSection;
      reported.update(patch, () => undefined);
    });
    return new TwinEchoDevice(client);
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
