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
}
