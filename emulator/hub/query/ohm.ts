import type * as Ohm from 'ohm-js' with { 'resolution-mode': 'import' };

/**
 * ohm-js, loaded through its CommonJS build (`dist/ohm.cjs`, what its `require` export condition names). The
 * package declares itself an ES module, so TypeScript's node16 resolution only lets a CommonJS file take its types
 * with `resolution-mode: import`; the code is the same either way.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const ohm = require('ohm-js') as typeof Ohm;
export type OhmNode = Ohm.Node;
export type OhmGrammar = Ohm.Grammar;
