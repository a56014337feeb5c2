// Shared by the azd hooks (no build, no npm dependency): Entra tokens from the signed-in azd (or Azure CLI)
// account, and small helpers for calling Azure REST APIs with fetch.
/* global fetch, setTimeout */
'use strict';

const { execFileSync } = require('node:child_process');

const ARM_ENDPOINT = 'https://management.azure.com';
const ARM_SCOPE = 'https://management.azure.com/.default';
const IOTHUB_SCOPE = 'https://iothubs.azure.net/.default';

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

/** Gets an Entra access token for `scope` from azd, else from the Azure CLI. */
function getTokenFromCli(scope, env = process.env, run = runCli, rerun = '') {
  const tenant = env.AZURE_TENANT_ID ? ['--tenant-id', env.AZURE_TENANT_ID] : [];
  const failures = [];
  try {
    const out = JSON.parse(run('azd', ['auth', 'token', '--scope', scope, '--output', 'json', ...tenant]));
    if (out && typeof out.token === 'string' && out.token) return out.token;
    failures.push('azd auth token: no token in its output');
  } catch (err) {
    failures.push(`azd auth token: ${firstLine(err)}`);
  }
  try {
    const azTenant = env.AZURE_TENANT_ID ? ['--tenant', env.AZURE_TENANT_ID] : [];
    const out = JSON.parse(
      run('az', ['account', 'get-access-token', '--scope', scope, '--output', 'json', ...azTenant]),
    );
    if (out && typeof out.accessToken === 'string' && out.accessToken) return out.accessToken;
    failures.push('az account get-access-token: no accessToken in its output');
  } catch (err) {
    failures.push(`az account get-access-token: ${firstLine(err)}`);
  }
  throw new HookError(
    `could not get an Entra token for ${scope} (${failures.join('; ')}). ` +
      `Sign in with \`azd auth login\` (or \`az login\`).${rerun ? ` ${rerun}` : ''}`,
  );
}

function firstLine(err) {
  const text = String((err && (err.stderr || err.message)) || err).trim();
  return text.split(/\r?\n/)[0] || 'failed';
}

function truncate(text, max = 300) {
  const oneLine = String(text).replace(/\s+/g, ' ').trim();
  return oneLine.length > max ? `${oneLine.slice(0, max)}...` : oneLine;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** fetch, with network failures turned into a HookError that names the host. */
async function request(fetchImpl, url, init, rerun = '') {
  try {
    return await (fetchImpl || fetch)(url, init);
  } catch (err) {
    const host = new URL(url).host;
    throw new HookError(
      `could not reach ${host} (${err && err.message ? err.message : err}). Check your network.${rerun ? ` ${rerun}` : ''}`,
    );
  }
}

/** A response body as one short line, for error messages. */
async function details(res) {
  const body = await res.text().catch(() => '');
  return body ? ` Details: ${truncate(body)}` : '';
}

module.exports = {
  ARM_ENDPOINT,
  ARM_SCOPE,
  IOTHUB_SCOPE,
  HookError,
  details,
  firstLine,
  getTokenFromCli,
  request,
  runCli,
  sleep,
  truncate,
};
