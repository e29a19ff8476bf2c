// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Which thread runs a file is said by where it lives (README, Layout): src/ runs on the main thread, workers/ in
// worker threads (entry points *.worker.ts and *.task.ts), workers/shared/ on both sides. Core
// `no-restricted-imports` keeps those sides apart (type imports included); `@typescript-eslint/no-restricted-imports`
// fences DuckDB, so the two rules never overwrite each other in a file that both apply to.
const leaving = (what) => `${what} (see the README's Layout: which thread runs what).`;

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // The main thread reaches workers/ only through workers/shared/; a thread's own code is started by path
    // (src/threads/worker-file.ts), never imported.
    files: ['src/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '(^|/)workers/(?!shared/)',
              message: leaving('src/ imports from workers/ only what both sides run: workers/shared/'),
            },
          ],
        },
      ],
    },
  },
  {
    files: ['workers/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '(^|/)(src|state-machines|test|bench)/',
              message: leaving('workers/ never imports src/ (the main thread) or the tests'),
            },
          ],
        },
      ],
    },
  },
  {
    // What both sides run imports only what both sides run: never a thread's own code.
    files: ['workers/shared/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^\\.\\./',
              message: leaving('workers/shared/ imports only from workers/shared/'),
            },
          ],
        },
      ],
    },
  },
  {
    files: ['workers/shared/*/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^\\.\\./\\.\\./',
              message: leaving('workers/shared/ imports only from workers/shared/'),
            },
          ],
        },
      ],
    },
  },
  {
    // Sequencing only: the machine does no I/O, so it needs neither the main thread's code nor a worker's.
    files: ['state-machines/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '(^|/)(src|workers)/', message: 'state-machines/ hold sequencing only and import no code.' },
          ],
        },
      ],
    },
  },
  {
    // Only the database owner may open DuckDB (two DuckDB instances on one file lose committed rows silently). The copy
    // engine opens backup copies, never the memory file; a type names a connection and opens nothing.
    files: ['src/**', 'workers/**', 'state-machines/**'],
    ignores: ['src/store/**', 'workers/copy-engine/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: '@duckdb/node-api',
              message: 'Reach the database through src/store (the single owner).',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
);
