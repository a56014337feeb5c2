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
    } & Record<string, unknown>;
  };
}

/** ATTACH's fields after name, handle and role (AMQP 1.0, 2.7.3), in order. */
const ATTACH_FIELDS = [
  'snd_settle_mode',
  'rcv_settle_mode',
  'source',
  'target',
  'unsettled',
  'incomplete_unsettled',
  'initial_delivery_count',
  'max_message_size',
  'offered_capabilities',
  'desired_capabilities',
  'properties',
] as const;

/**
 * Writes every ATTACH field, null where there is no value. rhea leaves trailing unset fields off the frame, which
 * AMQP allows, but clients that read fields by position (azure-eventhub's pure-Python stack, uamqp) fail on it;
 * Microsoft's services always send the whole list.
 */
export function completeAttach(link: Sender | Receiver): void {
  const attach: Record<string, unknown> = localAttach(link);
  for (const field of ATTACH_FIELDS) {
    if (attach[field] === undefined) attach[field] = null;
  }
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
