/** What the dashboard learned about a device since the emulator started, from the hub's events. */
export interface ActivityRecord {
  /** Last connect, disconnect, message or answered call; ms since the epoch. */
  lastActivity: number;
  telemetryCount: number;
}

/**
 * Last activity and message counts per device. The registry keeps no such thing (its last activity is the last
 * connection change), so the dashboard counts for itself; an entry exists only for a device that did something.
 */
export class DeviceActivity {
  private readonly records = new Map<string, ActivityRecord>();

  touch(deviceId: string, time: number): void {
    this.entry(deviceId, time).lastActivity = time;
  }

  message(deviceId: string, time: number): void {
    const record = this.entry(deviceId, time);
    record.lastActivity = time;
    record.telemetryCount++;
  }

  of(deviceId: string): Readonly<ActivityRecord> | undefined {
    return this.records.get(deviceId);
  }

  forget(deviceId: string): void {
    this.records.delete(deviceId);
  }

  private entry(deviceId: string, time: number): ActivityRecord {
    let record = this.records.get(deviceId);
    if (!record) {
      record = { lastActivity: time, telemetryCount: 0 };
      this.records.set(deviceId, record);
    }
    return record;
  }
}
