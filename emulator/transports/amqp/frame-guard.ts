import { read_frame } from 'rhea/lib/frames.js';
import type { StreamInspector } from '../shared/inspected-stream';

/**
 * The largest frame the endpoints accept, and advertise in OPEN (`max-frame-size`): 64 KB, what Microsoft's AMQP
 * stack (Event Hubs, IoT Hub) uses. rhea advertises 4 GB by default and buffers whatever size a frame announces.
 */
export const MAX_FRAME_BYTES = 64 * 1024;
/** The largest message a client may send in one delivery, over all its frames (Event Hubs' own limit is 1 MB). */
export const MAX_MESSAGE_BYTES = 1024 * 1024;

export interface FrameViolation {
  /** `amqp:connection:framing-error` or `amqp:link:message-size-exceeded`. */
  readonly condition: string;
  /** Safe to log and to send: it never quotes what the client sent. */
  readonly description: string;
}

const HEADER_BYTES = 8;
const AMQP = Buffer.from('AMQP', 'ascii');
const PROTOCOL_AMQP = 0;
const PROTOCOL_SASL = 3;
const FRAME_TYPE_AMQP = 0;
const TRANSFER_DESCRIPTOR = 0x14;

/**
 * Reads the protocol headers and frame boundaries of what an AMQP client sends, before rhea sees it: a header that
 * is not AMQP 1.0 (or SASL), a frame announcing fewer than 8 or more than MAX_FRAME_BYTES bytes, or a delivery
 * whose transfers add up to more than MAX_MESSAGE_BYTES stops the connection. Transfer frames are decoded with
 * rhea's own frame reader, to follow their `more` flag; other frames are only measured.
 */
export class AmqpFrameGuard implements StreamInspector {
  private expectHeader = true;
  private saslPhase = false;
  private carry: Buffer | undefined;
  /** Bytes of each unfinished multi-frame delivery, by `channel/handle`. */
  private readonly deliveries = new Map<string, number>();

  constructor(private readonly onViolation: (violation: FrameViolation) => void) {}

  inspect(chunk: Buffer): boolean {
    const buffer = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    this.carry = undefined;
    let offset = 0;
    for (;;) {
      const available = buffer.length - offset;
      if (this.expectHeader) {
        if (available < HEADER_BYTES) break;
        const problem = checkHeader(buffer.subarray(offset, offset + HEADER_BYTES), this.saslPhase);
        if (problem) return this.stop({ condition: 'amqp:connection:framing-error', description: problem });
        this.saslPhase = buffer[offset + 4] === PROTOCOL_SASL;
        this.expectHeader = false;
        offset += HEADER_BYTES;
        continue;
      }
      if (available < 4) break;
      // After SASL succeeds the client starts over with an AMQP header; no valid frame size reads as "AMQP".
      if (this.saslPhase && buffer.subarray(offset, offset + 4).equals(AMQP)) {
        this.expectHeader = true;
        continue;
      }
      const size = buffer.readUInt32BE(offset);
      if (size < 8 || size > MAX_FRAME_BYTES) {
        return this.stop({
          condition: 'amqp:connection:framing-error',
          description: `A frame announced ${size} bytes; frames are 8 to ${MAX_FRAME_BYTES} bytes (max-frame-size).`,
        });
      }
      if (available < size) break;
      const violation = this.checkFrame(buffer.subarray(offset, offset + size));
      if (violation) return this.stop(violation);
      offset += size;
    }
    if (offset < buffer.length) {
      // At most one frame (64 KB) or header is ever carried over.
      this.carry = Buffer.from(buffer.subarray(offset));
    }
    return true;
  }

  private checkFrame(frame: Buffer): FrameViolation | undefined {
    if (frame[5] !== FRAME_TYPE_AMQP) return undefined;
    let decoded;
    try {
      decoded = read_frame(frame);
    } catch {
      return { condition: 'amqp:connection:framing-error', description: 'A frame could not be decoded.' };
    }
    const performative = decoded?.performative;
    if (performative?.constructor.descriptor?.numeric !== TRANSFER_DESCRIPTOR) return undefined;
    const key = `${decoded?.channel ?? 0}/${performative.handle ?? 0}`;
    const total = (this.deliveries.get(key) ?? 0) + frame.length;
    if (total > MAX_MESSAGE_BYTES) {
      return {
        condition: 'amqp:link:message-size-exceeded',
        description: `A message of more than ${MAX_MESSAGE_BYTES} bytes was sent; the limit is ${MAX_MESSAGE_BYTES}.`,
      };
    }
    if (performative.more === true) this.deliveries.set(key, total);
    else this.deliveries.delete(key);
    return undefined;
  }

  private stop(violation: FrameViolation): false {
    this.carry = undefined;
    this.onViolation(violation);
    return false;
  }
}

/** Why an 8-byte protocol header is refused, or undefined: `AMQP`, protocol 0 (or 3 before SASL), version 1.0.0. */
function checkHeader(header: Buffer, afterSasl: boolean): string | undefined {
  if (!header.subarray(0, 4).equals(AMQP))
    return 'The connection did not start with an AMQP protocol header.';
  const protocol = header[4];
  const allowed = afterSasl ? [PROTOCOL_AMQP] : [PROTOCOL_AMQP, PROTOCOL_SASL];
  if (protocol === undefined || !allowed.includes(protocol)) {
    return `Protocol id ${protocol ?? '?'} is not supported here (0 for AMQP${afterSasl ? '' : ', 3 for SASL'}).`;
  }
  if (header[5] !== 1 || header[6] !== 0 || header[7] !== 0) return 'Only AMQP 1.0.0 is supported.';
  return undefined;
}
