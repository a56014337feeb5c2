#!/usr/bin/env node
// azd postprovision hook (cross-platform, no build, no npm dependency). Two independent steps:
//   1. Role clean-up: deletes the function's role assignment on the hub for the role NOT chosen
//      (IOTHUB_DIRECT_METHODS_ONLY_ROLE), so that switching roles leaves exactly one (ARM never deletes it).
//   2. Device: registers the simulated device in the new IoT hub with the deploying user's Entra identity
//      (IoT Hub Registry Contributor, granted by infra/security/role-assignments.bicep) and writes the
//      device's connection string to a git-ignored file that `npm run device` reads.
// Nothing here is needed by the function app: azure.yaml runs this hook with continueOnError, so `azd up` deploys
// the app even when a step fails (typically: the fresh role assignment has not reached IoT Hub yet). Every step is
// idempotent, so the hook resumes where it stopped: run `azd hooks run postprovision` again.
//
// Reads (azd sets them from the outputs of infra/main.bicep):
//   IOTHUB_HOST_NAME                            required, <hub>.azure-devices.net
//   AZURE_TENANT_ID                             optional, tenant to ask tokens from
//   IOTHUB_FUNCTION_UNUSED_ROLE_ASSIGNMENT_ID   optional, role assignment to delete (step 1)
//   IOTHUB_DEVICE_ID                            optional, default sim-device-01
//   IOTHUB_DEVICE_ENV_FILE                      optional, default <repo>/device.env
//   IOTHUB_ROLE_WAIT_SECONDS                    optional, how long to wait for the registry role, default 180
/* global __dirname */
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const azure = require('./azure.cjs');

const { HookError, details, request, sleep } = azure;

const API_VERSION = '2021-04-12';
const ROLE_ASSIGNMENTS_API_VERSION = '2022-04-01';
const DEFAULT_DEVICE_ID = 'sim-device-01';
const DEFAULT_ENV_FILE = path.resolve(__dirname, '..', '..', 'device.env');
const DEFAULT_ROLE_WAIT_SECONDS = 180;
const RETRY_DELAY_MS = 15_000;
const ENV_VAR = 'IOTHUB_DEVICE_CONNECTION_STRING';
const RERUN =
  'The app is deployed regardless; resume with `azd hooks run postprovision` ' +
  '(set IOTHUB_ROLE_WAIT_SECONDS=600 to wait longer for a fresh role assignment).';

/** Gets an Entra access token for IoT Hub from azd, else from the Azure CLI. */
function getTokenFromCli(env = process.env, run = azure.runCli) {
  return azure.getTokenFromCli(azure.IOTHUB_SCOPE, env, run, RERUN);
}

function deviceConnectionString(hostName, deviceId, key) {
  return `HostName=${hostName};DeviceId=${deviceId};SharedAccessKey=${key}`;
}

/** Attempts at 15 s intervals that fit in IOTHUB_ROLE_WAIT_SECONDS (at least one). */
function attemptsFor(env, retryDelayMs = RETRY_DELAY_MS) {
  const raw = (env.IOTHUB_ROLE_WAIT_SECONDS || '').trim();
  const seconds = raw === '' ? DEFAULT_ROLE_WAIT_SECONDS : Number(raw);
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new HookError(`IOTHUB_ROLE_WAIT_SECONDS must be a number of seconds, got "${raw}".`);
  }
  return 1 + Math.floor((seconds * 1000) / Math.max(retryDelayMs, 1));
}

/**
 * Returns the device identity (with its SAS keys), creating it when absent.
 * 401/403 are retried for a while: a fresh role assignment takes minutes to reach IoT Hub.
 */
async function ensureDevice({
  hostName,
  deviceId,
  token,
  fetchImpl,
  attempts = 1 + Math.floor((DEFAULT_ROLE_WAIT_SECONDS * 1000) / RETRY_DELAY_MS),
  retryDelayMs = RETRY_DELAY_MS,
  log = () => {},
}) {
  const url = `https://${hostName}/devices/${encodeURIComponent(deviceId)}?api-version=${API_VERSION}`;
  const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };

  for (let attempt = 1; ; attempt++) {
    let res = await request(fetchImpl, url, { method: 'GET', headers }, RERUN);
    if (res.status === 404) {
      log(`creating device ${deviceId} in ${hostName}`);
      // No authentication block: IoT Hub generates the symmetric keys.
      res = await request(
        fetchImpl,
        url,
        { method: 'PUT', headers, body: JSON.stringify({ deviceId }) },
        RERUN,
      );
      if (res.status === 409 || res.status === 412) {
        res = await request(fetchImpl, url, { method: 'GET', headers }, RERUN); // created concurrently
      }
    }
    if (res.ok) return checkSas(await res.json(), deviceId);
    if ((res.status === 401 || res.status === 403) && attempt < attempts) {
      log(
        `IoT Hub answered ${res.status}; the role assignment may still be propagating, retrying (${attempt}/${attempts - 1})`,
      );
      await sleep(retryDelayMs);
      continue;
    }
    if (res.status === 401 || res.status === 403) {
      throw new HookError(
        `IoT Hub ${hostName} refused the registry call (${res.status}). The signed-in identity needs ` +
          `"IoT Hub Registry Contributor" on the hub: provisioning grants it to AZURE_PRINCIPAL_ID, and it can take ` +
          `up to ~10 minutes to apply. If you signed in with another account than the one that provisioned, ` +
          `run \`azd auth login\` with that account. ${RERUN}${await details(res)}`,
      );
    }
    throw new HookError(
      `IoT Hub ${hostName} answered ${res.status} for device ${deviceId}. ${RERUN}${await details(res)}`,
    );
  }
}

