import type { Message } from 'azure-iot-device';
import { escapeForLog, jsonForLog, safePreview } from '../src/lib/log-text';

/** What the simulator reads from a cloud-to-device message, for its log line and its decision to settle. */
export interface ReceivedCloudToDeviceMessage {
  readonly messageId: string | undefined;
  readonly correlationId: string | undefined;
  readonly contentType: string | undefined;
  readonly properties: Readonly<Record<string, string>>;
  readonly bytes: number;
  /** The body as UTF-8 text. */
  readonly text: string;
  /** True when the body is valid JSON (an empty body is not). */
  readonly isJson: boolean;
}

/** How the simulator settled a message: complete, or reject (dead-lettered by the hub, no redelivery). */
export type CloudToDeviceOutcome = 'completed' | 'rejected';

/** Body characters shown in a log line: enough to recognise a command, never a whole 64 KB body. */
const BODY_PREVIEW_CHARS = 120;
const PROPERTIES_MAX_CHARS = 300;

/** Reads a message as the device SDK hands it over (any transport). Never throws, whatever the body holds. */
export function readCloudToDeviceMessage(message: Message): ReceivedCloudToDeviceMessage {
  const data = message.getBytes() as Buffer | undefined;
  const body = Buffer.isBuffer(data) ? data : Buffer.alloc(0);
  const text = body.toString('utf8');
  const properties: Record<string, string> = Object.create(null) as Record<string, string>;
  const count = message.properties.count();
  for (let index = 0; index < count; index++) {
    const item = message.properties.getItem(index);
    properties[item.key] = item.value;
  }
  return {
    messageId: optionalText(message.messageId),
    correlationId: optionalText(message.correlationId),
    contentType: optionalText(message.contentType),
    properties,
    bytes: body.length,
    text,
    isJson: isJsonText(text),
  };
}

/** One log line: ids, size, a short escaped preview of the body and the properties; secrets redacted. */
export function cloudToDeviceLogLine(
  received: ReceivedCloudToDeviceMessage,
  outcome: CloudToDeviceOutcome,
): string {
  const parts = [
    `C2D message ${received.messageId === undefined ? '(no id)' : escapeForLog(received.messageId.slice(0, 128))}`,
    ...(received.correlationId === undefined
      ? []
      : [`correlationId=${escapeForLog(received.correlationId.slice(0, 128))}`]),
    `bytes=${received.bytes}`,
    `body="${safePreview(received.text, BODY_PREVIEW_CHARS)}"`,
    ...(Object.keys(received.properties).length === 0
      ? []
      : [`properties=${jsonForLog(received.properties, PROPERTIES_MAX_CHARS)}`]),
  ];
  const settled = outcome === 'completed' ? 'completed' : 'rejected (body is not JSON)';
  return `${parts.join(' ')}: ${settled}`;
}

function isJsonText(text: string): boolean {
  if (text.trim() === '') return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function optionalText(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
