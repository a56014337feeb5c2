/**
 * How deeply a parsed JSON value nests arrays and objects (0 for a primitive, 1 for `[]` or `{"a": 1}`), computed
 * with an explicit stack: `JSON.stringify` and recursive walks overflow the call stack on a few thousand levels,
 * which an attacker sends in a few kilobytes. Counting stops at `limit + 1`, so the cost is bounded by the size of
 * the value, never by its depth.
 */
export function jsonDepth(value: unknown, limit: number): number {
  let deepest = 0;
  const stack: { readonly value: unknown; readonly depth: number }[] = [{ value, depth: 0 }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    if (typeof item.value !== 'object' || item.value === null) continue;
    const depth = item.depth + 1;
    if (depth > deepest) deepest = depth;
    if (deepest > limit) return deepest;
    const children: unknown[] = Array.isArray(item.value) ? item.value : Object.values(item.value);
    for (const child of children) stack.push({ value: child, depth });
  }
  return deepest;
}
