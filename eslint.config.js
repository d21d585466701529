// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'data/', 'src/db/migrations/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': ['error', { allow: ['error'] }],
    },
  },
  {
    // core/ is the domain: it must not reach outward into the adapters, the HTTP layer or the database.
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                '**/http/**',
                '**/providers/**',
                '**/db/**',
                'fastify',
                'twilio',
                'telnyx',
                'better-sqlite3',
                'drizzle-orm',
                'drizzle-orm/*',
              ],
              message: 'core/ knows no HTTP framework, SDK or SQL.',
            },
          ],
        },
      ],
    },
  },
  {
    // Printing is what a benchmark, a script and the CLI are for.
    files: ['bench/**/*.ts', 'scripts/**/*.{ts,mjs}', 'src/cli/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
);
