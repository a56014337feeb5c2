import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import type { JobClient } from 'azure-iothub';
import { errorResponse } from '../lib/http-replies';
import { getIotHubJobClient } from '../lib/iothub-jobs-client';
import { mapJobError, parseJobId, readJob } from '../lib/job-status';
import { hubHostName } from '../lib/twin-registry';

/** GET /api/jobs/{jobId}: an IoT Hub job's status and device statistics (404 JobNotFound for an unknown id). */
export function createGetJobHandler(getJobs: () => JobClient = getIotHubJobClient) {
  return async function getJob(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
    try {
      const jobId = parseJobId(request.params);
      const job = await readJob(getJobs(), jobId);
      context.log(`Job ${jobId}: ${job.status}`);
      return { status: 200, jsonBody: job };
    } catch (error) {
      const reply = mapJobError(error, hubHostName());
      const log = reply.status >= 500 ? context.error.bind(context) : context.warn.bind(context);
      log(`Job ${request.params.jobId ?? '?'} failed: ${reply.status} ${reply.code}: ${reply.message}`);
      return errorResponse(reply);
    }
  };
}

export const getJob = createGetJobHandler();

app.http('getJob', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'jobs/{jobId}',
  handler: getJob,
});
