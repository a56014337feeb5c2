import type { Receiver, Sender } from 'rhea';

/**
 * Fields of rhea links that its typings leave out. A server-side link is created by rhea when the client
 * attaches, so its local attach (settle mode, capabilities, properties) can only be set here, before rhea sends
 * it at the end of the event's turn.
 */
interface LinkInternals {
  readonly credit: number;
  readonly local: {
    readonly attach: {
      snd_settle_mode?: number;
      offered_capabilities?: unknown;
      properties?: unknown;
    };
  };
}

export function localAttach(link: Sender | Receiver): LinkInternals['local']['attach'] {
  return (link as unknown as LinkInternals).local.attach;
}

export function creditOf(sender: Sender): number {
  return (sender as unknown as LinkInternals).credit;
}

/** The terminus the client sent in its ATTACH. */
export function remoteTermini(link: Sender | Receiver): { source?: unknown; target?: unknown } {
  return (
    (link as unknown as { remote: { attach?: { source?: unknown; target?: unknown } } }).remote.attach ?? {}
  );
}
