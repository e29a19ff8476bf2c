// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/src/**', '../src/*'],
              message: 'workers/ and state-machines/ never import src/ (see STYLE.md).',
            },
          ],
        },
      ],
    },
  },
  {
    // src may use the workers' protocol types and state machines; tests and benches reach everything.
    files: ['src/**', 'test/**', 'bench/**'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    // Only the database owner may import the DuckDB client (ARCHITECTURE.md: one instance per file per process).
    files: ['src/**', 'workers/**', 'state-machines/**'],
    ignores: ['src/store/**', 'workers/copy-engine/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [{ name: '@duckdb/node-api', message: 'Reach the database through src/store (the single owner).' }] },
      ],
    },
  },
);
