/** An AMQP error as it goes on the wire in a detach. */
export interface LinkRefusal {
  readonly condition: string;
  readonly description: string;
}

/** A receiver link reading one partition of one consumer group. */
export interface ConsumerLink {
  readonly name: string;
  /** `com.microsoft:epoch` (the clients' owner level); undefined for a non-exclusive receiver. */
  readonly epoch: number | undefined;
  disconnect(refusal: LinkRefusal): void;
}

/** Event Hubs' limit of non-exclusive receivers per partition and consumer group. */
export const MAX_RECEIVERS_PER_PARTITION = 5;

/**
 * Exclusive (epoch) receivers as Event Hubs does them, per consumer group and partition: an epoch receiver takes
 * over from receivers with a lower or equal epoch and from every non-epoch receiver; a lower epoch, or a
 * non-epoch receiver while an epoch receiver holds the partition, is refused. Both are `amqp:link:stolen`,
 * which the clients surface as ReceiverDisconnectedError / ConsumerDisconnected.
 */
export class ConsumerRegistry<L extends ConsumerLink = ConsumerLink> {
  private readonly links = new Map<string, Set<L>>();

  /** Returns the refusal for `link`, or registers it (disconnecting the links it takes over from). */
  admit(key: string, link: L): LinkRefusal | undefined {
    const current = this.links.get(key) ?? new Set<L>();
    const epochs = [...current].flatMap((other) => (other.epoch === undefined ? [] : [other.epoch]));
    const highest = epochs.length > 0 ? Math.max(...epochs) : undefined;
    if (link.epoch === undefined) {
      if (highest !== undefined) {
        return {
          condition: 'amqp:link:stolen',
          description: `A receiver with epoch ${highest} already holds this partition; receivers without an epoch are not allowed beside it.`,
        };
      }
      if (current.size >= MAX_RECEIVERS_PER_PARTITION) {
        return {
          condition: 'amqp:resource-limit-exceeded',
          description: `Exceeded the maximum number of allowed receivers per partition in a consumer group, which is ${MAX_RECEIVERS_PER_PARTITION}.`,
        };
      }
    } else if (highest !== undefined && highest > link.epoch) {
      return {
        condition: 'amqp:link:stolen',
        description: `A receiver with the higher epoch ${highest} already holds this partition; epoch ${link.epoch} is refused.`,
      };
    } else {
      for (const other of current) {
        current.delete(other);
        other.disconnect({
          condition: 'amqp:link:stolen',
          description: `New receiver '${link.name}' with higher epoch of '${link.epoch}' is created hence current receiver '${other.name}' with epoch '${other.epoch ?? 'none'}' is getting disconnected.`,
        });
      }
    }
    current.add(link);
    this.links.set(key, current);
    return undefined;
  }

  /** Every registered link: the endpoint's one list of its receivers. */
  all(): L[] {
    return [...this.links.values()].flatMap((links) => [...links]);
  }

  remove(key: string, link: L): void {
    const current = this.links.get(key);
    current?.delete(link);
    if (current?.size === 0) this.links.delete(key);
  }
}
