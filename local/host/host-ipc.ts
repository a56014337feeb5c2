/** Messages between a parent and a forked local Functions host (local/host-cli.ts). */
export type HostChildMessage = { type: 'ready'; port: number } | { type: 'failed'; error: string };
export type HostParentMessage = { type: 'stop' };
/** Settings that win over local.settings.json, passed as JSON in the environment. */
export const HOST_OVERRIDES_ENV = 'LOCAL_FUNCTIONS_HOST_OVERRIDES_JSON';
