import { EventHubConsumerClient, earliestEventPosition } from '@azure/event-hubs';

// Steps the 443 scenarios share (test/helpers/*-scenario.ts, run in a network namespace): each records what
// happened instead of throwing, so that one failed step does not hide the others from the test's assertions.
// A module of its own: bundled with a scenario, another scenario's entry check would start its run too.

/** What happened in one step: its value, or the error's message. */
export type Outcome<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

export async function outcome<T>(step: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await step() };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  }
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`${what}: no answer within ${ms} ms`));
    }, ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/** Reads the Event Hub-compatible endpoint until every id arrived; returns id -> the device id the hub stamped. */
export async function readTelemetry(
  connectionString: string,
  messageIds: readonly string[],
): Promise<Record<string, string>> {
  const client = new EventHubConsumerClient('$Default', connectionString);
  const found: Record<string, string> = {};
  let subscription: { close: () => Promise<void> } | undefined;
  try {
    await withTimeout(
      new Promise<void>((resolve) => {
        subscription = client.subscribe(
          {
            processEvents: (events) => {
              for (const event of events) {
                const id = String(event.messageId);
                if (messageIds.includes(id)) {
                  found[id] = String(event.systemProperties?.['iothub-connection-device-id']);
                }
              }
              if (messageIds.every((id) => id in found)) resolve();
              return Promise.resolve();
            },
            processError: () => Promise.resolve(),
          },
          { startPosition: earliestEventPosition, maxWaitTimeInSeconds: 1 },
        );
      }),
      20_000,
      `telemetry (found ${Object.keys(found).length} of ${messageIds.length})`,
    );
  } finally {
    await subscription?.close();
    await client.close();
  }
  return found;
}
