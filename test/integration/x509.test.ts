import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { EventHubConsumerClient, earliestEventPosition, type ReceivedEventData } from '@azure/event-hubs';
import { Client as DeviceClient, Message, X509AuthenticationProvider } from 'azure-iot-device';
import { Amqp } from 'azure-iot-device-amqp';
import { Mqtt } from 'azure-iot-device-mqtt';
import type { Client, Registry } from 'azure-iothub';
// azure-iothub carries its own copy of azure-iot-common's Message, which its Client.send takes.
import { Message as ServiceMessage } from 'azure-iothub/dist/common-core/message';
import { createCA, createCert } from 'mkcert';
import mqtt from 'mqtt';
import { type DeviceCertificate, type RunningEmulator } from 'iothub-emulator';
import {
  connectDevice,
  echo,
  invokeMethod,
  makeTempDir,
  registryClient,
  serviceClient,
  startTestEmulator,
} from '../helpers/emulator';
import { OpenSsl } from '../../devkit/openssl-certificates';
import { serviceCall } from '../helpers/raw-clients';

type Emulator = RunningEmulator & { removeData: () => void };
type Transport = 'mqtt' | 'amqp';
type Pem = { readonly cert: string; readonly key: string };

const API = 'api-version=2021-04-12';

/** The fields of IoT Hub's device JSON that azure-iothub's `Device` type leaves out. */
interface DeviceJson {
  authentication?: { type?: string };
  generationId?: string;
  deviceScope?: string;
  parentScopes?: string[];
}
const json = (body: unknown) => body as DeviceJson;

/** The reported properties of an azure-iot-device Twin (the SDK types them loosely). */
interface ReportedProperties {
  update(patch: object, done: (error?: Error) => void): void;
}

/** The SHA-1 thumbprint as IoT Hub takes it (hex, no colons), computed by node:crypto, not by the emulator. */
const sha1 = (pem: string) => new X509Certificate(pem).fingerprint.replace(/:/g, '');
const sha256 = (pem: string) => new X509Certificate(pem).fingerprint256.replace(/:/g, '');

function portOf(emulator: RunningEmulator, transport: Transport): number {
  return transport === 'mqtt' ? emulator.info.mqttPort : emulator.info.iothubAmqpsPort;
}

/**
 * An unmodified device SDK client authenticating with a certificate. The SDK's X509AuthenticationProvider is made
 * with the emulator's gateway (Client.fromConnectionString keeps no GatewayHostName for `x509=true` strings).
 */
function x509Client(
  emulator: RunningEmulator,
  deviceId: string,
  pem: Pem,
  transport: Transport,
): DeviceClient {
  const provider = new X509AuthenticationProvider({
    host: emulator.info.hostName,
    deviceId,
    gatewayHostName: `localhost:${portOf(emulator, transport)}`,
    x509: { cert: pem.cert, key: pem.key },
  });
  return DeviceClient.fromAuthenticationProvider(provider, transport === 'amqp' ? Amqp : Mqtt);
}

async function openX509(
  emulator: RunningEmulator,
  deviceId: string,
  pem: Pem,
  transport: Transport,
): Promise<DeviceClient> {
  const client = x509Client(emulator, deviceId, pem, transport);
  await client.setOptions({ ca: readFileSync(emulator.info.caPath, 'utf8') });
  try {
    await client.open();
  } catch (error) {
    client.removeAllListeners();
    await client.close().catch(() => undefined);
    throw error;
  }
  return client;
}

/**
 * Connects and sends one message: over MQTT CONNECT is refused; over AMQP the SDK opens without SASL or `$cbs` for
 * X.509, so a refusal comes when its first link (telemetry) attaches.
 */
async function openX509AndSend(emulator: RunningEmulator, deviceId: string, pem: Pem, transport: Transport) {
  const client = await openX509(emulator, deviceId, pem, transport);
  try {
    await client.sendEvent(new Message('refused?'));
  } finally {
    client.removeAllListeners();
    await client.close().catch(() => undefined);
  }
}

