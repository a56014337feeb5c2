import { read_frame } from 'rhea/lib/frames.js';
import * as rheaFrames from 'rhea/lib/frames.js';
import {
  AmqpFrameGuard,
  MAX_FRAME_BYTES,
  type FrameViolation,
} from '../../emulator/transports/amqp/frame-guard';
import { PacketSizeGuard } from '../../emulator/transports/mqtt/packet-size-guard';
import { parseTokenScope, scopeCovers, tokenGrants } from '../../emulator/hub/auth/token-scope';
import { jsonDepth } from '../../src/lib/json-depth';

describe('token scope (sr as path segments)', () => {
  const host = 'hub.azure-devices.net';
  it.each([
    ['hub.azure-devices.net', ['devices', 'dev1'], true],
    ['hub.azure-devices.net/devices', ['devices', 'dev1'], true],
    ['HUB.azure-devices.net/Devices/dev1', ['devices', 'dev1', 'methods'], true],
    ['hub.azure-devices.net/devices/dev1', ['devices', 'dev10'], false],
    ['hub.azure-devices.net/devices/dev1', ['devices'], false],
    ['hub.azure-devices.net/devices/Dev1', ['devices', 'dev1'], false],
    ['hub.azure-devices.net/devices/dev', ['devices', 'dev1'], false],
    ['other.azure-devices.net', ['devices', 'dev1'], false],
    ['hub.azure-devices.net.evil.example', ['devices'], false],
    ['https://hub.azure-devices.net/devices/', ['devices', 'x'], true],
  ])('%s grants %j: %s', (sr, wanted, granted) => {
    expect(tokenGrants(parseTokenScope(sr), host, wanted)).toBe(granted);
  });

  it('compares segments, so an empty grant covers everything and nothing covers a parent', () => {
    expect(scopeCovers([], ['a', 'b'])).toBe(true);
    expect(scopeCovers(['a', 'b'], ['a'])).toBe(false);
  });
});

describe('jsonDepth', () => {
  it.each([
    [1, 0],
    [[], 1],
    [{ a: 1 }, 1],
    [{ a: [1, { b: null }] }, 3],
  ])('measures %j as %d', (value, depth) => {
    expect(jsonDepth(value, 100)).toBe(depth);
  });

  it('stops counting past the limit without walking the rest (100,000 levels)', () => {
    const deep = JSON.parse('['.repeat(100_000) + ']'.repeat(100_000)) as unknown;
    expect(jsonDepth(deep, 64)).toBe(65);
  });
});

describe('MQTT packet size guard', () => {
  const limits = { beforeAuthentication: 100, afterAuthentication: 1000 };

  function feed(chunks: readonly Buffer[], authenticate = false) {
    const refused: number[] = [];
    const guard = new PacketSizeGuard(limits, (announced) => refused.push(announced));
    if (authenticate) guard.authenticated();
    const passed = chunks.map((chunk) => guard.inspect(chunk));
    return { passed, refused };
  }

  it('lets packets under the limit through, however the bytes are split', () => {
    const packets = Buffer.concat([
      Buffer.from([0x10, 50]),
      Buffer.alloc(50),
      Buffer.from([0xc0, 0]), // PINGREQ, no body
      Buffer.from([0x30, 0x64]),
      Buffer.alloc(100),
    ]);
    const oneByOne = [...packets].map((byte) => Buffer.from([byte]));
    expect(feed(oneByOne).refused).toEqual([]);
    expect(feed([packets]).refused).toEqual([]);
  });

  it('stops at a header announcing more than the limit, even split across chunks', () => {
    // 200 = 0xC8 0x01 in MQTT's variable-length encoding.
    expect(feed([Buffer.from([0x10, 0xc8]), Buffer.from([0x01])])).toEqual({
      passed: [true, false],
      refused: [200],
    });
  });

  it('raises the limit once the connection authenticates', () => {
    expect(feed([Buffer.from([0x30, 0xc8, 0x01])], true).refused).toEqual([]);
  });

  it('stops at a remaining length of more than four bytes', () => {
    expect(feed([Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80, 0x01])]).refused).toEqual([Infinity]);
  });
});

describe('AMQP frame guard', () => {
  const header = (id: number) => Buffer.from([0x41, 0x4d, 0x51, 0x50, id, 1, 0, 0]);
  const transfer = (more: boolean, payloadBytes: number, handle = 0) =>
    rheaFrames.write_frame(
      rheaFrames.amqp_frame(
        0,
        rheaFrames.transfer({ handle, delivery_id: 0, delivery_tag: Buffer.from('t'), more }),
        Buffer.alloc(payloadBytes),
      ),
    );

  function feed(chunks: readonly Buffer[]) {
    const violations: FrameViolation[] = [];
    const guard = new AmqpFrameGuard((violation) => violations.push(violation));
    const passed = chunks.map((chunk) => guard.inspect(chunk));
    return { passed, violations };
  }

  it('reads frames split anywhere, through SASL and the second header', () => {
    const sasl = rheaFrames.write_frame(
      rheaFrames.sasl_frame(rheaFrames.sasl_init({ mechanism: 'ANONYMOUS' })),
    );
    const stream = Buffer.concat([header(3), sasl, header(0), transfer(false, 1000)]);
    const oneByOne = [...stream].map((byte) => Buffer.from([byte]));
    expect(feed(oneByOne).violations).toEqual([]);
    expect(read_frame(transfer(true, 10))?.performative?.more).toBe(true);
  });

  it('stops a frame announcing more than the max frame size', () => {
    const big = Buffer.alloc(8);
    big.writeUInt32BE(MAX_FRAME_BYTES + 1);
    expect(feed([header(0), big]).violations[0]?.condition).toBe('amqp:connection:framing-error');
  });

  it('stops a delivery whose frames add up to more than 1 MB, per link, and resets after the last frame', () => {
    const frames = Array.from({ length: 16 }, () => transfer(true, 60 * 1024));
    expect(feed([header(0), ...frames, transfer(false, 10)]).violations).toEqual([]);
    expect(feed([header(0), ...frames, ...frames]).violations[0]?.condition).toBe(
      'amqp:link:message-size-exceeded',
    );
    const interleaved = frames.flatMap((frame, i) => [
      frame,
      transfer(i === 15 ? false : true, 60 * 1024, 1),
    ]);
    expect(feed([header(0), ...interleaved]).violations).toEqual([]);
  });

  it.each([
    ['HTTP', Buffer.from('GET / HTTP/1.1\r\n')],
    ['AMQP 0-9-1', Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1])],
    ['a SASL header after SASL', Buffer.concat([header(3), header(3)])],
  ])('stops a connection that starts with %s', (_what, bytes) => {
    expect(feed([bytes]).violations).toHaveLength(1);
  });
});
