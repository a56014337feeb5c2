/** A port the emulator listens on, as the error message names it. */
export interface ListenTarget {
  readonly port: number;
  /** What listens there, e.g. `HTTPS (REST and WebSockets)`. */
  readonly what: string;
  /** The option that moves it, e.g. `--https-port`. */
  readonly flag: string;
}

/** A port the emulator could not listen on, with what to do about it. */
export class PortUnavailableError extends Error {
  constructor(
    message: string,
    readonly code: 'EACCES' | 'EADDRINUSE',
    readonly port: number,
  ) {
    super(message);
    this.name = 'PortUnavailableError';
  }
}

/**
 * Turns Node's listen error (`listen EACCES: permission denied 127.0.0.1:443`) into a message that says which
 * port, what it was for and how to get it; any other error is returned as it is.
 */
export function explainListenError(error: unknown, host: string, targets: readonly ListenTarget[]): unknown {
  const failure = error as NodeJS.ErrnoException & { port?: number };
  if (failure.syscall !== 'listen' || (failure.code !== 'EACCES' && failure.code !== 'EADDRINUSE'))
    return error;
  const port = failure.port ?? 0;
  const target = targets.find((candidate) => candidate.port === port);
  const where = `${host}:${port}${target ? ` (${target.what})` : ''}`;
  const elsewhere = target ? `${target.flag} <port>` : 'another port';
  if (failure.code === 'EADDRINUSE') {
    return new PortUnavailableError(
      `The emulator cannot listen on ${where}: the port is already in use by another program (or another ` +
        `emulator). Stop it, or run on another port (${elsewhere}).`,
      'EADDRINUSE',
      port,
    );
  }
  return new PortUnavailableError(
    `The emulator cannot listen on ${where}: permission denied. On Linux, ports below 1024 need a privilege. ` +
      'Grant it to node once with `sudo setcap cap_net_bind_service=+ep "$(command -v node)"`, or let every ' +
      `user bind from port ${port} up with \`sudo sysctl net.ipv4.ip_unprivileged_port_start=${port}\`, or run ` +
      `on other ports (without --standard-ports, or ${elsewhere}).`,
    'EACCES',
    port,
  );
}
