// Type-aware linting: floating promises and unsafe `any` flows are errors, zero warnings allowed.
import eslint from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      '.data/**',
      'coverage/**',
      'sdk/schema.d.ts',
      'sdk/dist/**',
      // Plain Node (no TypeScript project): the SDK's build script, as the config files above.
      'sdk/build.mjs',
      'eslint.config.mjs',
      'jest.config.js',
    ],
  },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-extraneous-class': 'off',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unsafe-function-type': 'off',
    },
  },
  {
    files: ['**/*.spec.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    // One owner per table (docs/architecture.md): SQL and the handles that send it live in a module's
    // `*.repository.ts`, in src/database/ and in migrations/ only. Services hold the rules.
    files: ['src/**/*.ts'],
    ignores: [
      'src/**/*.repository.ts',
      'src/database/**',
      // The migration CLI: a database tool at the composition root (it needs the entity list).
      'src/migration-cli.ts',
      'src/**/*.spec.ts',
      'src/**/*.medium-spec.ts',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: 'typeorm',
              importNames: ['DataSource', 'EntityManager', 'Repository', 'QueryRunner', 'SelectQueryBuilder'],
              message: 'Database access belongs in a *.repository.ts (docs/architecture.md).',
            },
            { name: 'pg', message: 'Database access belongs in a *.repository.ts (docs/architecture.md).' },
            {
              name: '@nestjs/typeorm',
              message: 'Database access belongs in a *.repository.ts (docs/architecture.md).',
            },
          ],
          patterns: [
            {
              group: ['**/database/transactional-connection'],
              message: 'Only repositories talk to the connection (docs/architecture.md).',
            },
          ],
        },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: 'CallExpression[callee.property.name=/^(query|getRepository|createQueryBuilder)$/]',
          message: 'SQL belongs in a *.repository.ts (docs/architecture.md).',
        },
        {
          // The transaction travels in the request context; only repositories (through the connection) use it.
          selector: "MemberExpression[property.name='manager']",
          message:
            'Only repositories use the transaction: take it from the request context there (docs/architecture.md).',
        },
      ],
    },
  },
  prettier,
);
