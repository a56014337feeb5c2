import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { TrackedServer } from '../../devkit/server-base';
import type { EventHubListener } from '../eventhub/eventhub-listener';
import { startEventHubTriggers, type EventHubFunctionSummary } from '../eventhub/eventhub-triggers';
import { installFunctionsCoreShim, type RegisteredFunction } from './functions-core-shim';
import { loadFunctionApp } from './function-loader';
import { httpRoutePrefix, readHostConfig } from './host-config';
import { handleHttpRequest, toHttpFunction } from '../http/http-triggers';
import { functionsModule } from './invocation';
import { isFunctionDisabled, loadLocalSettings } from './settings';
import { batchedLineWriter } from './line-writer';

export interface FunctionsHostOptions {
  readonly projectDir: string;
  readonly port?: number;
  readonly bindAddress?: string;
  /** Settings that win over local.settings.json and the environment (e.g. the emulator's actual ports). */
  readonly settingsOverrides?: Readonly<Record<string, string>>;
  readonly log?: (line: string) => void;
}

/** Trigger types this host runs; functions with others are reported and left out. */
const SUPPORTED_TRIGGERS = new Set(['httptrigger', 'eventhubtrigger']);

/**
 * A local stand-in for the Azure Functions host (development only): it loads the compiled app through package.json
 * `main`, receives the registrations through `@azure/functions-core`, serves HTTP triggers at
 * `/<routePrefix>/<route>` with route parameters, methods and responses as the host does (keys are not enforced,
 * like `func start`), and runs Event Hub triggers as the Event Hubs extension does (see eventhub-listener.ts).
 */
export class FunctionsHost {
  private stopping: Promise<void> | undefined;

  private constructor(
    private readonly server: TrackedServer,
    /** Every function the app registered, including disabled ones. */
    readonly functions: readonly RegisteredFunction[],
    /** The functions this host runs. */
    private readonly enabled: readonly RegisteredFunction[],
    readonly routePrefix: string,
    private readonly listeners: readonly EventHubListener[],
    /** Event Hub-triggered functions: what each listens to, or why it does not. */
    readonly eventHubFunctions: readonly EventHubFunctionSummary[],
    /** Where Event Hub checkpoints are kept (when there are Event Hub-triggered functions). */
    readonly checkpointDir: string | undefined,
  ) {}

  static async start(options: FunctionsHostOptions): Promise<FunctionsHost> {
    const log = options.log ?? batchedLineWriter();
    const settings = loadLocalSettings(options.projectDir);
    const values = { ...settings.values, ...options.settingsOverrides };
    // The host hands app settings to the worker as environment variables.
    for (const [key, value] of Object.entries(values)) process.env[key] = value;

    const registered = installFunctionsCoreShim();
    loadFunctionApp(options.projectDir);

    const hostConfig = readHostConfig(options.projectDir, values);
    const routePrefix = httpRoutePrefix(hostConfig);
    const enabled = registered.filter((fn) => {
      if (isFunctionDisabled(fn.name, values)) {
        log(`[host] Function ${fn.name} is disabled (app setting AzureWebJobs.${fn.name}.Disabled).`);
        return false;
      }
      const trigger = Object.values(fn.bindings).find((b) => b.type.toLowerCase().endsWith('trigger'));
      if (trigger && !SUPPORTED_TRIGGERS.has(trigger.type.toLowerCase())) {
        log(
          `[host] Function ${fn.name} is not started: the local host does not run ${trigger.type} functions.`,
        );
        return false;
      }
      return true;
    });
    const httpFunctions = enabled.flatMap((fn) => toHttpFunction(fn, values));
    const serve = async (request: IncomingMessage, response: ServerResponse) => {
      try {
        await handleHttpRequest(request, response, httpFunctions, routePrefix, functionsModule, log);
      } catch (error) {
        log(`[host] request failed: ${(error as Error).message}`);
        if (!response.headersSent) response.writeHead(500).end();
      }
    };
    const server = await new TrackedServer(
      createServer((request, response) => {
        void serve(request, response);
      }),
    ).listen(options.port ?? 7071, options.bindAddress ?? '127.0.0.1');
    // Listeners start once the port is ours, so that a port in use leaves nothing running behind.
    const eventHubs = startEventHubTriggers({
      functions: enabled,
      settings: values,
      hostConfig,
      projectDir: options.projectDir,
      log,
    });
    return new FunctionsHost(
      server,
      registered,
      enabled,
      routePrefix,
      eventHubs.listeners,
      eventHubs.summaries,
      eventHubs.checkpointDir,
    );
  }

  get port(): number {
    return this.server.port;
  }

  /** HTTP-triggered functions with their URL templates, for the banner. */
  httpRoutes(): { name: string; methods: string; url: string }[] {
    return this.enabled.flatMap((fn) => {
      const trigger = Object.values(fn.bindings).find((b) => b.type === 'httpTrigger');
      if (!trigger) return [];
      const methods = Array.isArray(trigger.methods) ? (trigger.methods as string[]).join(',') : 'ANY';
      const route = typeof trigger.route === 'string' ? trigger.route : fn.name;
      return [
        {
          name: fn.name,
          methods,
          url: `http://localhost:${this.port}/${this.routePrefix ? `${this.routePrefix}/` : ''}${route}`,
        },
      ];
    });
  }

  /** Stops the Event Hub listeners (letting running invocations finish) and the HTTP server. */
  stop(): Promise<void> {
    this.stopping ??= this.close();
    return this.stopping;
  }

  private async close(): Promise<void> {
    await Promise.all(this.listeners.map((listener) => listener.stop()));
    await this.server.close();
  }
}
