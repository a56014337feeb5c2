/** A compiled Functions HTTP route template such as `devices/{deviceId}/methods/{methodName}`. */
export interface CompiledRoute {
  readonly template: string;
  match(pathSegments: readonly string[]): Record<string, string> | undefined;
}

type Part =
  | { kind: 'literal'; text: string }
  | { kind: 'param'; name: string; optional: boolean; catchAll: boolean; constraint?: string };

/**
 * Compiles a route template with the subset of ASP.NET routing the Functions host users rely on: literals
 * (case-insensitive), `{name}`, `{name?}`, `{name:int}`-style constraints (int, bool, alpha, guid) and `{*rest}`.
 */
export function compileRoute(template: string): CompiledRoute {
  const parts: Part[] = template
    .split('/')
    .filter((s) => s !== '')
    .map((segment) => {
      const param = /^\{(\*)?([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z]+)(?:\([^)]*\))?)?(\?)?\}$/.exec(segment);
      if (!param) {
        if (segment.includes('{'))
          throw new Error(`Unsupported route segment "${segment}" in "${template}".`);
        return { kind: 'literal', text: segment.toLowerCase() };
      }
      const [, star, name = '', constraint, optional] = param;
      return {
        kind: 'param',
        name,
        optional: optional === '?',
        catchAll: star === '*',
        ...(constraint ? { constraint } : {}),
      };
    });

  return {
    template,
    match(pathSegments) {
      const params: Record<string, string> = {};
      let index = 0;
      for (const part of parts) {
        const segment = pathSegments[index];
        if (part.kind === 'literal') {
          if (segment === undefined || safeDecode(segment)?.toLowerCase() !== part.text) return undefined;
          index++;
          continue;
        }
        if (part.catchAll) {
          const rest = pathSegments.slice(index).map(safeDecode);
          if (rest.some((s) => s === undefined)) return undefined;
          if (rest.length > 0) params[part.name] = rest.join('/');
          index = pathSegments.length;
          continue;
        }
        if (segment === undefined) {
          if (part.optional) continue;
          return undefined;
        }
        const value = safeDecode(segment);
        if (value === undefined || !satisfies(part.constraint, value)) return undefined;
        params[part.name] = value;
        index++;
      }
      return index === pathSegments.length ? params : undefined;
    },
  };
}

function satisfies(constraint: string | undefined, value: string): boolean {
  switch (constraint?.toLowerCase()) {
    case undefined:
      return true;
    case 'int':
    case 'long':
      return /^-?\d+$/.test(value);
    case 'bool':
      return /^(true|false)$/i.test(value);
    case 'alpha':
      return /^[A-Za-z]+$/.test(value);
    case 'guid':
      return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
    default:
      return true;
  }
}

function safeDecode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
