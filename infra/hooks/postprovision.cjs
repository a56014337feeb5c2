#!/usr/bin/env node
// azd postprovision hook (cross-platform, no build, no npm dependency).
// Registers the simulated device in the new IoT hub with the deploying user's Entra identity
// (IoT Hub Registry Contributor, granted by infra/security/role-assignments.bicep) and writes the
// device's connection string to a git-ignored file that `npm run device` reads.
// Idempotent: an existing device is reused and the file is rewritten with its current key.
//
// Reads (azd sets them from the outputs of infra/main.bicep):
//   IOTHUB_HOST_NAME           required, <hub>.azure-devices.net
//   AZURE_TENANT_ID            optional, tenant to ask the token from
//   IOTHUB_DEVICE_ID           optional, default sim-device-01
//   IOTHUB_DEVICE_ENV_FILE     optional, default <repo>/device.env
// Run again by hand: azd hooks run postprovision
/* global __dirname, fetch, setTimeout */
'use strict';

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const API_VERSION = '2021-04-12';
const IOTHUB_SCOPE = 'https://iothubs.azure.net/.default';
const DEFAULT_DEVICE_ID = 'sim-device-01';
const DEFAULT_ENV_FILE = path.resolve(__dirname, '..', '..', 'device.env');
const ENV_VAR = 'IOTHUB_DEVICE_CONNECTION_STRING';
const RERUN = 'Then run `azd hooks run postprovision` again.';

class HookError extends Error {}

/** Runs a CLI and returns its stdout; `.cmd` shims (az on Windows) need a shell. */
function runCli(command, args) {
  return execFileSync(command, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    shell: process.platform === 'win32',
    timeout: 60_000,
  });
}

/** Gets an Entra access token for IoT Hub from azd, else from the Azure CLI. */
function getTokenFromCli(env = process.env, run = runCli) {
  const tenant = env.AZURE_TENANT_ID ? ['--tenant-id', env.AZURE_TENANT_ID] : [];
  const failures = [];
  try {
    const out = JSON.parse(
      run('azd', ['auth', 'token', '--scope', IOTHUB_SCOPE, '--output', 'json', ...tenant]),
    );
    if (out && typeof out.token === 'string' && out.token) return out.token;
    failures.push('azd auth token: no token in its output');
  } catch (err) {
    failures.push(`azd auth token: ${firstLine(err)}`);
  }
  try {
    const azTenant = env.AZURE_TENANT_ID ? ['--tenant', env.AZURE_TENANT_ID] : [];
    const out = JSON.parse(
      run('az', ['account', 'get-access-token', '--scope', IOTHUB_SCOPE, '--output', 'json', ...azTenant]),
    );
    if (out && typeof out.accessToken === 'string' && out.accessToken) return out.accessToken;
    failures.push('az account get-access-token: no accessToken in its output');
  } catch (err) {
    failures.push(`az account get-access-token: ${firstLine(err)}`);
  }
  throw new HookError(
    `could not get an Entra token for IoT Hub (${failures.join('; ')}). ` +
      `Sign in with \`azd auth login\` (or \`az login\`). ${RERUN}`,
  );
}

function firstLine(err) {
  const text = String((err && (err.stderr || err.message)) || err).trim();
  return text.split(/\r?\n/)[0] || 'failed';
}

function deviceConnectionString(hostName, deviceId, key) {
  return `HostName=${hostName};DeviceId=${deviceId};SharedAccessKey=${key}`;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Returns the device identity (with its SAS keys), creating it when absent.
 * 401/403 are retried for a while: a fresh role assignment takes minutes to reach IoT Hub.
 */
async function ensureDevice({
  hostName,
  deviceId,
  token,
  fetchImpl = fetch,
  attempts = 12,
  retryDelayMs = 15_000,
  log = () => {},
}) {
  const url = `https://${hostName}/devices/${encodeURIComponent(deviceId)}?api-version=${API_VERSION}`;
  const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };

  for (let attempt = 1; ; attempt++) {
    let res = await request(fetchImpl, url, { method: 'GET', headers });
    if (res.status === 404) {
      log(`creating device ${deviceId} in ${hostName}`);
      // No authentication block: IoT Hub generates the symmetric keys.
      res = await request(fetchImpl, url, { method: 'PUT', headers, body: JSON.stringify({ deviceId }) });
      if (res.status === 409 || res.status === 412) {
        res = await request(fetchImpl, url, { method: 'GET', headers }); // created concurrently
      }
    }
    if (res.ok) return checkSas(await res.json(), deviceId);
    const body = await res.text().catch(() => '');
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
          `run \`azd auth login\` with that account. ${RERUN}${body ? ` Details: ${truncate(body)}` : ''}`,
      );
    }
    throw new HookError(
      `IoT Hub ${hostName} answered ${res.status} for device ${deviceId}. ${RERUN}` +
        (body ? ` Details: ${truncate(body)}` : ''),
    );
  }
}

async function request(fetchImpl, url, init) {
  try {
    return await fetchImpl(url, init);
  } catch (err) {
    const host = new URL(url).host;
    throw new HookError(
      `could not reach ${host} (${err && err.message ? err.message : err}). ` +
        `Check your network and that the hub exists (\`azd provision\`). ${RERUN}`,
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

function truncate(text, max = 300) {
  const oneLine = String(text).replace(/\s+/g, ' ').trim();
  return oneLine.length > max ? `${oneLine.slice(0, max)}...` : oneLine;
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

async function main(env = process.env, deps = {}) {
  const log = deps.log || ((msg) => console.log(`postprovision: ${msg}`));
  const hostName = (env.IOTHUB_HOST_NAME || '').trim();
  if (!hostName) {
    throw new HookError(
      'IOTHUB_HOST_NAME is not set. This hook runs after `azd provision` (or `azd up`) and reads the outputs ' +
        'of infra/main.bicep; run `azd provision` first, then `azd hooks run postprovision`.',
    );
  }
  const deviceId = (env.IOTHUB_DEVICE_ID || DEFAULT_DEVICE_ID).trim();
  const file = env.IOTHUB_DEVICE_ENV_FILE || DEFAULT_ENV_FILE;
  const token = deps.getToken ? await deps.getToken() : getTokenFromCli(env);
  const device = await ensureDevice({
    hostName,
    deviceId,
    token,
    fetchImpl: deps.fetch || fetch,
    attempts: deps.attempts,
    retryDelayMs: deps.retryDelayMs,
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

module.exports = {
  API_VERSION,
  DEFAULT_DEVICE_ID,
  DEFAULT_ENV_FILE,
  HookError,
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
