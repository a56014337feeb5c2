import { Message } from 'azure-iot-device';
import { cloudToDeviceLogLine, readCloudToDeviceMessage } from '../../../device-sim/c2d-messages';

function message(body: string | Buffer, fields: Partial<Pick<Message, 'messageId' | 'correlationId'>> = {}) {
  const built = new Message(body);
  Object.assign(built, fields);
  return built;
}

describe('cloud-to-device messages in the simulator', () => {
  it('reads ids, size, body and properties, and tells JSON from anything else', () => {
    const json = message('{"command":"reboot"}', { messageId: 'm-1', correlationId: 'c-1' });
    json.properties.add('priority', 'high');
    expect(readCloudToDeviceMessage(json)).toEqual({
      messageId: 'm-1',
      correlationId: 'c-1',
      contentType: undefined,
      properties: { priority: 'high' },
      bytes: 20,
      text: '{"command":"reboot"}',
      isJson: true,
    });
    expect(readCloudToDeviceMessage(message('reboot')).isJson).toBe(false);
    expect(readCloudToDeviceMessage(message('')).isJson).toBe(false);
    expect(readCloudToDeviceMessage(message(Buffer.from([0xff, 0xfe]))).isJson).toBe(false);
    expect(readCloudToDeviceMessage(message('null')).isJson).toBe(true);
  });

  it('logs one line: the body cut and escaped, properties as JSON, secrets redacted', () => {
    const secret = 'SharedAccessKey=c2VjcmV0c2VjcmV0';
    const received = message(`line1\nline2 ${secret} ${'x'.repeat(500)}`, { messageId: 'm-2' });
    received.properties.add('token', 'SharedAccessSignature sr=hub&sig=abc&se=1');
    const line = cloudToDeviceLogLine(readCloudToDeviceMessage(received), 'rejected');
    expect(line).toMatch(
      /^C2D message m-2 bytes=\d+ body="line1\\nline2 SharedAccessKey=<redacted> x+…" properties=/,
    );
    expect(line).toMatch(/: rejected \(body is not JSON\)$/);
    expect(line).not.toContain('c2VjcmV0c2VjcmV0');
    expect(line).not.toContain('sig=abc');
    expect(line).not.toContain('\n');
    expect(line.length).toBeLessThan(400);
    expect(cloudToDeviceLogLine(readCloudToDeviceMessage(message('{}')), 'completed')).toBe(
      'C2D message (no id) bytes=2 body="{}": completed',
    );
  });
});
