import { chmodSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { SharedAccessSignature } from 'azure-iothub';
import type { RunningEmulator } from 'iothub-emulator';
import { loadOrCreateTlsMaterial } from 'iothub-emulator/in-process';
import {
  inNetworkNamespace,
  namespaceUnavailable,
  runScenarioInNamespace,
} from '../helpers/network-namespace';
import { makeTempDir, policyKey, startTestEmulator } from '../helpers/emulator';
import { DEVICE_TRANSPORTS, METHOD_PAYLOADS, type ScenarioReport } from '../helpers/standard-ports-scenario';

// The emulator package's bin, as the workspace built it.
const CLI = join(dirname(require.resolve('iothub-emulator/package.json')), 'dist', 'emulator', 'cli.js');

const missing = namespaceUnavailable();
if (missing) {
  console.warn(`standard-ports.test.ts: the tests on port 443 are skipped: ${missing}`);
}
const describeOnPort443 = missing ? describe.skip : describe;

describeOnPort443(
  `the standard ports profile: unmodified SDKs with HostName=localhost${missing ? ` (skipped: ${missing})` : ''}`,
  () => {
    let data: ReturnType<typeof makeTempDir> | undefined;
    let report: ScenarioReport;
    let logs = '';

    beforeAll(async () => {
      data = makeTempDir('iothub-standard-ports-');
      const dataDir = data.path;
      // The CA exists before node starts, so that NODE_EXTRA_CA_CERTS can name it; the emulator keeps it.
      const tls = await loadOrCreateTlsMaterial(dataDir, 'local-iothub.azure-devices.net');
      const scenario = await runScenarioInNamespace('standard-ports-scenario', 'SCENARIO-REPORT', {
        ...process.env,
        NODE_EXTRA_CA_CERTS: tls.caPath,
        SCENARIO_EMULATOR_API: require.resolve('iothub-emulator'),
        SCENARIO_DATA_DIR: dataDir,
      });
      report = scenario.report as ScenarioReport;
      logs = scenario.logs;
    }, 240_000);

    afterAll(() => {
      data?.remove();
    });

    it('listens on 443 (HTTPS, REST and WebSockets), 8883 (MQTT) and 5671 (AMQP)', () => {
      expect(report.ports).toEqual({ https: 443, mqtt: 8883, iothubAmqps: 5671 });
      expect(report.standardPorts).toBe(true);
    });

    it('gives a service connection string with HostName=localhost and nothing an SDK would not know', () => {
      expect(report.serviceConnectionString).toEqual({
        ok: true,
        value: { keys: ['HostName', 'SharedAccessKeyName', 'SharedAccessKey'], hostName: 'localhost' },
      });
    });

    it('lets the service SDK open its AMQP and AMQP-over-WebSocket transports and create a device', () => {
      expect(report.serviceOpen).toEqual({
        Amqp: { ok: true, value: true },
        AmqpWs: { ok: true, value: true },
      });
      expect(report.registryCreate).toEqual({
        ok: true,
        value: { deviceId: 'sp-created', status: 'enabled' },
      });
    });

    describe.each(DEVICE_TRANSPORTS.map((transport) => [transport]))(
      'the device SDK over %s',
      (transport) => {
        const row = () => {
          const found = report.transports.find((t) => t.transport === transport);
          if (!found) throw new Error(`no report for ${transport}:\n${logs}`);
          return found;
        };

        it('takes the device connection string as it is (HostName=localhost, DeviceId, SharedAccessKey)', () => {
          expect(row().connectionString).toEqual({
            ok: true,
            value: { keys: ['HostName', 'DeviceId', 'SharedAccessKey'], hostName: 'localhost' },
          });
          expect(row().open).toEqual({ ok: true, value: true });
        });

        it.each(METHOD_PAYLOADS.map(([label, payload]) => [label, payload]))(
          'echoes a direct-method payload (%s) with the device status',
          (label, payload) => {
            const call = row().methods.find((m) => m.label === label);
            expect(call?.result).toEqual({ ok: true, value: { status: 200, payload } });
          },
        );

        it('sends telemetry that reaches the Event Hub-compatible endpoint stamped with the device id', () => {
          const sent = row().telemetrySent;
          expect(sent).toEqual({ ok: true, value: `sp-${transport.toLowerCase()}-telemetry` });
          expect(report.telemetryReceived.ok).toBe(true);
          if (report.telemetryReceived.ok && sent.ok) {
            expect(report.telemetryReceived.value[sent.value]).toBe(`sp-${transport.toLowerCase()}`);
          }
        });

        it('receives a cloud-to-device message from the service SDK and completes it', () => {
          const via = row().serviceTransport;
          expect(via).toBe(transport.endsWith('Ws') ? 'AmqpWs' : 'Amqp');
          expect(row().cloudToDevice).toEqual({
            ok: true,
            value: {
              messageId: `sp-${transport.toLowerCase()}-c2d`,
              body: `c2d over ${via} to ${transport}`,
            },
          });
        });

        it('gets desired properties the service set and reports properties the service reads', () => {
          expect(row().desiredReceived).toEqual({ ok: true, value: `red-${transport}` });
          expect(row().reportedSeenByService).toEqual({ ok: true, value: transport });
        });

        it('measures the direct-method round trip (median of 50 calls)', () => {
          const timing = row().methodRoundTripMs;
          expect(timing.ok).toBe(true);
          if (timing.ok) {
            expect(timing.value.calls).toBe(50);
            console.log(`direct-method round trip over ${transport}: median ${timing.value.median} ms`);
          }
        });
      },
    );

    it('tells a user without the privilege which port failed and how to grant it (EACCES)', async () => {
      const dir = makeTempDir('iothub-standard-ports-nobody-');
      try {
        // nobody must be able to write the data directory; only the port is refused.
        chmodSync(dir.path, 0o777);
        const run = await inNetworkNamespace(
          'exec setpriv --reuid=65534 --regid=65534 --clear-groups node "$1" --standard-ports --no-dashboard --amqp-port 0 --data-dir "$2"',
          [CLI, dir.path],
          process.env,
        );
        expect(run.code).toBe(1);
        expect(run.stderr).toContain(
          'cannot listen on 127.0.0.1:443 (HTTPS: REST and WebSockets): permission denied',
        );
        expect(run.stderr).toContain('sudo setcap cap_net_bind_service=+ep "$(command -v node)"');
        expect(run.stderr).toContain('sudo sysctl net.ipv4.ip_unprivileged_port_start=443');
      } finally {
        dir.remove();
      }
    }, 60_000);
  },
);

describe('connection strings and names on other ports', () => {
  let emulator: RunningEmulator & { removeData: () => void };

  beforeAll(async () => {
    emulator = await startTestEmulator({ devices: ['np-device'] });
  });

  afterAll(async () => {
    await emulator.stop();
    emulator.removeData();
  });

  it('offers HostName=localhost:<https port> for SDKs that build https://<HostName>, and the hub takes its tokens', async () => {
    const [entry] = emulator.info.sdkServiceConnectionStrings;
    const host = `localhost:${emulator.info.httpsPort}`;
    expect(entry?.connectionString).toMatch(
      new RegExp(`^HostName=${host};SharedAccessKeyName=iothubowner;SharedAccessKey=[^;]+$`),
    );
    // What Python's azure-iot-hub does with that string: a token for sr=<HostName>, sent to https://<HostName>.
    const key = policyKey(emulator, 'iothubowner');
    const token = SharedAccessSignature.create(host, 'iothubowner', key, Math.floor(Date.now() / 1000) + 600);
    const status = await new Promise<number>((resolve, reject) => {
      const call = request(
        {
          host: 'localhost',
          port: emulator.info.httpsPort,
          path: '/devices/np-device?api-version=2021-04-12',
          headers: { authorization: token.toString() },
          ca: readFileSync(emulator.info.caPath),
        },
        (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        },
      );
      call.once('error', reject);
      call.end();
    });
    expect(status).toBe(200);
  });

  it('offers the Node device SDK strings with GatewayHostName=localhost:<port>, and no bare gateway off 8883', () => {
    const strings = emulator.sdkDeviceConnectionStrings('np-device').map((s) => s.connectionString);
    expect(strings).toEqual([
      expect.stringMatching(new RegExp(`;GatewayHostName=localhost:${emulator.info.mqttPort}$`)),
      expect.stringMatching(new RegExp(`;GatewayHostName=localhost:${emulator.info.iothubAmqpsPort}$`)),
    ]);
    expect(strings.every((s) => s.startsWith(`HostName=${emulator.info.hostName};DeviceId=np-device;`))).toBe(
      true,
    );
  });

  it('names the port and the option when a port is already taken (EADDRINUSE)', async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    const dir = makeTempDir();
    try {
      await expect(startTestEmulator({ httpsPort: port, dataDir: dir.path })).rejects.toThrow(
        `cannot listen on 127.0.0.1:${port} (HTTPS: REST and WebSockets): the port is already in use`,
      );
    } finally {
      await new Promise((resolve) => taken.close(resolve));
      dir.remove();
    }
  });
});
