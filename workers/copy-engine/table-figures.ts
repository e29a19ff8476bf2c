import type { DuckDBConnection } from '@duckdb/node-api';

/** Per-table figures that prove two databases hold the same rows: the count and an order-independent hash. */
export interface TableFigure {
  rows: number;
  /**
   * The sum of every row's hash (a HUGEINT), as a decimal string. A sum, not bit_xor: with xor two equal rows
   * cancel out, so losing or doubling a pair of duplicate rows would go unseen.
   */
  hash: string;
}
export type TableFigures = Record<string, TableFigure>;

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * Reads every row of every user table. DuckDB verifies a block's checksum only when the block is read
 * (ARCHITECTURE.md), so `count(*)` alone could miss a corrupt block; hashing whole rows reads them all.
 */
export async function readTableFigures(connection: DuckDBConnection): Promise<TableFigures> {
  const tables = await connection.runAndReadAll(
    `SELECT table_name FROM duckdb_tables()
      WHERE database_name = current_database() AND schema_name = 'main' AND NOT temporary
      ORDER BY table_name`,
  );
  const figures: TableFigures = {};
  for (const row of tables.getRowObjectsJS()) {
    const name = String(row.table_name);
    const result = await connection.runAndReadAll(
      `SELECT count(*)::BIGINT AS n, coalesce(sum(hash(t)), 0)::VARCHAR AS h FROM ${quoteIdent(name)} AS t`,
    );
    const first = result.getRowObjectsJS()[0];
    figures[name] = { rows: Number(first?.n ?? 0), hash: String(first?.h ?? '0') };
  }
  return figures;
}

/** Names of the tables whose figures differ, including tables present on only one side. */
export function diffTableFigures(expected: TableFigures, actual: TableFigures): string[] {
  const names = new Set([...Object.keys(expected), ...Object.keys(actual)]);
  return [...names]
    .filter((n) => expected[n]?.rows !== actual[n]?.rows || expected[n]?.hash !== actual[n]?.hash)
    .sort();
}
