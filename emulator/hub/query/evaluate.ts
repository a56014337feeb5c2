import type { ComparisonOperator, Condition, Operand, PropertyPath, Scalar } from './query-ast';

/** A JSON document a query reads: a twin, a module twin or a device job. */
export type QueryDocument = Readonly<Record<string, unknown>>;

/**
 * The value at `path`, or undefined when any segment is missing. Only own properties count: a document built from
 * client JSON may name `constructor` or `__proto__`, and a query must read those as data, never the prototype's.
 */
export function valueAt(document: QueryDocument, path: PropertyPath): unknown {
  let current: unknown = document;
  for (const segment of path) {
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return undefined;
    if (!Object.prototype.hasOwnProperty.call(current, segment)) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

/**
 * Whether a document matches a condition. Comparisons follow the document database IoT Hub's query language sits
 * on: a missing property, or values of different types, make a comparison undefined (neither true nor false), NOT
 * keeps it undefined, AND and OR combine three values; only documents for which the condition is true match.
 * Conditions nest only as deep as the parser allowed (parenthesised groups, bounded), so the walk's depth is too.
 */
export function matches(document: QueryDocument, condition: Condition | undefined): boolean {
  return condition === undefined || truth(document, condition) === true;
}

type Truth = boolean | undefined;

function truth(document: QueryDocument, condition: Condition): Truth {
  switch (condition.kind) {
    case 'and': {
      let result: Truth = true;
      for (const operand of condition.operands) {
        const value = truth(document, operand);
        if (value === false) return false;
        if (value === undefined) result = undefined;
      }
      return result;
    }
    case 'or': {
      let result: Truth = false;
      for (const operand of condition.operands) {
        const value = truth(document, operand);
        if (value === true) return true;
        if (value === undefined) result = undefined;
      }
      return result;
    }
    case 'not': {
      const value = truth(document, condition.operand);
      return value === undefined ? undefined : !value;
    }
    case 'defined':
      return valueAt(document, condition.path) !== undefined;
    case 'in': {
      const value = operandValue(document, condition.operand);
      if (!isScalar(value)) return undefined;
      const found = condition.values.some((candidate) => compare(value, '=', candidate) === true);
      return condition.negated ? !found : found;
    }
    case 'compare':
      return compare(
        operandValue(document, condition.left),
        condition.operator,
        operandValue(document, condition.right),
      );
  }
}

function operandValue(document: QueryDocument, operand: Operand): unknown {
  return operand.kind === 'literal' ? operand.value : valueAt(document, operand.path);
}

function isScalar(value: unknown): value is Scalar {
  return value === null || ['string', 'number', 'boolean'].includes(typeof value);
}

/** Scalars of one type compare (strings ordinally); anything else is undefined. */
function compare(left: unknown, operator: ComparisonOperator, right: unknown): Truth {
  if (!isScalar(left) || !isScalar(right)) return undefined;
  if (left === null || right === null) {
    if (operator === '=') return left === right;
    if (operator === '!=') return left !== right;
    return undefined;
  }
  if (typeof left !== typeof right) return undefined;
  switch (operator) {
    case '=':
      return left === right;
    case '!=':
      return left !== right;
    case '<':
      return typeof left === 'boolean' ? undefined : left < right;
    case '<=':
      return typeof left === 'boolean' ? undefined : left <= right;
    case '>':
      return typeof left === 'boolean' ? undefined : left > right;
    case '>=':
      return typeof left === 'boolean' ? undefined : left >= right;
  }
}
