import { EventEmitter } from 'node:events';
import type { TransportName } from './connections/device-connection';

/** A direct-method call the hub finished: answered (with the device's status) or failed (with the hub's error). */
export interface MethodCallRecord {
  readonly deviceId: string;
  /** Set for a call to a module of the device. */
  readonly moduleId?: string | undefined;
  readonly methodName: string;
  /** The device's status, when it answered. */
  readonly status: number | undefined;
  /** The hub's error name (DeviceNotOnline, GatewayTimeout, ...), when it did not. */
  readonly error: string | undefined;
  readonly durationMs: number;
}

/** A device the hub would not let in, and why. */
export interface ConnectionRefusal {
  readonly deviceId: string;
  readonly transport: TransportName;
  readonly reason: string;
}

interface HubActivityEvents {
  'method-call': [call: MethodCallRecord];
  'connection-refused': [refusal: ConnectionRefusal];
}

/**
 * What the hub did, as events for observers (the dashboard, diagnostics) that must not change how it does it:
 * finished method calls and refused connections. Connections, telemetry, twins and C2D have events of their own
 * on the parts that own them.
 */
export class HubActivity extends EventEmitter<HubActivityEvents> {}
