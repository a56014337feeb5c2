// X.509 devices on the unmodified device SDK over MqttWs, AmqpWs and Http, and a SAS device over Http, all with
// `HostName=localhost` strings on Azure's ports (--standard-ports). Those transports dial port 443, which needs
// root: the scenario (test/helpers/x509-transports-scenario.ts, bundled by esbuild) runs as root inside a network
// namespace of its own, with NODE_EXTRA_CA_CERTS set before node starts. Skipped, saying why, without root or
// unshare.
import { loadOrCreateTlsMaterial } from 'iothub-emulator/in-process';
import { makeTempDir } from '../helpers/emulator';
import { namespaceUnavailable, runScenarioInNamespace } from '../helpers/network-namespace';
import { METHOD_PAYLOADS } from '../helpers/method-payloads';
import { X509_TRANSPORTS, type DeviceRun, type X509Report } from '../helpers/x509-transports-scenario';

const missing = namespaceUnavailable();
if (missing) console.warn(`x509-transports.test.ts: skipped: ${missing}`);
const describeOnPort443 = missing ? describe.skip : describe;

describeOnPort443(
  'X.509 and Http on the SDK transports that dial 443 (network namespace, --standard-ports)',
  () => {
    let data: ReturnType<typeof makeTempDir> | undefined;
    let report: X509Report;
    let logs = '';

    beforeAll(async () => {
      data = makeTempDir('iothub-x509-transports-');
      const tls = await loadOrCreateTlsMaterial(data.path, 'local-iothub.azure-devices.net');
      const scenario = await runScenarioInNamespace('x509-transports-scenario', 'X509-REPORT', {
        ...process.env,
        NODE_EXTRA_CA_CERTS: tls.caPath,
        SCENARIO_EMULATOR_API: require.resolve('iothub-emulator'),
        SCENARIO_DATA_DIR: data.path,
      });
      report = scenario.report as X509Report;
      logs = scenario.logs;
    }, 240_000);

    afterAll(() => {
      data?.remove();
    });

    const run = (transport: string, auth: DeviceRun['auth']): DeviceRun => {
      const found = report.runs.find((r) => r.transport === transport && r.auth === auth);
      if (!found) throw new Error(`no run for ${transport}/${auth}:\n${logs.slice(-2000)}`);
      return found;
    };

    describe.each([
      ...X509_TRANSPORTS.map((transport) => [transport, 'x509'] as const),
      ['MqttWs', 'x509-thumbprint'] as const,
      ['AmqpWs', 'x509-thumbprint'] as const,
    ])('an X.509 device over %s (%s)', (transport, auth) => {
      const deviceId = `xt-${auth}-${transport.toLowerCase()}`;

      it('connects with its certificate and an x509=true string naming localhost only', () => {
        expect(run(transport, auth).open).toEqual({ ok: true, value: true });
      });

      it('sends telemetry the hub stamps with its device id', () => {
        const { telemetryId } = run(transport, auth);
        expect(telemetryId).toEqual({ ok: true, value: `${deviceId}-telemetry` });
        expect(report.telemetry).toMatchObject({ ok: true, value: { [`${deviceId}-telemetry`]: deviceId } });
      });

      it('receives a cloud-to-device message from the service SDK', () => {
        expect(run(transport, auth).cloudToDevice).toEqual({
          ok: true,
          value: { messageId: `${deviceId}-c2d`, body: JSON.stringify({ to: deviceId }) },
        });
      });

      if (transport === 'Http') {
        it('offers no methods or twin, as IoT Hub over HTTPS', () => {
          for (const { result } of run(transport, auth).methods) {
            expect(result).toEqual({ ok: false, error: 'Error: not offered' });
          }
        });
      } else {
        it('answers a direct method with every payload case, unchanged', () => {
          const { methods } = run(transport, auth);
          expect(methods).toHaveLength(METHOD_PAYLOADS.length);
          for (const { sent, result } of methods) {
            expect(result).toEqual({ ok: true, value: { status: 200, payload: sent } });
          }
        });

        it('reports a twin property and receives a desired one', () => {
          expect(run(transport, auth).reported).toEqual({ ok: true, value: transport });
          expect(run(transport, auth).desired).toEqual({ ok: true, value: 9 });
        });
      }

      it("refuses another device's certificate (the SDK's UnauthorizedError)", () => {
        expect(run(transport, auth).wrongCertificate).toEqual({ ok: true, value: 'UnauthorizedError' });
      });
    });

    it('serves a SAS device over Http with a HostName=localhost string: telemetry and C2D', () => {
      const sas = run('Http', 'sas');
      expect(sas.open).toEqual({ ok: true, value: true });
      expect(report.telemetry).toMatchObject({ ok: true, value: { 'xt-sas-http-telemetry': 'xt-sas-http' } });
      expect(sas.cloudToDevice).toEqual({
        ok: true,
        value: { messageId: 'xt-sas-http-c2d', body: JSON.stringify({ to: 'xt-sas-http' }) },
      });
    });
  },
);
