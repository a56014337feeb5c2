import {
  ConsumerRegistry,
  MAX_RECEIVERS_PER_PARTITION,
  type ConsumerLink,
  type LinkRefusal,
} from '../../../../transports/amqp/consumer-registry';

interface FakeLink extends ConsumerLink {
  readonly disconnects: LinkRefusal[];
}

let counter = 0;
function link(epoch?: number, onDisconnect?: (self: FakeLink) => void): FakeLink {
  counter += 1;
  const fake: FakeLink = {
    name: `receiver-${counter}`,
    epoch,
    disconnects: [],
    disconnect(refusal) {
      fake.disconnects.push(refusal);
      onDisconnect?.(fake);
    },
  };
  return fake;
}

const KEY = '$default/0';

describe('ConsumerRegistry', () => {
  it(`admits up to ${MAX_RECEIVERS_PER_PARTITION} receivers without an epoch, and refuses the next`, () => {
    const registry = new ConsumerRegistry();
    const links = Array.from({ length: MAX_RECEIVERS_PER_PARTITION }, () => link());
    for (const each of links) expect(registry.admit(KEY, each)).toBeUndefined();
    const refused = registry.admit(KEY, link());
    expect(refused?.condition).toBe('amqp:resource-limit-exceeded');
    expect(refused?.description).toContain(String(MAX_RECEIVERS_PER_PARTITION));
    for (const each of links) expect(each.disconnects).toEqual([]);
  });

  it('frees a place when a receiver is removed', () => {
    const registry = new ConsumerRegistry();
    const links = Array.from({ length: MAX_RECEIVERS_PER_PARTITION }, () => link());
    for (const each of links) registry.admit(KEY, each);
    registry.remove(KEY, links[2] ?? link());
    expect(registry.admit(KEY, link())).toBeUndefined();
    expect(registry.admit(KEY, link())?.condition).toBe('amqp:resource-limit-exceeded');
  });

  it('counts each consumer group and partition apart', () => {
    const registry = new ConsumerRegistry();
    for (let i = 0; i < MAX_RECEIVERS_PER_PARTITION; i++) registry.admit(KEY, link());
    expect(registry.admit('$default/1', link())).toBeUndefined();
    expect(registry.admit('other/0', link(5))).toBeUndefined();
    expect(registry.admit('$default/1', link(1))).toBeUndefined();
    expect(registry.admit(KEY, link())?.condition).toBe('amqp:resource-limit-exceeded');
  });

  it('lets an epoch receiver take over from every receiver without one', () => {
    const registry = new ConsumerRegistry();
    const plain = [link(), link(), link()];
    for (const each of plain) registry.admit(KEY, each);
    const owner = link(0); // epoch 0 is an epoch too
    expect(registry.admit(KEY, owner)).toBeUndefined();
    for (const each of plain) {
      expect(each.disconnects).toHaveLength(1);
      expect(each.disconnects[0]?.condition).toBe('amqp:link:stolen');
      expect(each.disconnects[0]?.description).toContain(each.name);
    }
    expect(owner.disconnects).toEqual([]);
  });

  it('refuses a receiver without an epoch beside an epoch receiver', () => {
    const registry = new ConsumerRegistry();
    const owner = link(0);
    registry.admit(KEY, owner);
    const refused = registry.admit(KEY, link());
    expect(refused?.condition).toBe('amqp:link:stolen');
    expect(refused?.description).toContain('epoch 0');
    expect(owner.disconnects).toEqual([]);
  });

  it('lets a higher epoch take over, and an equal one', () => {
    const registry = new ConsumerRegistry();
    const first = link(2);
    registry.admit(KEY, first);
    const equal = link(2);
    expect(registry.admit(KEY, equal)).toBeUndefined();
    expect(first.disconnects.map((refusal) => refusal.condition)).toEqual(['amqp:link:stolen']);
    const higher = link(3);
    expect(registry.admit(KEY, higher)).toBeUndefined();
    expect(equal.disconnects.map((refusal) => refusal.condition)).toEqual(['amqp:link:stolen']);
    expect(first.disconnects).toHaveLength(1); // already gone: not disconnected twice
    expect(higher.disconnects).toEqual([]);
  });

  it('refuses a lower epoch and leaves the holder in place', () => {
    const registry = new ConsumerRegistry();
    const owner = link(5);
    registry.admit(KEY, owner);
    const refused = registry.admit(KEY, link(4));
    expect(refused?.condition).toBe('amqp:link:stolen');
    expect(refused?.description).toContain('5');
    expect(owner.disconnects).toEqual([]);
    // Still the holder: a lower epoch is refused again, and the equal one takes over.
    expect(registry.admit(KEY, link(1))?.condition).toBe('amqp:link:stolen');
    expect(registry.admit(KEY, link(5))).toBeUndefined();
    expect(owner.disconnects).toHaveLength(1);
  });

  it('frees the partition when the epoch holder is removed', () => {
    const registry = new ConsumerRegistry();
    const owner = link(7);
    registry.admit(KEY, owner);
    registry.remove(KEY, owner);
    expect(registry.admit(KEY, link())).toBeUndefined();
    expect(registry.admit(KEY, link(1))).toBeUndefined();
  });

  it('forgets the receivers it disconnected, even when they remove themselves while being disconnected', () => {
    const registry = new ConsumerRegistry();
    const plain = [
      link(undefined, (self) => {
        registry.remove(KEY, self);
      }),
      link(),
    ];
    for (const each of plain) registry.admit(KEY, each);
    const owner = link(1);
    expect(registry.admit(KEY, owner)).toBeUndefined();
    // The new owner is registered: a lower epoch is refused...
    expect(registry.admit(KEY, link(0))?.condition).toBe('amqp:link:stolen');
    // ...and once it leaves, nothing is left behind.
    registry.remove(KEY, owner);
    for (let i = 0; i < MAX_RECEIVERS_PER_PARTITION; i++) expect(registry.admit(KEY, link())).toBeUndefined();
  });

  it('ignores the removal of a receiver it does not hold', () => {
    const registry = new ConsumerRegistry();
    expect(() => {
      registry.remove(KEY, link());
    }).not.toThrow();
    const held = link(1);
    registry.admit(KEY, held);
    registry.remove(KEY, link(1));
    registry.remove('other/0', held);
    expect(registry.admit(KEY, link(0))?.condition).toBe('amqp:link:stolen');
  });
});
