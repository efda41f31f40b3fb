// ESLint with typed rules (typescript-eslint): `npm run lint`, part of `npm test`.
// no-floating-promises and no-misused-promises guard invariant 1 mechanically: a promise nobody awaits (a ledger
// append, a COMMIT) cannot let an answer leave before its audit entry is committed. switch-exhaustiveness-check: a
// new word in a union (a decision, a kind, a problem code) cannot fall through a switch unnoticed.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'coverage/**',
      'data/**',
      'bench/results/**',
      'tests/e2e/artifacts/**',
      'src/web/public/**',
      '**/*.js',
      '**/*.cjs',
      '**/*.mjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', destructuredArrayIgnorePattern: '^_' },
      ],
      // Style, not safety: an assertion that changes nothing is harmless (and typescript's own checks still run).
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // An async function that does not await still turns a throw into a rejection, which is what callers rely on.
      '@typescript-eslint/require-await': 'off',
      // NUL, unpaired surrogates and other control characters are matched on purpose (what PostgreSQL cannot store,
      // the C2SP signed-note format).
      'no-control-regex': 'off',
    },
  },
  {
    // Prettier wraps code at 140 but leaves long strings and comments alone: those are wrapped by hand (a string
    // split with +, a comment rewrapped), and this keeps them so. URLs, regular expressions and template literals may
    // run on, and so may a test's title (one line, so that jest's report and a grep find it whole).
    files: ['src/**/*.ts', 'tests/**/*.ts', 'policies/tests/**/*.ts'],
    rules: {
      'max-len': [
        'error',
        {
          code: 140,
          ignoreUrls: true,
          ignoreRegExpLiterals: true,
          ignoreTemplateLiterals: true,
          ignorePattern: '^\\s*(it|test|describe)(\\.(each\\(.*\\)|skip|only))?\\([\'"]',
        },
      ],
    },
  },
  {
    // Tests read HTTP response bodies (supertest's `body` is `any`) and JSON fixtures: the no-unsafe-* rules would
    // flag every assertion. The promise rules stay on.
    files: ['tests/**/*.ts', 'policies/tests/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
);
