import type { StreamInspector } from '../shared/inspected-stream';

/** Largest MQTT packet (its remaining length) a connection may send, before and after it authenticated. */
export interface PacketSizeLimits {
  readonly beforeAuthentication: number;
  readonly afterAuthentication: number;
}

/**
 * Reads only MQTT's fixed headers (type byte and remaining length, [MQTT-2.2.3]) of what a device sends: a packet
 * announcing more than the connection's limit stops the connection before its body is buffered anywhere. aedes
 * has no such limit and would otherwise collect a 256 MB CONNECT before any credential is checked. The limit is
 * small until the connection authenticates.
 */
export class PacketSizeGuard implements StreamInspector {
  private limit: number;
  /** Body bytes of the current packet still to pass through unread. */
  private bodyLeft = 0;
  /** Fixed-header bytes read so far of the next packet (0: at a packet boundary). */
  private headerBytes = 0;
  private length = 0;
  private multiplier = 1;

  constructor(
    private readonly limits: PacketSizeLimits,
    private readonly onOversized: (announcedBytes: number, limitBytes: number) => void,
  ) {
    this.limit = limits.beforeAuthentication;
  }

  /** The connection authenticated: from now on packets may be as large as a device message. */
  authenticated(): void {
    this.limit = this.limits.afterAuthentication;
  }

  inspect(chunk: Buffer): boolean {
    let index = 0;
    while (index < chunk.length) {
      if (this.bodyLeft > 0) {
        const skip = Math.min(this.bodyLeft, chunk.length - index);
        this.bodyLeft -= skip;
        index += skip;
        continue;
      }
      const byte = chunk[index++] ?? 0;
      if (this.headerBytes === 0) {
        // The packet type and flags byte; the remaining length follows.
        this.headerBytes = 1;
        this.length = 0;
        this.multiplier = 1;
        continue;
      }
      this.length += (byte & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      this.headerBytes++;
      const lengthComplete = (byte & 0x80) === 0;
      // [MQTT-2.2.3] the remaining length takes at most four bytes.
      if (!lengthComplete && this.headerBytes > 4) return this.reject(Number.POSITIVE_INFINITY);
      if (!lengthComplete) continue;
      if (this.length > this.limit) return this.reject(this.length);
      this.bodyLeft = this.length;
      this.headerBytes = 0;
    }
    return true;
  }

  private reject(announced: number): false {
    this.onOversized(announced, this.limit);
    return false;
  }
}
