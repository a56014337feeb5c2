/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  // The app's tests, and the emulator package's own (which test its internals from source).
  roots: ['<rootDir>/test', '<rootDir>/emulator/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
  },
  testTimeout: 60000,
};
