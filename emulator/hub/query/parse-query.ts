import { hubErrors, type HubError } from '../errors';
import { queryGrammar } from './grammar';
import type { OhmGrammar, OhmNode as Node } from './ohm';
import type {
  Collection,
  ComparisonOperator,
  Condition,
  Operand,
  ParsedQuery,
  PropertyPath,
  Scalar,
  SelectItem,
} from './query-ast';

/** IoT Hub's limit on a query's text. */
export const MAX_QUERY_LENGTH = 8192;
/** How deep parentheses may nest: far beyond any real query, and a bound on the parser's recursion. */
export const MAX_PARENTHESES_DEPTH = 32;

/** IoT Hub's words for a query it cannot read (400, as `SqlQuery` errors are answered). */
const SYNTAX_MESSAGE = "The server didn't understand your query. Check your query syntax and try again.";

export function querySyntaxError(detail: string): HubError {
  return hubErrors.badRequest(`${SYNTAX_MESSAGE} ${detail}`);
}

/**
 * Parses an IoT Hub query (grammar.ts) into a ParsedQuery; throws HubError 400 saying where it stops making sense.
 * A `WHERE`-only condition (what jobs take as `queryCondition`) goes through parseCondition.
 */
export function parseQuery(text: string): ParsedQuery {
  checkShape(text);
  const match = queryGrammar.match(text, 'Query');
  if (match.failed()) throw querySyntaxError(match.shortMessage);
  const query = toAst(semantics(match)) as ParsedQuery;
  checkSelect(query);
  return query;
}

/**
 * A job's `queryCondition`: what follows WHERE in `SELECT * FROM devices WHERE <condition>` (IoT Hub also takes
 * the whole query there; both forms are read).
 */
export function parseCondition(condition: string): Condition | undefined {
  const trimmed = condition.trim();
  if (/^select\s/i.test(trimmed)) {
    const query = parseQuery(trimmed);
    if (query.from !== 'devices' || query.select !== undefined || query.groupBy.length > 0) {
      throw querySyntaxError('A job runs over devices: use SELECT * FROM devices WHERE ...');
    }
    return query.where;
  }
  return parseQuery(`SELECT * FROM devices WHERE ${trimmed}`).where;
}

/** Length and nesting, checked before the matcher runs, so that it never recurses further than the bound. */
function checkShape(text: string): void {
  if (text.trim() === '') throw querySyntaxError('The query is empty.');
  if (text.length > MAX_QUERY_LENGTH) {
    throw querySyntaxError(
      `The query is ${text.length} characters; IoT Hub accepts at most ${MAX_QUERY_LENGTH}.`,
    );
  }
  let depth = 0;
  let quote: string | undefined;
  for (let index = 0; index < text.length; index++) {
    const char = text[index];
    if (quote !== undefined) {
      if (char === '\\') index++;
      else if (char === quote) quote = undefined;
    } else if (char === "'" || char === '"') quote = char;
    else if (char === '(' && ++depth > MAX_PARENTHESES_DEPTH) {
      throw querySyntaxError(`Parentheses nest deeper than ${MAX_PARENTHESES_DEPTH} levels.`);
    } else if (char === ')') depth--;
  }
}

/** Aggregation rules: COUNT() goes with GROUP BY properties only, and result names are unique. */
function checkSelect(query: ParsedQuery): void {
  const items = query.select ?? [];
  const names = new Set<string>();
  for (const item of items) {
    if (names.has(item.name))
      throw querySyntaxError(`The name ${JSON.stringify(item.name)} is selected twice.`);
    names.add(item.name);
  }
  const aggregated = items.some((item) => item.kind === 'count');
  if (query.groupBy.length > 0 && !aggregated) {
    throw querySyntaxError('GROUP BY needs an aggregate (COUNT()) in the SELECT clause.');
  }
  if (query.groupBy.length > 0 && query.select === undefined) {
    throw querySyntaxError('SELECT * cannot be grouped.');
  }
  if (aggregated) {
    const grouped = new Set(query.groupBy.map((path) => path.join('.')));
    for (const item of items) {
      if (item.kind === 'property' && !grouped.has(item.path.join('.'))) {
        throw querySyntaxError(`${item.path.join('.')} is neither aggregated nor in the GROUP BY clause.`);
      }
    }
  }
}

type OhmSemantics = ReturnType<OhmGrammar['createSemantics']>;
type OhmDict = ReturnType<OhmSemantics>;

