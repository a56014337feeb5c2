import type { IotHub } from '../hub/hub';
import type { Logger } from '../log';
import { newDashboardToken } from './access';
import type { DeviceTransportName } from './api-types';
import { DashboardAssets } from './assets';
import { DashboardServer } from './dashboard-server';
import type { KeyName } from './http/route';
import { ReadModel, type ReaderSource } from './read-model';
import { EventStream } from './stream';

export interface DashboardOptions {
  readonly hub: IotHub;
  /** 0 picks a free port. */
  readonly port: number;
  readonly log: Logger;
  /** A device's connection string, as the emulator writes it. */
  readonly connectionString: (deviceId: string, key: KeyName, transport: DeviceTransportName) => string;
  /** Who reads the Event Hub-compatible endpoint, when the endpoint can tell. */
  readonly readers?: ReaderSource;
  /** Where the bundled page is (tests point elsewhere); the build output by default. */
  readonly assets?: DashboardAssets;
}

/**
 * The local dashboard: a read model of the hub, a live event stream and a small HTTP API with the page that uses
 * them, on 127.0.0.1 only. It acts on the hub only through the hub's own API (registry, twins, methods, C2D).
 */
export class Dashboard {
  private constructor(
    private readonly server: DashboardServer,
    private readonly model: ReadModel,
    private readonly stream: EventStream,
  ) {}

  static async start(options: DashboardOptions): Promise<Dashboard> {
    const model = new ReadModel(options.hub, options.readers);
    const stream = new EventStream(model.feed, model);
    try {
      const server = await DashboardServer.start({
        // Never another address: the dashboard can change the registry and read keys.
        host: '127.0.0.1',
        port: options.port,
        token: newDashboardToken(),
        services: { hub: options.hub, model, stream, connectionString: options.connectionString },
        assets: options.assets ?? DashboardAssets.load(),
        log: options.log,
      });
      return new Dashboard(server, model, stream);
    } catch (error) {
      stream.close();
      model.close();
      throw error;
    }
  }

  /** `http://127.0.0.1:<port>/?token=<token>`: the URL to open, a new token at each start. */
  get url(): string {
    return this.server.url;
  }

  get port(): number {
    return this.server.port;
  }

  async close(): Promise<void> {
    this.stream.close();
    await this.server.close();
    this.model.close();
  }
}
