import type { EventEmitter } from 'node:events';
import { Client } from 'azure-iot-device';
import { Amqp } from 'azure-iot-device-amqp';
import { answerUnknownMethods } from '../../../device-sim/unknown-methods';

const connectionString = `HostName=h.azure-devices.net;DeviceId=d;SharedAccessKey=${Buffer.alloc(32).toString('base64')}`;

/** A real AMQP device transport, as the SDK builds it for a client; nothing connects. */
function amqpTransport(): Amqp {
  const created: { transport?: Amqp } = {};
  class ObservedAmqp extends Amqp {
    constructor(...args: ConstructorParameters<typeof Amqp>) {
      super(...args);
      created.transport = this;
    }
  }
  Client.fromConnectionString(connectionString, ObservedAmqp);
  if (!created.transport) throw new Error('no transport');
  return created.transport;
}

describe('answerUnknownMethods over AMQP', () => {
  it("answers a method nobody registered on the AMQP transport's method client, through the transport", async () => {
    const transport = amqpTransport();
    const lines: string[] = [];
    let answered: () => void = () => undefined;
    const settled = new Promise<void>((resolve) => (answered = resolve));
    answerUnknownMethods(
      transport,
      () => ['SetTelemetryInterval'],
      (line) => {
        lines.push(line);
        if (line.startsWith('could not answer')) answered();
      },
    );
    // azure-iot-device-amqp's AmqpDeviceMethodClient emits each request read from the methods link like this.
    const methodClient = (transport as unknown as { _deviceMethodClient: EventEmitter })._deviceMethodClient;
    const handled = methodClient.emit('method_Reboot', {
      requestId: 'r-1',
      methods: { methodName: 'Reboot' },
    });
    expect(handled).toBe(true);
    await settled;
    // Unconnected, the SDK refuses to send the 404: proof that the answer went through its method links.
    expect(lines).toEqual([
      'Direct method Reboot is not defined here; answered 404',
      expect.stringMatching(/^could not answer the unknown method Reboot: Method Links were detached/),
    ]);
  });

  it('leaves registered methods to their handler', () => {
    const transport = amqpTransport();
    const lines: string[] = [];
    answerUnknownMethods(
      transport,
      () => ['SetTelemetryInterval'],
      (line) => lines.push(line),
    );
    const methodClient = (transport as unknown as { _deviceMethodClient: EventEmitter })._deviceMethodClient;
    const requests: unknown[] = [];
    methodClient.on('method_SetTelemetryInterval', (request) => requests.push(request));
    methodClient.emit('method_SetTelemetryInterval', {
      requestId: 'r-2',
      methods: { methodName: 'SetTelemetryInterval' },
    });
    expect(requests).toHaveLength(1);
    expect(lines).toEqual([]);
  });
});
