/**
 * rhea's frame decoder, which the emulator reuses to read the performative of frames before rhea buffers them
 * (amqp/frame-guard.ts). rhea publishes no typings for it; these are the parts used.
 */
declare module 'rhea/lib/frames.js' {
  interface DecodedFrame {
    readonly size: number;
    readonly type: number;
    readonly channel: number;
    readonly performative?: {
      readonly constructor: { readonly descriptor?: { readonly numeric?: number } };
      readonly handle?: number;
      readonly more?: boolean;
    };
  }
  export function read_frame(buffer: Buffer): DecodedFrame | null;
  // Encoding, used by tests to build frames as a client would.
  export function write_frame(frame: unknown): Buffer;
  export function amqp_frame(channel: number, performative: unknown, payload?: Buffer): unknown;
  export function sasl_frame(performative: unknown): unknown;
  export function transfer(fields: Record<string, unknown>): unknown;
  export function sasl_init(fields: Record<string, unknown>): unknown;
}
