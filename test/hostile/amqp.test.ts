import { connect, type Socket } from 'node:net';
import type { EventContext } from 'rhea';
import { createSasToken } from 'iothub-emulator';
import { policyKey } from '../helpers/emulator';
import { inAnHour } from '../helpers/raw-clients';
import { RawAmqpClient } from '../helpers/raw-amqp';
import { startHostileStack, type HostileStack } from './harness';

const PENDING_LIMIT = 8;
const SASL_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 3, 1, 0, 0]);
const AMQP_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 1, 0, 0]);

/**
 * The AMQP endpoint (the Event Hub-compatible one) as a hostile peer uses it: raw bytes, and rhea sending what the
 * Event Hubs clients never would. Frames are bounded before rhea buffers them (64 KB frames, 1 MB messages),
 * garbage closes the connection, rhea's read errors never log the client's bytes, and claims follow the scope
 * rule of every token check.
 */
describe('hostile input: the AMQP endpoint', () => {
  let stack: HostileStack;

  beforeAll(async () => {
    stack = await startHostileStack([], {
      partitionCount: 12,
      maxPendingConnections: PENDING_LIMIT,
      handshakeTimeoutSeconds: 2,
    });
  });
  afterAll(async () => {
    await stack.stop();
  });

  /** Sends raw bytes to the plain AMQP port and resolves with what came back once the emulator closed. */
  function sendRaw(bytes: Buffer): Promise<Buffer> {
    return new Promise((resolve) => {
      const received: Buffer[] = [];
      const socket = connect(stack.emulator.info.amqpPort, '127.0.0.1', () => {
        socket.write(bytes);
      });
      socket.on('data', (chunk: Buffer) => received.push(chunk));
      socket.on('error', () => undefined);
      socket.on('close', () => {
        resolve(Buffer.concat(received));
      });
    });
  }

  const frameHeader = (size: number, type = 0) => {
    const header = Buffer.alloc(8);
    header.writeUInt32BE(size, 0);
    header[4] = 2;
    header[5] = type;
    return header;
  };

  describe('raw bytes', () => {
    it('closes a connection that starts with an HTTP request, and logs none of its bytes', async () => {
      const secret = `SharedAccessSignature sr=x&sig=${'s'.repeat(43)}=&se=1`;
      stack.secrets.add(Buffer.from('GET / HT').toString('hex'));
      await sendRaw(Buffer.from(`GET / HTTP/1.1\r\nAuthorization: ${secret}\r\n\r\n`));
      await stack.emulator.waitForLog(/did not start with an AMQP protocol header/);
    });

    it('closes a SASL connection whose frame breaks rhea`s decoder, and logs no byte of it', async () => {
      // A frame with data offset 0 (below the minimum of 2): rhea's read error would print the whole buffer in hex.
      const token = `SharedAccessSignature sr=hub&sig=${'k'.repeat(43)}=&se=9999999999&skn=service`;
      const body = Buffer.from(token);
      const frame = Buffer.concat([frameHeader(8 + body.length, 1), body]);
      frame[4] = 0;
      stack.secrets.add(body.toString('hex').slice(0, 64));
      await sendRaw(Buffer.concat([SASL_HEADER, frame]));
      await stack.emulator.waitForLog(/AMQP connection closed on a protocol error: Invalid data offset/);
      expect(stack.emulator.logs()).not.toContain('(buffer:');
    });

    it.each([
      ['an AMQP 0-9-1 header', Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1])],
      ['a TLS protocol header (id 2)', Buffer.from([0x41, 0x4d, 0x51, 0x50, 2, 1, 0, 0])],
      ['a SASL header, then a frame announcing 2 GB', Buffer.concat([SASL_HEADER, frameHeader(0x7fffffff)])],
      ['a SASL header, then a frame announcing 3 bytes', Buffer.concat([SASL_HEADER, frameHeader(3)])],
      ['an AMQP header, then a 100 KB frame', Buffer.concat([AMQP_HEADER, frameHeader(100 * 1024)])],
      ['a SASL header, then 1 KB of garbage', Buffer.concat([SASL_HEADER, Buffer.alloc(1024, 0xee)])],
      [
        'a second SASL header after SASL',
        Buffer.concat([SASL_HEADER, Buffer.from('AMQP'), Buffer.from([3, 1, 0, 0])]),
      ],
    ])('closes a connection that sends %s', async (_what, bytes) => {
      await sendRaw(bytes);
    });

    it('refuses connections beyond the pending limit and closes idle ones after the open timeout', async () => {
      const idleClosed: Promise<void>[] = [];
      const idle: Socket[] = [];
      for (let i = 0; i < PENDING_LIMIT; i++) {
        const socket = connect(stack.emulator.info.amqpPort, '127.0.0.1');
        socket.on('error', () => undefined);
        idleClosed.push(
          new Promise((resolve) =>
            socket.once('close', () => {
              resolve();
            }),
          ),
        );
        await new Promise<void>((resolve) =>
          socket.once('connect', () => {
            resolve();
          }),
        );
        idle.push(socket);
      }
      const extra = connect(stack.emulator.info.amqpPort, '127.0.0.1');
      extra.on('error', () => undefined);
      await new Promise<void>((resolve) =>
        extra.once('close', () => {
          resolve();
        }),
      );
      await stack.emulator.waitForLog(
        new RegExp(`refusing AMQP connections: ${PENDING_LIMIT} are already waiting to authenticate`),
      );
      await Promise.all(idleClosed);
      expect(idle).toHaveLength(PENDING_LIMIT);
    });
  });

  describe('rhea sending what the Event Hubs clients never would', () => {
    let client: RawAmqpClient;
    beforeEach(async () => {
      client = await RawAmqpClient.open({ host: '127.0.0.1', port: stack.emulator.info.amqpPort });
    });
    afterEach(async () => {
      await client.close();
    });

    it('is told the 64 KB frame limit in OPEN', () => {
      expect(client.connection.max_frame_size).toBe(64 * 1024);
    });

    it('closes the connection, with amqp:link:message-size-exceeded, on a 2 MB message in 64 KB frames', async () => {
      const sender = client.connection.open_sender({ target: { address: '$cbs' } });
      await new Promise((resolve) => sender.once('sendable', resolve));
      const closedWith = new Promise<string>((resolve) => {
        client.connection.once('connection_error', (context: EventContext) => {
          resolve(String((context.connection.error as { condition?: string } | undefined)?.condition));
        });
      });
      sender.send({ body: Buffer.alloc(2 * 1024 * 1024, 0x61) });
      expect(await closedWith).toBe('amqp:link:message-size-exceeded');
    });

    it.each([
      ['a 60 KB token', 'x'.repeat(60 * 1024)],
      ['a token with broken escapes', 'SharedAccessSignature sr=%E0%A4%A&sig=%&se=1&skn=%zz'],
      ['a number', 42],
      ['no body', undefined],
    ])('answers put-token with %s with 401, not a crash', async (_what, body) => {
      const reply = await client.request('$cbs', {
        application_properties: {
          operation: 'put-token',
          type: 'servicebus.windows.net:sastoken',
          name: `sb://localhost/${stack.emulator.info.eventHubName}`,
        },
        body,
      });
      expect((reply.application_properties as Record<string, unknown>)['status-code']).toBe(401);
    });

    it('grants a token for one partition that partition only, not partition 10 (segments, not text)', async () => {
      const hub = stack.emulator.info.eventHubName;
      const scope = `sb://localhost/${hub}/ConsumerGroups/$Default/Partitions/1`;
      const token = createSasToken(
        scope,
        policyKey(stack.emulator, 'service'),
        inAnHour(),
        'service',
        'utf8',
      );
      stack.secrets.add(/sig=([^&]+)/.exec(token)?.[1] ?? '');
      const reply = await client.request('$cbs', {
        application_properties: {
          operation: 'put-token',
          type: 'servicebus.windows.net:sastoken',
          name: scope,
        },
        body: token,
      });
      expect((reply.application_properties as Record<string, unknown>)['status-code']).toBe(202);
      const granted = `${hub}/ConsumerGroups/$Default/Partitions/1`;
      expect(await client.attach(granted)).toMatchObject({ address: granted });
      await expect(client.receive(`${hub}/ConsumerGroups/$Default/Partitions/10`)).rejects.toThrow(
        /^amqp:unauthorized-access/,
      );
    });
  });

  describe('after every group', () => {
    it('still serves a normal direct method, both processes are up, and no key or signature was logged', async () => {
      await stack.expectStillServing();
    });
  });
});