/** A raw MQTT CONNECT with a certificate and no password: the CONNACK code of a refusal. */
function rawX509Connect(emulator: RunningEmulator, deviceId: string, pem: Pem | undefined) {
  return mqtt.connectAsync(`mqtts://localhost:${emulator.info.mqttPort}`, {
    ca: readFileSync(emulator.info.caPath),
    ...(pem ? { cert: pem.cert, key: pem.key } : {}),
    clientId: deviceId,
    username: `${emulator.info.hostName}/${deviceId}/?api-version=2021-04-12`,
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
  });
}

/** Waits until an event with `messageId` from `deviceId` is on the Event Hub-compatible endpoint. */
async function readBack(
  emulator: RunningEmulator,
  deviceId: string,
  messageId: string,
): Promise<ReceivedEventData> {
  const consumer = new EventHubConsumerClient('$Default', emulator.info.eventHubConnectionString);
  try {
    return await new Promise<ReceivedEventData>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`no event ${messageId} from ${deviceId}`));
      }, 20_000);
      const subscription = consumer.subscribe(
        {
          processEvents: (events) => {
            const found = events.find(
              (event) =>
                event.messageId === messageId &&
                event.systemProperties?.['iothub-connection-device-id'] === deviceId,
            );
            if (found) {
              clearTimeout(timer);
              void subscription.close().then(() => {
                resolve(found);
              });
            }
            return Promise.resolve();
          },
          processError: () => Promise.resolve(),
        },
        { startPosition: earliestEventPosition, maxWaitTimeInSeconds: 1 },
      );
    });
  } finally {
    await consumer.close();
  }
}

/** A CA and a device certificate from it that the emulator does not know, made with mkcert in the test. */
async function foreignCa(deviceId: string): Promise<{ ca: Pem; device: Pem }> {
  const ca = await createCA({
    organization: 'Test foreign CA',
    countryCode: 'US',
    state: 'Test',
    locality: 'Test',
    validity: 30,
  });
  const device = await createCert({ ca, domains: [deviceId], validity: 30 });
  return { ca, device };
}

