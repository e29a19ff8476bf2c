import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Real DuckDB files and real threads on a 2-core machine: a little parallelism, not a lot.
    maxWorkers: 2,
  },
});
