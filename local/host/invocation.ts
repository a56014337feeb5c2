import * as functionsLibrary from '@azure/functions';
import type { BindingMetadata } from './functions-core-shim';

// The app and this host resolve the same @azure/functions (this repository's), so the classes made here are the
// app's own.
export type FunctionsModule = typeof functionsLibrary;
export const functionsModule: FunctionsModule = functionsLibrary;

export interface InvocationInit {
  readonly functionName: string;
  readonly invocationId: string;
  /** Where the function's context.log lines go (the host's log). */
  readonly log: (line: string) => void;
  readonly triggerMetadata?: Record<string, unknown>;
  /** The trigger binding and its name, for `context.options.trigger`. */
  readonly trigger?: { readonly name: string; readonly binding: BindingMetadata };
}

/**
 * An InvocationContext as the host's Node worker creates it: context.log and friends go to the host's log,
 * prefixed with the function's name (and the level, unless it is information).
 */
export function createInvocationContext(init: InvocationInit): functionsLibrary.InvocationContext {
  const name = init.functionName;
  return new functionsModule.InvocationContext({
    invocationId: init.invocationId,
    functionName: name,
    logHandler: (level, ...args) => {
      const text = args.map(formatLogArgument).join(' ');
      init.log(`[${name}]${level === 'information' ? '' : ` ${level}:`} ${text}`);
    },
    ...(init.triggerMetadata ? { triggerMetadata: init.triggerMetadata } : {}),
    ...(init.trigger
      ? {
          options: {
            trigger: { ...init.trigger.binding, name: init.trigger.name },
            extraInputs: [],
            extraOutputs: [],
          },
        }
      : {}),
  });
}

/** JSON.stringify as it behaves: undefined for undefined, functions and symbols, whatever its type says. */
const stringify: (value: unknown) => string | undefined = JSON.stringify;

function formatLogArgument(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Error) return value.message;
  try {
    return stringify(value) ?? String(value);
  } catch {
    return String(value); // circular structures, bigints
  }
}