describe('X.509 devices (unmodified device and service SDKs, emulator)', () => {
  let emulator: Emulator;
  let registry: Registry;
  let service: Client;
  const clients: DeviceClient[] = [];
  let selfSigned: DeviceCertificate;
  let caSigned: DeviceCertificate;

  const track = (client: DeviceClient) => {
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    emulator = await startTestEmulator({ devices: ['sas-device'] });
    registry = registryClient(emulator);
    service = serviceClient(emulator);
    selfSigned = await emulator.issueDeviceCertificate({ deviceId: 'x509-self', style: 'self-signed' });
    caSigned = await emulator.issueDeviceCertificate({ deviceId: 'x509-ca', style: 'ca-signed' });
    await registry.create({
      deviceId: 'x509-self',
      authentication: { x509Thumbprint: { primaryThumbprint: sha1(selfSigned.cert) } },
    });
    await registry.create({ deviceId: 'x509-ca', authentication: { type: 'certificateAuthority' } });
  }, 120_000);

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
    await emulator.stop();
    emulator.removeData();
  });

  describe('the registry, through the service SDK', () => {
    it('returns a selfSigned device as IoT Hub does: thumbprints, no keys', async () => {
      const { responseBody } = await registry.get('x509-self');
      expect(responseBody.authentication).toEqual({
        type: 'selfSigned',
        symmetricKey: { primaryKey: null, secondaryKey: null },
        x509Thumbprint: { primaryThumbprint: sha1(selfSigned.cert), secondaryThumbprint: null },
      });
    });

    it('returns a certificateAuthority device with neither keys nor thumbprints', async () => {
      const { responseBody } = await registry.get('x509-ca');
      expect(responseBody.authentication).toEqual({
        type: 'certificateAuthority',
        symmetricKey: { primaryKey: null, secondaryKey: null },
        x509Thumbprint: { primaryThumbprint: null, secondaryThumbprint: null },
      });
    });

    it('keeps SAS devices as they were: keys, null thumbprints', async () => {
      const { responseBody } = await registry.get('sas-device');
      expect(json(responseBody).authentication?.type).toBe('sas');
      expect(responseBody.authentication?.symmetricKey?.primaryKey).toEqual(expect.any(String));
      expect(responseBody.authentication?.x509Thumbprint).toEqual({
        primaryThumbprint: null,
        secondaryThumbprint: null,
      });
    });

    it('takes SHA-256 thumbprints in either case, primary and secondary', async () => {
      const other = await emulator.issueDeviceCertificate({ deviceId: 'x509-256', style: 'self-signed' });
      const primary = sha256(other.cert).toLowerCase();
      const secondary = sha256(selfSigned.cert);
      await registry.create({
        deviceId: 'x509-256',
        authentication: {
          type: 'selfSigned',
          x509Thumbprint: { primaryThumbprint: primary, secondaryThumbprint: secondary },
        },
      });
      const { responseBody } = await registry.get('x509-256');
      expect(responseBody.authentication?.x509Thumbprint).toEqual({
        primaryThumbprint: primary,
        secondaryThumbprint: secondary,
      });
    });

    it.each([
      ['a thumbprint that is not 40 or 64 hex digits', { x509Thumbprint: { primaryThumbprint: 'ABC123' } }],
      ['a non-hex thumbprint', { x509Thumbprint: { primaryThumbprint: 'Z'.repeat(40) } }],
      [
        'selfSigned without a primary thumbprint',
        { type: 'selfSigned', x509Thumbprint: { secondaryThumbprint: 'A'.repeat(40) } },
      ],
      [
        'a SHA-1 primary with a SHA-256 secondary',
        { x509Thumbprint: { primaryThumbprint: 'A'.repeat(40), secondaryThumbprint: 'B'.repeat(64) } },
      ],
      [
        'certificateAuthority with a thumbprint',
        { type: 'certificateAuthority', x509Thumbprint: { primaryThumbprint: 'A'.repeat(40) } },
      ],
      ['an unknown type', { type: 'tpm' }],
    ])('refuses %s with 400 ArgumentInvalid', async (_label, authentication) => {
      const response = await serviceCall(emulator, 'PUT', `/devices/bad-x509?${API}`, {
        body: { deviceId: 'bad-x509', authentication },
      });
      expect(response.status).toBe(400);
      expect(response.headers['iothub-errorcode']).toBe('ArgumentInvalid');
      await expect(registry.get('bad-x509')).rejects.toMatchObject({ name: 'DeviceNotFoundError' });
    });

    it("gives an IoT Edge device its scope and keeps a child device's parent scopes", async () => {
      const edge = json(
        (await registry.create({ deviceId: 'edge-1', capabilities: { iotEdge: true } })).responseBody,
      );
      const scope = `ms-azure-iot-edge://edge-1-${edge.generationId}`;
      expect(edge.deviceScope).toBe(scope);
      const child = json(
        (await registry.create({ deviceId: 'leaf-1', deviceScope: scope, parentScopes: [scope] }))
          .responseBody,
      );
      expect(child.deviceScope).toBe(scope);
      expect(child.parentScopes).toEqual([scope]);
      expect(json((await registry.get('leaf-1')).responseBody).parentScopes).toEqual([scope]);
    });

    it('turns a SAS device into an X.509 one and back (new keys then)', async () => {
      await registry.create({ deviceId: 'switcher' });
      const before = (await registry.get('switcher')).responseBody;
      const updated = await serviceCall(emulator, 'PUT', `/devices/switcher?${API}`, {
        body: { deviceId: 'switcher', authentication: { type: 'certificateAuthority' } },
        headers: { 'if-match': '*' },
      });
      expect(updated.status).toBe(200);
      expect((JSON.parse(updated.body) as { authentication: unknown }).authentication).toMatchObject({
        type: 'certificateAuthority',
        symmetricKey: { primaryKey: null },
      });
      const back = await serviceCall(emulator, 'PUT', `/devices/switcher?${API}`, {
        body: { deviceId: 'switcher', authentication: { type: 'sas' } },
        headers: { 'if-match': '*' },
      });
      const key = (JSON.parse(back.body) as { authentication: { symmetricKey: { primaryKey: string } } })
        .authentication.symmetricKey.primaryKey;
      expect(key).toEqual(expect.any(String));
      expect(key).not.toBe(before.authentication?.symmetricKey?.primaryKey);
    });
  });

  describe.each(['mqtt', 'amqp'] as const)('over %s', (transport) => {
    describe.each([
      ['selfSigned', 'x509-self', () => selfSigned],
      ['certificateAuthority', 'x509-ca', () => caSigned],
    ] as const)('a %s device', (_type, deviceId, pem) => {
      let device: DeviceClient;

      beforeAll(async () => {
        device = track(await openX509(emulator, deviceId, pem(), transport));
        device.onDeviceMethod('echo', echo);
      });

      afterAll(async () => {
        await device.close();
      });

      it('sends telemetry that is read back on the Event Hub-compatible endpoint', async () => {
        const message = new Message(JSON.stringify({ temperature: 21.5 }));
        message.messageId = `${deviceId}-${transport}-1`;
        await device.sendEvent(message);
        const event = await readBack(emulator, deviceId, message.messageId);
        expect(event.body).toEqual({ temperature: 21.5 });
      });

      it('answers a direct method from the service SDK', async () => {
        const result = await invokeMethod(service, deviceId, {
          methodName: 'echo',
          payload: { from: 'service' },
          connectTimeoutInSeconds: 10,
        });
        expect(result).toEqual({ status: 200, payload: { from: 'service' } });
      });

      it('receives a cloud-to-device message sent by the service SDK, and completes it', async () => {
        const messageId = `c2d-${deviceId}-${transport}`;
        const received = new Promise<{ messageId: unknown; body: string }>((resolve) => {
          device.on('message', (message: Message) => {
            if (message.messageId !== messageId) return;
            void device.complete(message);
            resolve({ messageId: message.messageId, body: (message.getData() as Buffer).toString('utf8') });
          });
        });
        const sent = new ServiceMessage(JSON.stringify({ to: deviceId }));
        sent.messageId = messageId;
        await service.send(deviceId, sent);
        await expect(received).resolves.toEqual({ messageId, body: JSON.stringify({ to: deviceId }) });
      });

      it('reports properties and receives desired ones', async () => {
        const twin = await device.getTwin();
        await new Promise<void>((resolve, reject) => {
          (twin.properties.reported as ReportedProperties).update({ firmware: `${transport}-1` }, (error) => {
            if (error) reject(error);
            else resolve();
          });
        });
        const serviceTwin = await registry.getTwin(deviceId);
        expect(serviceTwin.responseBody.properties.reported).toMatchObject({ firmware: `${transport}-1` });
        const desired = new Promise<unknown>((resolve) => {
          twin.on('properties.desired', (patch: { interval?: number }) => {
            if (patch.interval === 7) resolve(patch.interval);
          });
        });
        await registry.updateTwin(deviceId, { properties: { desired: { interval: 7 } } }, '*');
        await expect(desired).resolves.toBe(7);
      });
    });

    describe('refusals', () => {
      const refusedName = 'UnauthorizedError';

      it('refuses a selfSigned device presenting another certificate', async () => {
        await expect(openX509AndSend(emulator, 'x509-self', caSigned, transport)).rejects.toMatchObject({
          name: refusedName,
        });
      });

      it('refuses an expired certificate whose thumbprint matches', async () => {
        const expired = await emulator.issueDeviceCertificate({
          deviceId: `expired-${transport}`,
          style: 'self-signed',
          validityDays: -1,
        });
        await registry.create({
          deviceId: `expired-${transport}`,
          authentication: { x509Thumbprint: { primaryThumbprint: sha1(expired.cert) } },
        });
        await expect(
          openX509AndSend(emulator, `expired-${transport}`, expired, transport),
        ).rejects.toMatchObject({
          name: refusedName,
        });
      });

      it('refuses a certificate from a CA that is not registered', async () => {
        const deviceId = `foreign-${transport}`;
        const { device } = await foreignCa(deviceId);
        await registry.create({ deviceId, authentication: { type: 'certificateAuthority' } });
        await expect(openX509AndSend(emulator, deviceId, device, transport)).rejects.toMatchObject({
          name: refusedName,
        });
      });

      it("refuses a CA-signed certificate whose CN is another device's id", async () => {
        const deviceId = `cn-mismatch-${transport}`;
        await registry.create({ deviceId, authentication: { type: 'certificateAuthority' } });
        await expect(openX509AndSend(emulator, deviceId, caSigned, transport)).rejects.toMatchObject({
          name: refusedName,
        });
      });

      it('refuses a SAS device that presents a certificate and no token', async () => {
        await expect(openX509AndSend(emulator, 'sas-device', caSigned, transport)).rejects.toMatchObject({
          name: refusedName,
        });
      });
    });
  });

  describe('MQTT CONNACK codes (raw client)', () => {
    it('answers 5 (not authorized) for a certificate that does not prove the device', async () => {
      await expect(rawX509Connect(emulator, 'x509-self', caSigned)).rejects.toMatchObject({ code: 5 });
    });

    it('answers 4 (bad user name or password) for an X.509 device without certificate or password', async () => {
      await expect(rawX509Connect(emulator, 'x509-self', undefined)).rejects.toMatchObject({ code: 4 });
    });

    it('accepts the right certificate', async () => {
      const client = await rawX509Connect(emulator, 'x509-self', selfSigned);
      expect(client.connected).toBe(true);
      await client.endAsync();
    });
  });

  describe('the device HTTPS API (raw requests with a client certificate, no token)', () => {
    /** POST /devices/{id}/messages/events with `pem` as the TLS client certificate and no Authorization header. */
    const postEvent = (deviceId: string, pem: Pem | undefined, messageId: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const request = httpsRequest(
          {
            host: '127.0.0.1',
            servername: 'localhost',
            port: emulator.info.httpsPort,
            method: 'POST',
            path: `/devices/${encodeURIComponent(deviceId)}/messages/events?${API}`,
            ca: readFileSync(emulator.info.caPath),
            ...(pem ? { cert: pem.cert, key: pem.key } : {}),
            headers: { 'content-type': 'application/json', 'iothub-messageid': messageId },
            agent: false,
          },
          (response) => {
            let body = '';
            response.on('data', (chunk: Buffer) => {
              body += chunk.toString();
            });
            response.on('end', () => {
              resolve({ status: response.statusCode ?? 0, body });
            });
          },
        );
        request.on('error', reject);
        request.end(JSON.stringify({ over: 'https' }));
      });

    it.each([
      ['selfSigned', 'x509-self', () => selfSigned],
      ['CA-signed', 'x509-ca', () => caSigned],
    ])('takes telemetry from a %s device that presents its certificate', async (_kind, deviceId, pem) => {
      const messageId = `https-${deviceId}-${Date.now()}`;
      const response = await postEvent(deviceId, pem(), messageId);
      expect(response.status).toBe(204);
      const event = await readBack(emulator, deviceId, messageId);
      expect(event.body).toEqual({ over: 'https' });
    });

    it("refuses a certificate that does not prove the route's device, and no certificate at all (401)", async () => {
      expect((await postEvent('x509-ca', selfSigned, 'wrong-device')).status).toBe(401);
      expect((await postEvent('x509-self', undefined, 'no-credentials')).status).toBe(401);
      // A device certificate opens the device API only, never the service API.
      const service = await new Promise<number>((resolve, reject) => {
        httpsRequest(
          {
            host: '127.0.0.1',
            servername: 'localhost',
            port: emulator.info.httpsPort,
            path: `/devices?${API}`,
            ca: readFileSync(emulator.info.caPath),
            cert: selfSigned.cert,
            key: selfSigned.key,
            agent: false,
          },
          (response) => {
            response.resume();
            resolve(response.statusCode ?? 0);
          },
        )
          .on('error', reject)
          .end();
      });
      expect(service).toBe(401);
    });
  });

  it('serves SAS and X.509 devices on the same ports at once', async () => {
    const [sas, x509] = await Promise.all([
      connectDevice(emulator, emulator.deviceConnectionString('sas-device'), { echo }),
      openX509(emulator, 'x509-ca', caSigned, 'mqtt'),
    ]);
    track(sas);
    track(x509);
    x509.onDeviceMethod('echo', echo);
    const [a, b] = await Promise.all([
      invokeMethod(service, 'sas-device', {
        methodName: 'echo',
        payload: 'sas',
        connectTimeoutInSeconds: 10,
      }),
      invokeMethod(service, 'x509-ca', { methodName: 'echo', payload: 'x509', connectTimeoutInSeconds: 10 }),
    ]);
    expect(a).toEqual({ status: 200, payload: 'sas' });
    expect(b).toEqual({ status: 200, payload: 'x509' });
    await Promise.all([sas.close(), x509.close()]);
  });

  describe.each(['mqtt', 'amqp'] as const)('a device that sends its chain, over %s', (transport) => {
    const temp = makeTempDir('x509-chain-');
    afterAll(() => {
      temp.remove();
    });

    it('is let in through the intermediate it sent to a registered root, and refused without it', async () => {
      // root -> intermediate -> device, made by openssl; only the root is registered.
      const ssl = new OpenSsl(temp.path);
      const root = ssl.selfSigned('root', `/CN=Chain Root ${transport}`);
      const intermediate = ssl.issued('intermediate', `/CN=Chain Intermediate ${transport}`, 'root', true);
      const deviceId = `chain-${transport}`;
      const leaf = ssl.issued('leaf', `/CN=${deviceId}`, 'intermediate', false);
      await registry.create({ deviceId, authentication: { type: 'certificateAuthority' } });
      const put = await serviceCall(emulator, 'PUT', `/certificates/chain-root-${transport}?${API}`, {
        body: { properties: { certificate: root } },
      });
      expect(put.status).toBe(201);

      const client = await openX509(
        emulator,
        deviceId,
        { cert: leaf + intermediate, key: ssl.key('leaf') },
        transport,
      );
      await client.sendEvent(new Message('through the chain'));
      await client.close();

      await expect(
        openX509AndSend(emulator, deviceId, { cert: leaf, key: ssl.key('leaf') }, transport),
      ).rejects.toMatchObject({ name: 'UnauthorizedError' });
    });
  });

  describe('CA registration (emulator-only REST route)', () => {
    it('lets a device of a newly registered CA in, and refuses it again once the CA is deleted', async () => {
      const deviceId = 'registered-later';
      const { ca, device } = await foreignCa(deviceId);
      await registry.create({ deviceId, authentication: { type: 'certificateAuthority' } });
      await expect(openX509(emulator, deviceId, device, 'mqtt')).rejects.toMatchObject({
        name: 'UnauthorizedError',
      });

      const put = await serviceCall(emulator, 'PUT', `/certificates/test-ca?${API}`, {
        body: { properties: { certificate: ca.cert } },
      });
      expect(put.status).toBe(201);
      const description = JSON.parse(put.body) as { name: string; properties: Record<string, unknown> };
      expect(description.name).toBe('test-ca');
      expect(description.properties).toMatchObject({
        thumbprint: sha1(ca.cert).toUpperCase(),
        isVerified: true,
      });

      const client = await openX509(emulator, deviceId, device, 'mqtt');
      await client.close();

      const deleted = await serviceCall(emulator, 'DELETE', `/certificates/test-ca?${API}`);
      expect(deleted.status).toBe(204);
      await expect(openX509(emulator, deviceId, device, 'mqtt')).rejects.toMatchObject({
        name: 'UnauthorizedError',
      });
    });

    it('refuses a certificate that is not a CA with 400, and needs RegistryWrite', async () => {
      const leaf = await serviceCall(emulator, 'PUT', `/certificates/leaf?${API}`, {
        body: { properties: { certificate: caSigned.cert } },
      });
      expect(leaf.status).toBe(400);
      const { ca } = await foreignCa('unused');
      const readOnly = await serviceCall(emulator, 'PUT', `/certificates/ro?${API}`, {
        policy: 'registryRead',
        body: { properties: { certificate: ca.cert } },
      });
      expect(readOnly.status).toBe(403);
    });

    it("lists the emulator's own CA, which cannot be deleted", async () => {
      const list = await serviceCall(emulator, 'GET', `/certificates?${API}`);
      const names = (JSON.parse(list.body) as { value: { name: string }[] }).value.map((c) => c.name);
      expect(names).toContain('emulator-ca');
      const deleted = await serviceCall(emulator, 'DELETE', `/certificates/emulator-ca?${API}`);
      expect(deleted.status).toBe(400);
    });
  });

  it('measures the connect time of X.509 and SAS devices (median of 20 MQTT connects each)', async () => {
    const ca = readFileSync(emulator.info.caPath, 'utf8');
    const time = async (open: () => Promise<DeviceClient>) => {
      const started = process.hrtime.bigint();
      const client = await open();
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      await client.close();
      return ms;
    };
    const median = (values: number[]) =>
      [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
    const sasTimes: number[] = [];
    const x509Times: number[] = [];
    for (let i = 0; i < 20; i++) {
      sasTimes.push(
        await time(async () => {
          const client = DeviceClient.fromConnectionString(
            emulator.deviceConnectionString('sas-device'),
            Mqtt,
          );
          await client.setOptions({ ca });
          await client.open();
          return client;
        }),
      );
      x509Times.push(await time(() => openX509(emulator, 'x509-ca', caSigned, 'mqtt')));
    }
    console.log(
      `connect time, median of 20 (MQTT): X.509 ${median(x509Times).toFixed(1)} ms, SAS ${median(sasTimes).toFixed(1)} ms`,
    );
    expect(x509Times).toHaveLength(20);
    expect(sasTimes).toHaveLength(20);
  }, 120_000);
});

