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

/**
 * Only the row count of each table: what a backup takes from the held database inside the pause window. DuckDB
 * answers `count(*)` from its row-group metadata without reading the rows, so it costs milliseconds where the
 * full figures cost a read of the whole file; it is enough to catch a commit missing from the copy, and the copy's
 * own full read after resuming supplies the figures for its manifest.
 */
export type TableCounts = Record<string, { rows: number }>;

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * Reads every row of every user table. DuckDB verifies a block's checksum only when the block is read
 * (measured on DuckDB 1.5.5), so `count(*)` alone could miss a corrupt block; hashing whole rows reads them all.
 */
export async function readTableFigures(connection: DuckDBConnection): Promise<TableFigures> {
  const figures: TableFigures = {};
  for (const name of await userTables(connection)) {
    const result = await connection.runAndReadAll(
      `SELECT count(*)::BIGINT AS n, coalesce(sum(hash(t)), 0)::VARCHAR AS h FROM ${quoteIdent(name)} AS t`,
    );
    const first = result.getRowObjectsJS()[0];
    figures[name] = { rows: Number(first?.n ?? 0), hash: String(first?.h ?? '0') };
  }
  return figures;
}

/**
 * The row count of every user table, without reading the rows (see TableCounts). One statement for all of them:
 * inside the pause window each round trip to DuckDB's threads costs milliseconds on a busy machine.
 */
export async function readTableCounts(connection: DuckDBConnection): Promise<TableCounts> {
  const names = await userTables(connection);
  if (names.length === 0) return {};
  const result = await connection.runAndReadAll(
    names.map((name, i) => `SELECT ${i} AS i, count(*)::BIGINT AS n FROM ${quoteIdent(name)}`).join(' UNION ALL '),
  );
  const counts: TableCounts = {};
  for (const row of result.getRowObjectsJS()) counts[names[Number(row.i)]!] = { rows: Number(row.n ?? 0) };
  return counts;
}

async function userTables(connection: DuckDBConnection): Promise<string[]> {
  const tables = await connection.runAndReadAll(
    `SELECT table_name FROM duckdb_tables()
      WHERE database_name = current_database() AND schema_name = 'main' AND NOT temporary
      ORDER BY table_name`,
  );
  return tables.getRowObjectsJS().map((row) => String(row.table_name));
}

/**
 * Names of the tables whose figures differ, including tables present on only one side. Against counts (a fresh
 * copy checked against its source), only the counts are compared.
 */
export function diffTableFigures(expected: TableFigures | TableCounts, actual: TableFigures): string[] {
  const names = new Set([...Object.keys(expected), ...Object.keys(actual)]);
  const differs = (n: string) => {
    const e = expected[n];
    if (e?.rows !== actual[n]?.rows) return true;
    return e !== undefined && 'hash' in e && e.hash !== actual[n]?.hash;
  };
  return [...names].filter(differs).sort();
}