function checkSas(device, deviceId) {
  const key =
    device && device.authentication && device.authentication.symmetricKey
      ? device.authentication.symmetricKey.primaryKey
      : undefined;
  if (!device || device.authentication?.type !== 'sas' || !key) {
    throw new HookError(
      `device ${deviceId} exists but does not use symmetric-key (SAS) authentication, which the simulator needs. ` +
        `Delete it in the portal, or set another id with \`azd env set IOTHUB_DEVICE_ID <id>\`. ${RERUN}`,
    );
  }
  return device;
}

/** Writes `IOTHUB_DEVICE_CONNECTION_STRING=...` to a file readable by the current user only. */
function writeDeviceEnv(file, connectionString) {
  const content =
    '# Written by infra/hooks/postprovision.cjs (azd). Contains a device key: keep it out of git.\n' +
    `${ENV_VAR}=${connectionString}\n`;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content, { mode: 0o600 });
  try {
    fs.chmodSync(file, 0o600); // mode only applies when the file is created
  } catch {
    // best effort (e.g. some Windows file systems)
  }
}

/**
 * Deletes a role assignment by resource id. Absent (204, 404) counts as done: the assignment of the role not chosen
 * usually never existed.
 */
async function deleteRoleAssignment({ assignmentId, token, fetchImpl, log = () => {} }) {
  const segments = assignmentId.split('/');
  if (
    segments.includes('..') ||
    segments.includes('.') ||
    !/^\/subscriptions\/[^/?#]+\/[^?#]+\/providers\/Microsoft\.Authorization\/roleAssignments\/[^/?#]+$/i.test(
      assignmentId,
    )
  ) {
    throw new HookError(
      `IOTHUB_FUNCTION_UNUSED_ROLE_ASSIGNMENT_ID is not a role assignment id: ${assignmentId}`,
    );
  }
  const url = `${azure.ARM_ENDPOINT}${assignmentId}?api-version=${ROLE_ASSIGNMENTS_API_VERSION}`;
  const res = await request(
    fetchImpl,
    url,
    { method: 'DELETE', headers: { Authorization: `Bearer ${token}` } },
    RERUN,
  );
  if (res.status === 200) {
    log("removed the function's role assignment on the hub for the role no longer chosen");
    return 'deleted';
  }
  if (res.status === 204 || res.status === 404) return 'absent';
  throw new HookError(
    `could not delete the unused role assignment ${assignmentId} (${res.status}); deleting role assignments needs ` +
      `Owner, User Access Administrator or Role Based Access Control Administrator. ${RERUN}${await details(res)}`,
  );
}

async function registerDevice(env, deps, log) {
  const hostName = (env.IOTHUB_HOST_NAME || '').trim();
  const deviceId = (env.IOTHUB_DEVICE_ID || DEFAULT_DEVICE_ID).trim();
  const file = env.IOTHUB_DEVICE_ENV_FILE || DEFAULT_ENV_FILE;
  const token = deps.getToken ? await deps.getToken(azure.IOTHUB_SCOPE) : getTokenFromCli(env);
  const retryDelayMs = deps.retryDelayMs ?? RETRY_DELAY_MS;
  const device = await ensureDevice({
    hostName,
    deviceId,
    token,
    fetchImpl: deps.fetch,
    attempts: deps.attempts ?? attemptsFor(env, retryDelayMs),
    retryDelayMs,
    log,
  });
  writeDeviceEnv(
    file,
    deviceConnectionString(hostName, deviceId, device.authentication.symmetricKey.primaryKey),
  );
  log(`device ${deviceId} is registered in ${hostName}; its connection string is in ${file} (git-ignored).`);
  log('start the simulator with `npm run device`.');
  return { deviceId, file };
}

async function cleanUpRoles(env, deps, log) {
  const assignmentId = (env.IOTHUB_FUNCTION_UNUSED_ROLE_ASSIGNMENT_ID || '').trim();
  if (!assignmentId) return 'skipped';
  const token = deps.getToken
    ? await deps.getToken(azure.ARM_SCOPE)
    : azure.getTokenFromCli(azure.ARM_SCOPE, env, azure.runCli, RERUN);
  return deleteRoleAssignment({ assignmentId, token, fetchImpl: deps.fetch, log });
}

async function main(env = process.env, deps = {}) {
  const log = deps.log || ((msg) => console.log(`postprovision: ${msg}`));
  if (!(env.IOTHUB_HOST_NAME || '').trim()) {
    throw new HookError(
      'IOTHUB_HOST_NAME is not set. This hook runs after `azd provision` (or `azd up`) and reads the outputs ' +
        'of infra/main.bicep; run `azd provision` first, then `azd hooks run postprovision`.',
    );
  }
  // The steps are independent: one failing does not skip the other; all failures are reported at the end.
  const failures = [];
  let roles;
  try {
    roles = await cleanUpRoles(env, deps, log);
  } catch (err) {
    failures.push(err);
  }
  let device;
  try {
    device = await registerDevice(env, deps, log);
  } catch (err) {
    failures.push(err);
  }
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) {
    throw new HookError(failures.map((err) => (err instanceof Error ? err.message : String(err))).join('\n'));
  }
  return { ...device, roles };
}

module.exports = {
  API_VERSION,
  DEFAULT_DEVICE_ID,
  DEFAULT_ENV_FILE,
  HookError,
  attemptsFor,
  deleteRoleAssignment,
  deviceConnectionString,
  ensureDevice,
  getTokenFromCli,
  main,
  writeDeviceEnv,
};

if (require.main === module) {
  main().catch((err) => {
    console.error(
      `postprovision: ${err instanceof HookError ? err.message : err && err.stack ? err.stack : err}`,
    );
    process.exitCode = 1;
  });
}
