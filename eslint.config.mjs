import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

/**
 * Which folders may import which (docs/architecture.md). Deployed code (src/) imports nothing dev-only; the hub core
 * knows no transport; the transports do not import each other; devkit (dev-only plumbing) depends on nothing of the
 * project. Patterns match the import path as written (relative).
 */
const DEV_ONLY = ['emulator', 'local', 'device-sim', 'bench', 'test', 'devkit', 'conformance', 'infra'];
const TRANSPORTS = ['mqtt', 'https', 'amqp'];
const forbid = (files, folders, why) => ({
  files,
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [{ group: folders.flatMap((folder) => [`**/${folder}/**`, `**/${folder}`]), message: why }],
      },
    ],
  },
});
// In a flat config the last matching entry sets a rule: general entries first, specific ones after (repeating
// what the general one forbids).
const OUTSIDE_EMULATOR = ['local', 'device-sim', 'bench', 'test'];
const boundaries = [
  forbid(['src/**/*.ts'], DEV_ONLY, 'deployed code (src/) must not import development-only code.'),
  forbid(
    ['emulator/**/*.ts'],
    OUTSIDE_EMULATOR,
    "the emulator stands alone: it must not import the app's local tools, simulator, benches or tests.",
  ),
  forbid(
    ['emulator/hub/**/*.ts'],
    ['transports', ...OUTSIDE_EMULATOR],
    'the hub core knows no transport: transports call the hub, not the other way round.',
  ),
  ...TRANSPORTS.map((transport) =>
    forbid(
      [`emulator/transports/${transport}/**/*.ts`],
      [...TRANSPORTS.filter((other) => other !== transport), ...OUTSIDE_EMULATOR],
      'a transport front must not import another: share code through emulator/transports/shared or the hub.',
    ),
  ),
  forbid(
    ['devkit/**/*.ts'],
    ['src', 'emulator', ...OUTSIDE_EMULATOR],
    'devkit is plumbing every tool shares: it imports nothing of the project.',
  ),
  // The dashboard's browser code knows the server only through the types of its JSON API.
  {
    files: ['emulator/web/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^node:', message: 'browser code: no Node.js modules.' },
            {
              regex: '^(\\.\\./){2,}(?!(\\.\\./)*dashboard/api-types$)',
              message: "the browser code may import only the server's dashboard/api-types.ts.",
            },
          ],
        },
      ],
    },
  },
  // The emulator is a package of its own: everything outside it goes through its public API, as any project would.
  {
    files: ['local/**/*.ts', 'device-sim/**/*.ts', 'bench/**/*.ts', 'test/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/emulator/**', '**/test/**'],
              message:
                "use the emulator through its package ('iothub-emulator'), not its files; tools must not import tests.",
            },
          ],
        },
      ],
    },
  },
];

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'emulator/dist/**',
      'node_modules/**',
      'coverage/**',
      '.iothub-emulator/**',
      '.tools/**',
      'infra/**/*.json',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.mjs', '**/*.js', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      sourceType: 'commonjs',
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        module: 'writable',
        require: 'readonly',
      },
    },
    rules: { ...tseslint.configs.disableTypeChecked.rules, '@typescript-eslint/no-require-imports': 'off' },
  },
  { files: ['**/*.mjs'], languageOptions: { sourceType: 'module' } },
  {
    // The emulator package's examples, as a user's project would write them (plain JavaScript, Jest's globals).
    files: ['emulator/examples/**/*.js', 'emulator/examples/**/*.mjs'],
    languageOptions: {
      globals: { Buffer: 'readonly', test: 'readonly', expect: 'readonly', setTimeout: 'readonly' },
    },
  },
  ...boundaries,
  prettier,
);
