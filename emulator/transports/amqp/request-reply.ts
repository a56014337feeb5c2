import { types, type Connection, type Message, type Receiver, type Sender } from 'rhea';
import type { Logger } from '../../log';
import { completeAttach, localAttach, remoteTermini } from './link-internals';
import { describeClientValue } from './client-values';

/** A reply on a request/response node ($cbs, $management): a status as Microsoft's services send it, and a body. */
export interface RequestReply {
  readonly statusCode: number;
  readonly statusDescription: string;
  /** An AMQP error condition, which the clients map to a typed error. */
  readonly errorCondition?: string;
  readonly body?: unknown;
}

/** The request/response nodes a client may attach to. */
export const REQUEST_NODES: ReadonlySet<string> = new Set(['$cbs', '$management']);

/**
 * Accepts a client's link to a request/response node: its terminus echoed, and settle mode "settled". The .NET
 * client sends its requests pre-settled, all with an empty delivery tag, and follows the settle mode the attach
 * reply states: anything but "settled" makes it track them and fail on the second one.
 */
export function acceptNodeLink(link: Sender | Receiver, address: string): void {
  const { source, target } = remoteTermini(link);
  // Both termini filled, as clients read both: the node on one side, the client's own address on the other.
  const nodeSource = link.is_receiver() ? source : { address };
  const nodeTarget = link.is_receiver() ? { address } : target;
  if (nodeSource) link.set_source(nodeSource as Parameters<Sender['set_source']>[0]);
  if (nodeTarget) link.set_target(nodeTarget as Parameters<Sender['set_target']>[0]);
  localAttach(link).snd_settle_mode = 1;
  completeAttach(link);
}

/**
 * Sends a reply to a request that arrived on the node `node` (`$cbs`, `$management`): on the client's link named
 * (or addressed) as the request's `reply_to`, or, when the request names none (uamqp and the pure-Python stack send
 * none), on the client's receiving link from the same node, as Microsoft's services do.
 */
export function sendReply(
  connection: Connection,
  node: string,
  request: Message,
  reply: RequestReply,
  log: Logger,
): void {
  const replyTo = request.reply_to;
  const addressOf = (terminus: unknown) => (terminus as { address?: string } | undefined)?.address;
  const sender =
    (replyTo === undefined
      ? undefined
      : connection.find_sender(
          (link: Sender) => link.name === replyTo || addressOf(link.target) === replyTo,
        )) ?? connection.find_sender((link: Sender) => addressOf(link.source) === node);
  if (!sender) {
    log.warn(
      `AMQP: no link to reply to a ${node} request on ("${describeClientValue(replyTo)}"); the request is dropped.`,
    );
    return;
  }
  const applicationProperties: Record<string, unknown> = {
    'status-code': types.wrap_int(reply.statusCode),
    'status-description': reply.statusDescription,
  };
  if (reply.errorCondition) applicationProperties['error-condition'] = reply.errorCondition;
  sender.send({
    correlation_id: request.message_id,
    application_properties: applicationProperties,
    body: reply.body ?? null,
  });
}
