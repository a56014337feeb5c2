import {
  create_container,
  types,
  type Connection,
  type ConnectionOptions,
  type EventContext,
  type Message,
} from 'rhea';

/** A bare AMQP 1.0 client (rhea), to send what the SDKs never would and to see the wire-level answers. */
export class RawAmqpClient {
  private constructor(readonly connection: Connection) {}

  static open(options: ConnectionOptions): Promise<RawAmqpClient> {
    const container = create_container();
    return new Promise((resolve, reject) => {
      const connection = container.connect({ reconnect: false, ...options });
      connection.once('connection_open', () => {
        resolve(new RawAmqpClient(connection));
      });
      connection.once('connection_error', () => {
        reject(new Error('connection refused'));
      });
      connection.once('disconnected', (context: EventContext) => {
        reject(context.error ?? new Error('disconnected'));
      });
    });
  }

  /** Sends a request on `address` and waits for the reply on a receiver link named `reply_to`. */
  async request(address: string, request: Message): Promise<Message> {
    const replyTo = `reply-${Math.random().toString(36).slice(2)}`;
    const receiver = this.connection.open_receiver({ source: { address }, name: replyTo });
    const sender = this.connection.open_sender({ target: { address } });
    await new Promise((resolve) => sender.once('sendable', resolve));
    const reply = new Promise<Message>((resolve) => {
      receiver.once('message', (context: EventContext) => {
        if (context.message) resolve(context.message);
      });
    });
    sender.send({ ...request, message_id: 'request-1', reply_to: replyTo });
    const message = await reply;
    sender.close();
    receiver.close();
    return message;
  }

  /** Opens a receiver on `address`; resolves with the first message, or rejects with the link's error. */
  receive(address: string, filter?: string): Promise<Message> {
    const receiver = this.connection.open_receiver({
      source: {
        address,
        ...(filter
          ? { filter: { 'apache.org:selector-filter:string': types.wrap_described(filter, 0x468c00000004) } }
          : {}),
      },
    });
    return new Promise((resolve, reject) => {
      receiver.once('message', (context: EventContext) => {
        if (context.message) resolve(context.message);
      });
      receiver.once('receiver_error', (context: EventContext) => {
        const error = context.receiver?.error as { condition?: string; description?: string } | undefined;
        reject(new Error(`${error?.condition ?? '?'}: ${error?.description ?? ''}`));
      });
    });
  }

  /** Opens a receiver on `address`; resolves with the source the server attached with (none = refused). */
  attach(address: string, epoch?: number): Promise<{ address?: string } | undefined> {
    const receiver = this.connection.open_receiver({
      source: { address },
      ...(epoch === undefined ? {} : { properties: { 'com.microsoft:epoch': types.wrap_long(epoch) } }),
    });
    return new Promise((resolve) => {
      receiver.once('receiver_open', (context: EventContext) => {
        resolve(context.receiver?.source);
      });
    });
  }

  /** How many fields the server's OPEN frame carried (AMQP 1.0 defines 10; unset trailing ones may be left off). */
  openFieldCount(): number {
    return fieldCount((this.connection as unknown as { remote: { open?: unknown } }).remote.open);
  }

  /**
   * Opens a receiver on `address`; resolves with the server's ATTACH as sent: how many fields it carried (AMQP 1.0
   * defines 14), its source and its target.
   */
  attachFrame(address: string): Promise<{ fieldCount: number; source: unknown; target: unknown }> {
    const receiver = this.connection.open_receiver({ source: { address }, target: { address: 'client-1' } });
    return new Promise((resolve) => {
      receiver.once('receiver_open', () => {
        const attach = (
          receiver as unknown as { remote: { attach?: { source?: unknown; target?: unknown } } }
        ).remote.attach;
        resolve({ fieldCount: fieldCount(attach), source: attach?.source, target: attach?.target });
      });
    });
  }

  /** Opens a sender on `address`; resolves with the link error that closes it. */
  sendRefusal(address: string): Promise<string> {
    const sender = this.connection.open_sender({ target: { address } });
    return new Promise((resolve) => {
      sender.once('sender_error', (context: EventContext) => {
        const error = context.sender?.error as { condition?: string; description?: string } | undefined;
        resolve(`${error?.condition ?? '?'}: ${error?.description ?? ''}`);
      });
    });
  }

  close(): Promise<void> {
    if (this.connection.is_closed() || !this.connection.is_open()) return Promise.resolve();
    return new Promise((resolve) => {
      this.connection.once('connection_close', () => {
        resolve();
      });
      this.connection.once('disconnected', () => {
        resolve();
      });
      this.connection.close();
    });
  }
}

/** The number of fields a received performative carried on the wire (rhea keeps them as a list in `value`). */
function fieldCount(performative: unknown): number {
  return (performative as { value?: unknown[] } | undefined)?.value?.length ?? 0;
}
