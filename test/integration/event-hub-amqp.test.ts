import { readFileSync } from 'node:fs';
import type { Message } from 'rhea';
import { createSasToken, type RunningEmulator } from 'iothub-emulator';
import { policyKey, startTestEmulator } from '../helpers/emulator';
import { inAnHour } from '../helpers/raw-clients';
import { RawAmqpClient } from '../helpers/raw-amqp';

const statusOf = (message: Message) =>
  (message.application_properties as Record<string, unknown> | undefined)?.['status-code'];

describe('the Event Hub-compatible endpoint on the wire (bare AMQP client)', () => {
  let emulator: RunningEmulator & { removeData: () => void };
  let audience: string;
  const clients: RawAmqpClient[] = [];

  const token = (policy: string, resource = audience, expiry = inAnHour()) =>
    createSasToken(resource, policyKey(emulator, policy), expiry, policy, 'utf8');
  const putToken = (client: RawAmqpClient, body: string, type = 'servicebus.windows.net:sastoken') =>
    client.request('$cbs', {
      body,
      application_properties: { operation: 'put-token', name: audience, type },
    });
  const plain = async () => {
    const client = await RawAmqpClient.open({
      host: '127.0.0.1',
      port: emulator.info.amqpPort,
      username: 'service',
    });
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    emulator = await startTestEmulator({ amqpsPort: 0 });
    audience = `sb://localhost:${emulator.info.amqpPort}/${emulator.info.eventHubName}`;
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await emulator.stop();
    emulator.removeData();
  });

  it('serves AMQP over TLS with the emulator certificate', async () => {
    const client = await RawAmqpClient.open({
      host: 'localhost',
      port: emulator.info.amqpsPort,
      transport: 'tls',
      ca: readFileSync(emulator.info.caPath),
      servername: 'localhost',
    });
    clients.push(client);
    const reply = await putToken(client, token('service'));
    expect(statusOf(reply)).toBe(202);
  });

  it('refuses a receiver link before a claim is put on $cbs', async () => {
    const client = await plain();
    await expect(
      client.receive(`${emulator.info.eventHubName}/ConsumerGroups/$Default/Partitions/0`),
    ).rejects.toThrow(/^amqp:unauthorized-access: .*put a valid token/);
  });

  it('answers put-token with the statuses Event Hubs uses', async () => {
    const client = await plain();
    const signedAsIotHub = createSasToken(audience, policyKey(emulator, 'service'), inAnHour(), 'service');
    expect(statusOf(await putToken(client, signedAsIotHub))).toBe(401);
    expect(statusOf(await putToken(client, token('service', audience, 1000)))).toBe(401);
    expect(statusOf(await putToken(client, token('device')))).toBe(403);
    expect(statusOf(await putToken(client, token('service', `sb://localhost/other-hub`)))).toBe(401);
    expect(statusOf(await putToken(client, 'Bearer abc', 'jwt'))).toBe(401);
    const accepted = await putToken(client, token('service'));
    expect(statusOf(accepted)).toBe(202);
    expect(accepted.correlation_id).toBe('request-1');
  });

  it('accepts a receiver once the claim covers it, with a leading slash as .NET sends it', async () => {
    const client = await plain();
    await putToken(client, token('service'));
    const address = `/${emulator.info.eventHubName}/ConsumerGroups/$Default/Partitions/1`;
    expect(await client.attach(address)).toMatchObject({ address });
    await expect(
      client.receive(`/${emulator.info.eventHubName}/ConsumerGroups/$Default/Partitions/1`, 'nonsense'),
    ).rejects.toThrow(/^amqp:invalid-field: .*selector filter "nonsense" is not supported/);
    await expect(
      client.receive(`/${emulator.info.eventHubName}/ConsumerGroups/$Default/Partitions/7`),
    ).rejects.toThrow(/^com.microsoft:argument-out-of-range: .*use 0 to 3/);
  });

  it('closes a receiver when its claim expires without renewal', async () => {
    const client = await plain();
    const expiry = Math.floor(Date.now() / 1000) + 2;
    expect(statusOf(await putToken(client, token('service', audience, expiry)))).toBe(202);
    const started = Date.now();
    await expect(
      client.receive(`${emulator.info.eventHubName}/ConsumerGroups/$Default/Partitions/0`),
    ).rejects.toThrow(/^amqp:unauthorized-access: .*expired/);
    expect(Date.now()).toBeGreaterThanOrEqual(expiry * 1000);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('forgets a receiver whose client closes the connection without detaching it', async () => {
    const address = `${emulator.info.eventHubName}/ConsumerGroups/$Default/Partitions/3`;
    const owner = await RawAmqpClient.open({ host: '127.0.0.1', port: emulator.info.amqpPort });
    await putToken(owner, token('service'));
    expect(await owner.attach(address, 7)).toMatchObject({ address });
    await owner.close(); // a close frame, no detach: the epoch receiver must not hold the partition any more
    const next = await plain();
    await putToken(next, token('service'));
    // Refused (no source in the attach) if the closed connection's epoch receiver were still registered.
    expect(await next.attach(address)).toMatchObject({ address });
  });

  it('writes every OPEN and ATTACH field, fills both termini, and takes a source given as a full URL', async () => {
    const client = await plain();
    expect(client.openFieldCount()).toBe(10);
    await putToken(client, token('service'));
    const url = `amqp://localhost:${emulator.info.amqpPort}/${emulator.info.eventHubName}/ConsumerGroups/$Default/Partitions/2`;
    const frame = await client.attachFrame(url);
    expect(frame.fieldCount).toBe(14);
    expect(frame.source).toMatchObject({ address: url });
    expect(frame.target).toMatchObject({ address: 'client-1' });
  });

  it('is read-only: a sender link to the hub is refused', async () => {
    const client = await plain();
    await putToken(client, token('service'));
    expect(await client.sendRefusal(emulator.info.eventHubName)).toMatch(/^amqp:not-allowed: .*read-only/);
  });

  it('answers $management READ with the token in the request, and refuses it without one', async () => {
    const client = await plain();
    const reply = await client.request('$management', {
      body: null,
      application_properties: {
        operation: 'READ',
        name: emulator.info.eventHubName,
        type: 'com.microsoft:partition',
        partition: '2',
        security_token: token('service', `${audience}/$management`),
      },
    });
    expect(statusOf(reply)).toBe(200);
    expect(reply.body).toMatchObject({
      name: emulator.info.eventHubName,
      partition: '2',
      is_partition_empty: true,
      last_enqueued_offset: '-1',
    });
    const denied = await client.request('$management', {
      body: null,
      application_properties: {
        operation: 'READ',
        name: emulator.info.eventHubName,
        type: 'com.microsoft:eventhub',
      },
    });
    expect(statusOf(denied)).toBe(401);
  });
});