/** The ohm semantics, built once: each action returns a piece of the AST. */
const semantics: OhmSemantics = queryGrammar.createSemantics().addOperation<unknown>('ast', {
  Query(select, from, where, groupBy) {
    const { items, top } = toAst(select) as { items: SelectItem[] | undefined; top: number | undefined };
    return {
      select: items,
      top,
      from: toAst(from) as Collection,
      where: optional(where) as Condition | undefined,
      groupBy: (optional(groupBy) as PropertyPath[] | undefined) ?? [],
    } satisfies ParsedQuery;
  },
  Select(_select, top, projection) {
    return { items: toAst(projection), top: optional(top) };
  },
  Top(_top, count) {
    return toAst(count);
  },
  Projection_all(_star) {
    return undefined;
  },
  Projection_items(list) {
    const items = list.asIteration().children.map((child) => toAst(child) as SelectItem);
    // Unnamed aggregates are named $1, $2... in order, as the document database underneath IoT Hub names them.
    let unnamed = 0;
    return items.map((item) => (item.name === '' ? { ...item, name: `$${++unnamed}` } : item));
  },
  SelectItem_count(_count, _open, _close, alias) {
    return { kind: 'count', name: (optional(alias) as string | undefined) ?? '' } satisfies SelectItem;
  },
  SelectItem_property(path, alias) {
    const segments = toAst(path) as PropertyPath;
    const name = (optional(alias) as string | undefined) ?? segments[segments.length - 1] ?? '';
    return { kind: 'property', path: segments, name } satisfies SelectItem;
  },
  Alias(_as, name) {
    return name.sourceString;
  },
  From(_from, collection) {
    return toAst(collection);
  },
  collection_modules(_devices, _dot, _modules) {
    return 'devices.modules' satisfies Collection;
  },
  collection_jobs(_devices, _dot, _jobs) {
    return 'devices.jobs' satisfies Collection;
  },
  collection_devices(_devices) {
    return 'devices' satisfies Collection;
  },
  Where(_where, condition) {
    return toAst(condition);
  },
  GroupBy(_group, _by, list) {
    return list.asIteration().children.map((child) => toAst(child));
  },
  Or(list) {
    const operands = list.asIteration().children.map((child) => toAst(child) as Condition);
    return operands.length === 1 ? operands[0] : ({ kind: 'or', operands } satisfies Condition);
  },
  And(list) {
    const operands = list.asIteration().children.map((child) => toAst(child) as Condition);
    return operands.length === 1 ? operands[0] : ({ kind: 'and', operands } satisfies Condition);
  },
  Unary(nots, primary) {
    let condition = toAst(primary) as Condition;
    for (let count = nots.children.length; count > 0; count--)
      condition = { kind: 'not', operand: condition };
    return condition;
  },
  Primary_parens(_open, condition, _close) {
    return toAst(condition);
  },
  Primary_defined(_isDefined, _open, path, _close) {
    return { kind: 'defined', path: toAst(path) as PropertyPath } satisfies Condition;
  },
  Primary_in(operand, _in, _open, list, _close) {
    return inCondition(operand, list, false);
  },
  Primary_nin(operand, _nin, _open, list, _close) {
    return inCondition(operand, list, true);
  },
  Primary_compare(left, operator, right) {
    const written = operator.sourceString;
    return {
      kind: 'compare',
      operator: (written === '<>' ? '!=' : written) as ComparisonOperator,
      left: toAst(left) as Operand,
      right: toAst(right) as Operand,
    } satisfies Condition;
  },
  Operand(child) {
    const value = toAst(child);
    return Array.isArray(value)
      ? ({ kind: 'path', path: value as PropertyPath } satisfies Operand)
      : ({ kind: 'literal', value: (value as { scalar: Scalar }).scalar } satisfies Operand);
  },
  Literal(child) {
    const word = child.sourceString.toLowerCase();
    if (word === 'true') return { scalar: true };
    if (word === 'false') return { scalar: false };
    if (word === 'null') return { scalar: null };
    return { scalar: toAst(child) as Scalar };
  },
  string_single(_open, _chars, _close) {
    return unescape(this.sourceString.slice(1, -1));
  },
  string_double(_open, _chars, _close) {
    return unescape(this.sourceString.slice(1, -1));
  },
  number(_sign, _digits, _dot, _fraction, _e, _expSign, _exponent) {
    const value = Number(this.sourceString);
    if (!Number.isFinite(value))
      throw querySyntaxError(`${this.sourceString.slice(0, 40)} is not a finite number.`);
    return value;
  },
  integer(_digits) {
    const value = Number(this.sourceString);
    if (!Number.isSafeInteger(value)) throw querySyntaxError('TOP takes a whole number.');
    return value;
  },
  path(_name, _dots, _segments) {
    return this.sourceString.split('.');
  },
});

function inCondition(operand: Node, list: Node, negated: boolean): Condition {
  const values = list.asIteration().children.map((child) => (toAst(child) as { scalar: Scalar }).scalar);
  return { kind: 'in', operand: toAst(operand) as Operand, values, negated };
}

/** Runs the `ast` operation on a node (ohm types operations loosely; each action above says what it returns). */
function toAst(node: Node | OhmDict): unknown {
  return (node as unknown as { ast: () => unknown }).ast();
}

/** An optional part (`Where?`): its value, or undefined when absent. */
function optional(node: Node): unknown {
  const child = node.children[0];
  return child === undefined ? undefined : toAst(child);
}

/** Backslash escapes in a string literal: `\'`, `\"`, `\\`, `\n`, `\t`; any other escaped character stands for itself. */
function unescape(body: string): string {
  return body.replace(/\\(.)/gs, (_whole, char: string) =>
    char === 'n' ? '\n' : char === 't' ? '\t' : char,
  );
}