describe('X.509 state across restarts, the CLI flags and the simulator', () => {
  let emulator: Emulator | undefined;
  const data = makeTempDir();
  let simulator: ChildProcess | undefined;

  afterAll(async () => {
    simulator?.kill();
    await emulator?.stop();
    data.remove();
  });

  it('keeps X.509 devices and registered CAs, creates --x509-device devices with their files, and runs the simulator with --cert/--key', async () => {
    const { ca, device } = await foreignCa('kept-ca-device');
    const caPath = join(data.path, 'kept-ca.pem');
    writeFileSync(caPath, ca.cert);
    emulator = await startTestEmulator({
      dataDir: data.path,
      caCertificates: [caPath],
      x509Devices: ['sim-x509'],
    });
    const registry = registryClient(emulator);
    const thumbprint = sha1(device.cert);
    await registry.create({
      deviceId: 'kept-self',
      authentication: { x509Thumbprint: { primaryThumbprint: thumbprint } },
    });
    await registry.create({ deviceId: 'kept-ca-device', authentication: { type: 'certificateAuthority' } });
    await emulator.stop();

    emulator = await startTestEmulator({ dataDir: data.path });
    const after = registryClient(emulator);
    expect(
      (await after.get('kept-self')).responseBody.authentication?.x509Thumbprint?.primaryThumbprint,
    ).toBe(thumbprint);
    expect(json((await after.get('sim-x509')).responseBody).authentication?.type).toBe(
      'certificateAuthority',
    );
    const list = await serviceCall(emulator, 'GET', `/certificates?${API}`);
    expect((JSON.parse(list.body) as { value: { name: string }[] }).value.map((c) => c.name)).toContain(
      'kept-ca',
    );
    // The CA given with --ca-certificate in the first run still vouches for its device.
    const client = await openX509(emulator, 'kept-ca-device', device, 'amqp');
    await client.sendEvent(new Message('after a restart'));
    await client.close();

    // The simulator, with the certificate --x509-device wrote, answers SetTelemetryInterval.
    const certPath = join(data.path, 'devices', 'sim-x509.pem');
    const keyPath = join(data.path, 'devices', 'sim-x509-key.pem');
    expect(new X509Certificate(readFileSync(certPath)).subject).toContain('CN=sim-x509');
    const connectionString = emulator.deviceConnectionString('sim-x509');
    expect(connectionString).toContain(';x509=true');
    simulator = spawn(
      process.execPath,
      [
        join(__dirname, '..', '..', 'dist', 'device-sim', 'cli.js'),
        '--connection-string',
        connectionString,
        '--cert',
        certPath,
        '--key',
        keyPath,
        '--ca',
        emulator.info.caPath,
        '--quiet',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, IOTHUB_DEVICE_CONNECTION_STRING: '' } },
    );
    const service = serviceClient(emulator);
    const result = await invokeMethod(service, 'sim-x509', {
      methodName: 'SetTelemetryInterval',
      payload: 5,
      connectTimeoutInSeconds: 30,
    });
    expect(result.status).toBe(200);
  }, 120_000);
});
