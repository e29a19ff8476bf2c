import { messages } from '../errors.js';
import type { SqlRunner } from './memory-store.js';
import { LATEST_SCHEMA_VERSION, migrations } from './schema.js';

/**
 * Brings the file to the latest schema. A file that already has tables but no schema_version is someone
 * else's DuckDB database: we refuse rather than add our tables to it.
 */
export async function migrate(db: SqlRunner, dbPath: string, existed: boolean): Promise<number> {
  const tables = await db.all<{ table_name: string }>(
    `SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main'`,
  );
  const names = new Set(tables.map((t) => t.table_name));
  if (existed && names.size > 0 && !names.has('schema_version')) {
    throw messages.databaseForeign(dbPath);
  }
  let current = 0;
  if (names.has('schema_version')) {
    const rows = await db.all<{ v: number | null }>(`SELECT max(version) AS v FROM schema_version`);
    current = Number(rows[0]?.v ?? 0);
  }
  if (current > LATEST_SCHEMA_VERSION) throw messages.schemaTooNew(dbPath, current, LATEST_SCHEMA_VERSION);
  for (const migration of migrations) {
    if (migration.version <= current) continue;
    await db.run('BEGIN TRANSACTION');
    try {
      if (migration.version === 1) {
        await db.run(
          `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`,
        );
      }
      for (const statement of migration.statements) await db.run(statement);
      await db.run(`INSERT INTO schema_version (version) VALUES ($1)`, [migration.version]);
      await db.run('COMMIT');
    } catch (err) {
      await db.run('ROLLBACK').catch(() => undefined);
      throw messages.migrationFailed(dbPath, migration.version, migration.description, err);
    }
    current = migration.version;
  }
  return current;
}
