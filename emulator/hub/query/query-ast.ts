/**
 * A parsed IoT Hub query: what `SELECT ... FROM ... WHERE ... GROUP BY ...` asks for, checked and ready to run.
 * Plain data, so that the evaluator needs no parser and the parser no documents.
 */

/** A property path as written, split on dots: `properties.reported.temp` is `['properties', 'reported', 'temp']`. */
export type PropertyPath = readonly string[];

export type Scalar = string | number | boolean | null;

export type Operand =
  | { readonly kind: 'literal'; readonly value: Scalar }
  | { readonly kind: 'path'; readonly path: PropertyPath };

export type ComparisonOperator = '=' | '!=' | '<' | '<=' | '>' | '>=';

export type Condition =
  | { readonly kind: 'and'; readonly operands: readonly Condition[] }
  | { readonly kind: 'or'; readonly operands: readonly Condition[] }
  | { readonly kind: 'not'; readonly operand: Condition }
  | {
      readonly kind: 'compare';
      readonly operator: ComparisonOperator;
      readonly left: Operand;
      readonly right: Operand;
    }
  | {
      readonly kind: 'in';
      readonly operand: Operand;
      readonly values: readonly Scalar[];
      readonly negated: boolean;
    }
  | { readonly kind: 'defined'; readonly path: PropertyPath };

/** One item of a projection: a property (named after its last segment unless aliased) or `COUNT()`. */
export type SelectItem =
  | { readonly kind: 'property'; readonly path: PropertyPath; readonly name: string }
  | { readonly kind: 'count'; readonly name: string };

/** What IoT Hub queries run over: device twins, module twins, or the per-device results of jobs. */
export type Collection = 'devices' | 'devices.modules' | 'devices.jobs';

export interface ParsedQuery {
  /** `undefined` for `SELECT *`. */
  readonly select: readonly SelectItem[] | undefined;
  readonly top: number | undefined;
  readonly from: Collection;
  readonly where: Condition | undefined;
  readonly groupBy: readonly PropertyPath[];
}
