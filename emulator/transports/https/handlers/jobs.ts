import { hubErrors } from '../../../hub/errors';
import { JOB_STATUSES, JOB_TYPES, type JobStatus, type JobType } from '../../../hub/jobs/job-types';
import { continuationToken, readContinuationToken } from '../../../hub/query/continuation';
import { readPageSize } from '../../../hub/query/page-size';
import { parseRequestUrl } from '../request';
import type { HandlerContext, Reply, Route } from '../route-table';
import { headerOf, pageReply } from './query';

function jobReply(body: unknown): Reply {
  return { status: 200, body };
}

/** `GET /jobs/v2/query?jobType=&jobStatus=`: jobs, oldest first, paged like queries. */
function queryJobs(context: HandlerContext): Promise<Reply> {
  const url = parseRequestUrl(context.request.url);
  const type = oneOf<JobType>(url.searchParams.get('jobType'), JOB_TYPES, 'jobType');
  const status = oneOf<JobStatus>(url.searchParams.get('jobStatus'), JOB_STATUSES, 'jobStatus');
  const jobs = context.hub.jobs.list(type, status);
  const pageSize = readPageSize(headerOf(context, 'x-ms-max-item-count'));
  const key = `jobs?${type ?? ''}&${status ?? ''}`;
  const offset = readContinuationToken(key, headerOf(context, 'x-ms-continuation'));
  const items = jobs.slice(offset, offset + pageSize);
  const next = offset + items.length;
  return Promise.resolve(
    pageReply(items, next < jobs.length ? continuationToken(key, next) : undefined, 'JobResponse'),
  );
}

function oneOf<T extends string>(value: string | null, allowed: readonly T[], name: string): T | undefined {
  if (value === null || value === '') return undefined;
  if (!(allowed as readonly string[]).includes(value)) {
    throw hubErrors.argumentInvalid(`${name} must be one of ${allowed.join(', ')}.`);
  }
  return value as T;
}

/**
 * Jobs v2. Scheduling and cancelling take ServiceConnect (they invoke methods and write twins, as a service does);
 * reading also takes RegistryRead. Errors in the registry's shape (`ErrorCode:JobNotFound;...`).
 */
export const jobRoutes: readonly Route[] = [
  {
    method: 'GET',
    path: 'jobs/v2/query',
    right: ['ServiceConnect', 'RegistryRead'],
    shape: 'error-code-prefix',
    handle: queryJobs,
  },
  {
    method: 'PUT',
    path: 'jobs/v2/{jobId}',
    right: 'ServiceConnect',
    shape: 'error-code-prefix',
    handle: ({ hub, params, body }) => Promise.resolve(jobReply(hub.jobs.create(params.jobId ?? '', body))),
  },
  {
    method: 'GET',
    path: 'jobs/v2/{jobId}',
    right: ['ServiceConnect', 'RegistryRead'],
    shape: 'error-code-prefix',
    handle: ({ hub, params }) => Promise.resolve(jobReply(hub.jobs.get(params.jobId ?? ''))),
  },
  {
    method: 'POST',
    path: 'jobs/v2/{jobId}/cancel',
    right: 'ServiceConnect',
    shape: 'error-code-prefix',
    handle: ({ hub, params }) => Promise.resolve(jobReply(hub.jobs.cancel(params.jobId ?? ''))),
  },
];
