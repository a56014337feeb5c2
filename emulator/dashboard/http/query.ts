import { dashboardErrors } from '../errors';

/** Reads one query parameter (absent: undefined); throws a DashboardError naming it when it is malformed. */
export type ParamReader<T> = (value: string | undefined, name: string) => T;

/**
 * The query's parameters, each read by its reader; a parameter the route does not take, or one given twice, is
 * refused (as unknown body fields are).
 */
export function readQuery<R extends Record<string, ParamReader<unknown>>>(
  query: URLSearchParams,
  readers: R,
): { [K in keyof R]: ReturnType<R[K]> } {
  const accepted = Object.keys(readers);
  const seen = new Set<string>();
  for (const name of query.keys()) {
    if (!accepted.includes(name)) throw dashboardErrors.unknownField(name, accepted);
    if (seen.has(name)) throw dashboardErrors.invalid(name, `Give ${name} once.`);
    seen.add(name);
  }
  const result: Record<string, unknown> = {};
  for (const [name, reader] of Object.entries(readers))
    result[name] = reader(query.get(name) ?? undefined, name);
  return result as { [K in keyof R]: ReturnType<R[K]> };
}

/** A whole number in [min, max], `fallback` when absent. */
export function integerParam(min: number, max: number, fallback: number): ParamReader<number> {
  return (value, name) => {
    if (value === undefined) return fallback;
    if (!/^\d{1,9}$/.test(value) || Number(value) < min || Number(value) > max) {
      throw dashboardErrors.invalid(name, `${name} must be a whole number from ${min} to ${max}.`);
    }
    return Number(value);
  };
}

/** One of `choices`, the first when absent. */
export function choiceParam<T extends string>(choices: readonly [T, ...T[]]): ParamReader<T> {
  return (value, name) => {
    if (value === undefined) return choices[0];
    const choice = choices.find((candidate) => candidate === value);
    if (choice === undefined)
      throw dashboardErrors.invalid(name, `${name} must be one of ${choices.join(', ')}.`);
    return choice;
  };
}

/** Text of at most `maxLength` characters, empty when absent. */
export function textParam(maxLength: number): ParamReader<string> {
  return (value, name) => {
    if (value === undefined) return '';
    if (value.length > maxLength) {
      throw dashboardErrors.invalid(name, `${name} must be at most ${maxLength} characters.`);
    }
    return value;
  };
}
