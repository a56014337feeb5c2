import { read_frame } from 'rhea/lib/frames.js';
import * as rheaFrames from 'rhea/lib/frames.js';
import {
  AmqpFrameGuard,
  MAX_FRAME_BYTES,
  type FrameViolation,
} from '../../../../transports/amqp/frame-guard';

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
