/**
 * Three tiers: unit specs beside the code (services against fakes of their repositories), medium specs
 * (`*.medium-spec.ts`: a repository against the real, migrated test database, no app) and e2e specs in test/.
 */
const transform = {
  '^.+\\.(t|j)s$': [
    '@swc/jest',
    {
      jsc: {
        parser: { syntax: 'typescript', decorators: true },
        transform: { legacyDecorator: true, decoratorMetadata: true },
        target: 'es2022',
      },
      module: { type: 'commonjs' },
    },
  ],
};
const shared = {
  transform,
  // NestJS 12 and several of its dependencies ship ESM only, which Jest's CommonJS runtime on Node 20
  // cannot require: swc compiles whatever gets loaded (cached after the first run).
  transformIgnorePatterns: [],
  testEnvironment: 'node',
  // The SDK's relative imports name the .js file its ES module build runs (sdk/index.ts): here the .ts is loaded.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
};

module.exports = {
  // Per-project testTimeout is ignored by Jest: e2e tests boot whole apps, so allow them a minute.
  testTimeout: 60_000,
  // The suites run in a worker process that is replaced once it holds this much after a file, even with one worker
  // (on 2 cores): each e2e file boots whole apps, and what a file leaves reachable (Nest, TypeORM and Ajv state)
  // otherwise added up past a 4 GB heap in one process.
  workerIdleMemoryLimit: '1536MB',
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/sdk/**/*.spec.ts'] },
    {
      ...shared,
      displayName: 'medium',
      testMatch: ['<rootDir>/src/**/*.medium-spec.ts', '<rootDir>/test/medium/**/*.medium-spec.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
    {
      ...shared,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
  ],
};
