#!/usr/bin/env node
import { parseCommandLine, readPort } from '../../devkit/cli';
import { FunctionsHost } from './functions-host';
import { HOST_OVERRIDES_ENV, type HostChildMessage, type HostParentMessage } from './host-ipc';

/** `node dist/local/host/host-cli.js [--port 7071] [--project-dir .]`: the local Functions host alone. */
async function main(): Promise<void> {
  const values = parseCommandLine(process.argv.slice(2), {
    port: { type: 'string' },
    'project-dir': { type: 'string' },
    help: { type: 'boolean' },
  });
  if (values.help) {
    console.log('Usage: node dist/local/host/host-cli.js [--port 7071] [--project-dir .]');
    return;
  }
  const port = readPort('--port', values.port, 7071);
  const overrides = process.env[HOST_OVERRIDES_ENV]
    ? (JSON.parse(process.env[HOST_OVERRIDES_ENV]) as Record<string, string>)
    : {};
  const host = await FunctionsHost.start({
    projectDir: values['project-dir'] ?? process.cwd(),
    port,
    settingsOverrides: overrides,
  });
  const stop = () => {
    void host.stop().then(() => {
      if (process.connected) process.disconnect();
      // The Functions host ends its worker process once stopped; connections the functions keep open between
      // invocations (the service client's AMQP connection and its token renewal timer) must not keep it alive.
      process.exit();
    });
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  if (process.send) {
    // The only message a parent sends is { type: 'stop' }.
    process.on('message', (_message: HostParentMessage) => {
      stop();
    });
    process.once('disconnect', stop);
    process.send({ type: 'ready', port: host.port } satisfies HostChildMessage);
  } else {
    for (const route of host.httpRoutes()) console.log(`${route.name}: [${route.methods}] ${route.url}`);
  }
}

main().catch((error: unknown) => {
  console.error(`The local Functions host could not start: ${(error as Error).message}`);
  process.send?.({ type: 'failed', error: (error as Error).message } satisfies HostChildMessage);
  process.exitCode = 1;
  if (process.connected) process.disconnect();
});
