/** The direct-method payloads every transport must carry both ways unchanged. */
export const METHOD_PAYLOADS: readonly (readonly [string, unknown])[] = [
  ['object', { k1: 'v1', nested: { n: 1 } }],
  ['array', [1, 'two', { three: 3 }]],
  ['string', 'foo'],
  ['number', -3.25],
  ['null', null],
  ['empty object', {}],
  ['empty string', ''],
];
