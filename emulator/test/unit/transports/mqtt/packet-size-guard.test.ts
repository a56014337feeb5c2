import { PacketSizeGuard } from '../../../../transports/mqtt/packet-size-guard';

describe('MQTT packet size guard', () => {
  const limits = { beforeAuthentication: 100, afterAuthentication: 1000 };

  function feed(chunks: readonly Buffer[], authenticate = false) {
    const refused: number[] = [];
    const guard = new PacketSizeGuard(limits, (announced) => refused.push(announced));
    if (authenticate) guard.authenticated();
    const passed = chunks.map((chunk) => guard.inspect(chunk));
    return { passed, refused };
  }

  it('lets packets under the limit through, however the bytes are split', () => {
    const packets = Buffer.concat([
      Buffer.from([0x10, 50]),
      Buffer.alloc(50),
      Buffer.from([0xc0, 0]), // PINGREQ, no body
      Buffer.from([0x30, 0x64]),
      Buffer.alloc(100),
    ]);
    const oneByOne = [...packets].map((byte) => Buffer.from([byte]));
    expect(feed(oneByOne).refused).toEqual([]);
    expect(feed([packets]).refused).toEqual([]);
  });

  it('stops at a header announcing more than the limit, even split across chunks', () => {
    // 200 = 0xC8 0x01 in MQTT's variable-length encoding.
    expect(feed([Buffer.from([0x10, 0xc8]), Buffer.from([0x01])])).toEqual({
      passed: [true, false],
      refused: [200],
    });
  });

  it('raises the limit once the connection authenticates', () => {
    expect(feed([Buffer.from([0x30, 0xc8, 0x01])], true).refused).toEqual([]);
  });

  it('stops at a remaining length of more than four bytes', () => {
    expect(feed([Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80, 0x01])]).refused).toEqual([Infinity]);
  });
});
