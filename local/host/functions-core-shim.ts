import Module from 'node:module';

/** What `@azure/functions` registers for each function: its metadata and its handler. */
export interface RegisteredFunction {
  readonly name: string;
  readonly bindings: Readonly<Record<string, BindingMetadata>>;
  readonly handler: (...args: unknown[]) => unknown;
  /** The function's `retry` option, as @azure/functions passes it on (the local host does not apply it). */
  readonly retryOptions?: unknown;
}

export interface BindingMetadata {
  readonly type: string;
  readonly direction?: string;
  readonly [key: string]: unknown;
}

interface CoreFunctionMetadata {
  name: string;
  bindings: Record<string, BindingMetadata>;
  retryOptions?: unknown;
}

const CORE_MODULE = '@azure/functions-core';
const SHIM_ID = '/__local_functions_host__/@azure/functions-core.js';

/**
 * Provides `@azure/functions-core`, the module the Functions host's Node worker gives the `@azure/functions`
 * library, so that `app.http(...)` and `app.eventHub(...)` calls register here with their real metadata.
 * Returns the list that fills as the app's files are loaded.
 */
export function installFunctionsCoreShim(): RegisteredFunction[] {
  const registered: RegisteredFunction[] = [];
  const shim = {
    version: '3.10.1',
    hostVersion: '4.1000.0',
    setProgrammingModel: () => undefined,
    getProgrammingModel: () => undefined,
    registerHook: () => ({ dispose: () => undefined }),
    log: (level: string, category: string, message: string) => {
      if (level === 'error' || level === 'warning') console.warn(`[host] ${category}: ${message}`);
    },
    registerFunction: (metadata: CoreFunctionMetadata, handler: (...args: unknown[]) => unknown) => {
      if (registered.some((f) => f.name === metadata.name)) {
        throw new Error(`A function named "${metadata.name}" is already registered.`);
      }
      registered.push({
        name: metadata.name,
        bindings: metadata.bindings,
        handler,
        ...(metadata.retryOptions ? { retryOptions: metadata.retryOptions } : {}),
      });
      return {
        dispose: () =>
          registered.splice(
            registered.findIndex((f) => f.name === metadata.name),
            1,
          ),
      };
    },
  };
  const moduleInternals = Module as unknown as {
    _resolveFilename: (request: string, ...rest: unknown[]) => string;
  };
  const original = moduleInternals._resolveFilename;
  moduleInternals._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]) {
    return request === CORE_MODULE ? SHIM_ID : original.call(this, request, ...rest);
  };
  const cached = new Module(SHIM_ID);
  cached.filename = SHIM_ID;
  cached.loaded = true;
  cached.exports = shim;
  require.cache[SHIM_ID] = cached;
  return registered;
}
