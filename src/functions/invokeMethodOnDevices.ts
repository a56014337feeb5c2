import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import type { Client, JobClient, Registry } from 'azure-iothub';
import { mapError } from '../lib/error-mapping';
import { invokeOnDevices } from '../lib/fan-out-direct';
import { planFanOut } from '../lib/fan-out-plan';
import { parseFanOutRequest } from '../lib/fan-out-request';
import { readFanOutSettings, type FanOutSettings } from '../lib/fan-out-settings';
import { resolveCondition } from '../lib/fan-out-targets';
import { errorResponse } from '../lib/http-replies';
import { getIotHubClient } from '../lib/iothub-client';
import { getIotHubJobClient } from '../lib/iothub-jobs-client';
import { scheduleMethodJob } from '../lib/job-schedule';
import { getTwinRegistry, hubHostName } from '../lib/twin-registry';

export interface FanOutDependencies {
  readonly client: () => Client;
  readonly registry: () => Registry;
  readonly jobs: () => JobClient;
  /** Throws SettingsError when a limit is malformed. */
  readonly settings: () => FanOutSettings;
}

/**
 * The limits are read once, when the app loads, so a malformed one shows in the host's log at startup; every call
 * then answers 500 ConfigurationError naming the setting rather than running with a guessed limit.
 */
const startupSettings = (() => {
  try {
    return { settings: readFanOutSettings() };
  } catch (error) {
    console.error(`invokeMethodOnDevices: ${(error as Error).message}`);
    return { error };
  }
})();

const DEFAULTS: FanOutDependencies = {
  client: getIotHubClient,
  registry: getTwinRegistry,
  jobs: getIotHubJobClient,
  settings: () => {
    if (startupSettings.settings) return startupSettings.settings;
    throw startupSettings.error;
  },
};

/**
 * POST /api/methods/{methodName}: invokes a direct method on many devices, chosen by `deviceIds` or a `query`
 * condition. Few devices: directly, answering 200 with a result per device. Many (or `"mode": "job"`): an IoT Hub
 * job, answering 202 with its id and where to poll its status.
 */
export function createInvokeMethodOnDevicesHandler(deps: FanOutDependencies = DEFAULTS) {
  return async function invokeMethodOnDevices(
    request: HttpRequest,
    context: InvocationContext,
  ): Promise<HttpResponseInit> {
    const started = performance.now();
    const methodName = request.params.methodName ?? '?';
    try {
      const settings = deps.settings();
      const fanOut = parseFanOutRequest(request.params, await request.text(), settings);
      const plan = await planFanOut(fanOut, settings, (condition, limit) =>
        resolveCondition(deps.registry(), condition, limit),
      );
      if (plan.kind === 'direct') {
        const outcome = await invokeOnDevices(
          deps.client(),
          plan.deviceIds,
          fanOut.invocation,
          settings.concurrency,
          hubHostName(),
        );
        context.log(
          `Fan-out ${methodName} on ${outcome.deviceCount} devices: ${outcome.answeredCount} answered, ` +
            `${outcome.failedCount} failed, in ${Math.round(performance.now() - started)} ms`,
        );
        return { status: 200, jsonBody: { methodName: fanOut.invocation.methodName, ...outcome } };
      }
      const job = await scheduleMethodJob(deps.jobs(), plan.condition, fanOut.invocation);
      const statusUrl = new URL(`/api/jobs/${encodeURIComponent(job.jobId)}`, request.url).toString();
      context.log(`Fan-out ${methodName} scheduled as job ${job.jobId} (${job.status})`);
      return {
        status: 202,
        jsonBody: { jobId: job.jobId, status: job.status, statusUrl },
        headers: { Location: statusUrl },
      };
    } catch (error) {
      const reply = mapError(error, hubHostName());
      const log = reply.status >= 500 ? context.error.bind(context) : context.warn.bind(context);
      log(`Fan-out ${methodName} failed: ${reply.status} ${reply.code}: ${reply.message}`);
      return errorResponse(reply);
    }
  };
}

export const invokeMethodOnDevices = createInvokeMethodOnDevicesHandler();

app.http('invokeMethodOnDevices', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'methods/{methodName}',
  handler: invokeMethodOnDevices,
});
