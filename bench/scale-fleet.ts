import { SimulatedDevice } from '../device-sim/simulated-device';

/**
 * One simulator process of the scale bench: the simulator's own SimulatedDevice (the official device SDK over
 * MQTT) for each connection string it is given, started a batch at a time as `npm run device -- --devices N`
 * does. The CLI names its devices sim-device-01..N, so several CLI processes would share ids: the bench gives
 * each process its own range instead. Talks to the bench over IPC:
 *   parent -> { type: 'start', connectionStrings, ca, intervalSeconds }; child -> { type: 'started', ms, rssBytes }
 *   parent -> { type: 'memory' };                                        child -> { type: 'memory', rssBytes, sent }
 *   disconnect: stops the devices and exits.
 */
export type FleetRequest =
  | {
      readonly type: 'start';
      readonly connectionStrings: readonly string[];
      readonly ca: string;
      readonly intervalSeconds: number;
    }
  | { readonly type: 'memory' };

export type FleetReply =
  | { readonly type: 'booted'; readonly rssBytes: number }
  | { readonly type: 'started'; readonly ms: number; readonly rssBytes: number; readonly failed: number }
  | { readonly type: 'memory'; readonly rssBytes: number; readonly sent: number };

/** As device-sim/cli.ts: a thousand simultaneous TLS handshakes would only time each other out. */
const START_BATCH = 50;

function main(): void {
  const devices: SimulatedDevice[] = [];
  const reply = (message: FleetReply) => process.send?.(message);
  process.on('message', (message: FleetRequest) => {
    if (message.type === 'memory') {
      const sent = devices.reduce((sum, device) => sum + device.messagesSent, 0);
      reply({ type: 'memory', rssBytes: process.memoryUsage.rss(), sent });
      return;
    }
    void (async () => {
      const started = performance.now();
      for (const connectionString of message.connectionStrings) {
        devices.push(
          new SimulatedDevice({
            connectionString,
            ca: message.ca,
            intervalSeconds: message.intervalSeconds,
            log: () => undefined,
          }),
        );
      }
      let failed = 0;
      for (let i = 0; i < devices.length; i += START_BATCH) {
        const outcomes = await Promise.allSettled(devices.slice(i, i + START_BATCH).map((d) => d.start()));
        failed += outcomes.filter((outcome) => outcome.status === 'rejected').length;
      }
      reply({
        type: 'started',
        ms: performance.now() - started,
        rssBytes: process.memoryUsage.rss(),
        failed,
      });
    })();
  });
  process.once('disconnect', () => {
    void Promise.allSettled(devices.map((device) => device.stop())).then(() => process.exit(0));
  });
  reply({ type: 'booted', rssBytes: process.memoryUsage.rss() });
}

main();
