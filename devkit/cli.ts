import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A command line or setting the user must fix; tools print its message alone and exit with code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** What parseCommandLine returns, named so that declaration files can state it. */
export type CommandLineValues<T extends Options> = ReturnType<
  typeof parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: false }>
>['values'];

/**
 * `node:util` parseArgs with the tools' conventions: strict, no positionals, and every mistake a UsageError that
 * points at --help.
 */
export function parseCommandLine<T extends Options>(
  argv: readonly string[],
  options: T,
): CommandLineValues<T> {
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\nRun with --help for the options.`);
  }
}

/** A port number, 0 meaning any free port; `fallback` when the value is absent or empty. */
export function readPort(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) {
    throw new UsageError(
      `${name} ${JSON.stringify(value)} is invalid: use a port number from 0 to 65535 (0 = any free port).`,
    );
  }
  return Number(value);
}

/** A whole number in [min, max]; `fallback` when the value is absent or empty. */
export function readInteger(
  name: string,
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined || value === '') return fallback;
  if (!/^\d{1,9}$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(
      `${name} ${JSON.stringify(value)} is invalid: use a whole number from ${min} to ${max}.`,
    );
  }
  return Number(value);
}

/** Values given by repeating a flag, by commas, or both. */
export function splitList(items: readonly string[]): string[] {
  return items
    .flatMap((item) => item.split(','))
    .map((item) => item.trim())
    .filter((item) => item !== '');
}
