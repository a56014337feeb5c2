#!/usr/bin/env node
// azd preprovision hook (cross-platform, no build, no npm dependency): makes sure the subscription is registered
// for the resource providers that the deployment needs but ARM does not register by itself.
//
// ARM registers the providers of the resource types a template declares, but not those of "supporting resources
// that aren't in the template" (https://learn.microsoft.com/azure/azure-resource-manager/management/resource-providers-and-types).
// Flex Consumption runs on Microsoft.App (Azure Container Apps) underneath: "Ensure that the Microsoft.App Azure
// resource provider is enabled for your subscription" (https://learn.microsoft.com/azure/azure-functions/flex-consumption-plan#considerations).
// A fresh subscription often has it NotRegistered, and the deployment then fails with MissingSubscriptionRegistration.
//
// Reads: AZURE_SUBSCRIPTION_ID (azd sets it once a subscription is chosen), AZURE_TENANT_ID (optional).
// Registering needs the */register/action permission (Contributor or Owner on the subscription).
'use strict';

const azure = require('./azure.cjs');

const { HookError, details, request, sleep } = azure;

const PROVIDERS_API_VERSION = '2022-09-01';
const REQUIRED_PROVIDERS = ['Microsoft.App'];
const RERUN = 'Then run `azd provision` (or `azd up`) again.';

function manualHint(namespace) {
  return `az provider register --namespace ${namespace} --wait`;
}

/** Current registration state of a provider namespace, e.g. Registered, NotRegistered, Registering. */
async function registrationState({ subscriptionId, namespace, token, fetchImpl }) {
  const url = `${azure.ARM_ENDPOINT}/subscriptions/${subscriptionId}/providers/${namespace}?api-version=${PROVIDERS_API_VERSION}`;
  const res = await request(
    fetchImpl,
    url,
    { method: 'GET', headers: { Authorization: `Bearer ${token}` } },
    RERUN,
  );
  if (!res.ok) {
    throw new HookError(
      `could not read the registration of ${namespace} in subscription ${subscriptionId} (${res.status}). ${RERUN}` +
        (await details(res)),
    );
  }
  const body = await res.json();
  return String((body && body.registrationState) || 'Unknown');
}

/** Registers `namespace` when needed and waits until it is Registered. */
async function ensureRegistered({
  subscriptionId,
  namespace,
  token,
  fetchImpl,
  pollMs = 10_000,
  timeoutMs = 10 * 60_000,
  log = () => {},
}) {
  let state = await registrationState({ subscriptionId, namespace, token, fetchImpl });
  if (state === 'Registered') return 'already registered';
  if (state !== 'Registering') {
    log(`registering resource provider ${namespace} (was ${state})`);
    const url = `${azure.ARM_ENDPOINT}/subscriptions/${subscriptionId}/providers/${namespace}/register?api-version=${PROVIDERS_API_VERSION}`;
    const res = await request(
      fetchImpl,
      url,
      { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Length': '0' } },
      RERUN,
    );
    if (res.status === 401 || res.status === 403) {
      throw new HookError(
        `you may not register resource provider ${namespace} in subscription ${subscriptionId} (${res.status}); ` +
          `it needs Contributor or Owner on the subscription. Ask someone who has it to run \`${manualHint(namespace)}\`. ` +
          `${RERUN}${await details(res)}`,
      );
    }
    if (!res.ok) {
      throw new HookError(
        `registering resource provider ${namespace} failed (${res.status}). Run \`${manualHint(namespace)}\`. ` +
          `${RERUN}${await details(res)}`,
      );
    }
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    state = await registrationState({ subscriptionId, namespace, token, fetchImpl });
    if (state === 'Registered') return 'registered';
    if (Date.now() >= deadline) {
      throw new HookError(
        `resource provider ${namespace} is still ${state} after ${Math.round(timeoutMs / 60_000)} minutes. ` +
          `Check with \`az provider show --namespace ${namespace} --query registrationState\`. ${RERUN}`,
      );
    }
    log(`waiting for ${namespace} to be registered (now ${state})`);
    await sleep(pollMs);
  }
}

async function main(env = process.env, deps = {}) {
  const log = deps.log || ((msg) => console.log(`preprovision: ${msg}`));
  const subscriptionId = (env.AZURE_SUBSCRIPTION_ID || '').trim();
  if (!subscriptionId) {
    // azd prompts for the subscription after this hook on some first runs; provisioning then reports
    // MissingSubscriptionRegistration itself if a provider is missing (docs/deploy.md, troubleshooting).
    log(
      `AZURE_SUBSCRIPTION_ID is not set yet, so the resource providers were not checked. If provisioning fails with ` +
        `MissingSubscriptionRegistration, run ${REQUIRED_PROVIDERS.map((ns) => `\`${manualHint(ns)}\``).join(', ')}.`,
    );
    return { skipped: true, providers: {} };
  }
  const token = deps.getToken
    ? await deps.getToken(azure.ARM_SCOPE)
    : azure.getTokenFromCli(azure.ARM_SCOPE, env, azure.runCli, RERUN);
  const providers = {};
  for (const namespace of deps.providers || REQUIRED_PROVIDERS) {
    providers[namespace] = await ensureRegistered({
      subscriptionId,
      namespace,
      token,
      fetchImpl: deps.fetch,
      pollMs: deps.pollMs,
      timeoutMs: deps.timeoutMs,
      log,
    });
    log(`${namespace}: ${providers[namespace]}`);
  }
  return { skipped: false, providers };
}

module.exports = { PROVIDERS_API_VERSION, REQUIRED_PROVIDERS, ensureRegistered, main };

if (require.main === module) {
  main().catch((err) => {
    console.error(
      `preprovision: ${err instanceof HookError ? err.message : err && err.stack ? err.stack : err}`,
    );
    process.exitCode = 1;
  });
}
