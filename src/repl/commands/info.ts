import type { Command } from '../command.js';
import { messages } from '../../errors.js';
import type { SqlRunner } from '../../store/memory-store.js';
import { formatBytes } from '../../format/size.js';
import { fileSize } from '../../fs-facts.js';

export const infoCommand: Command = {
  name: 'info',
  help: ['/info', 'Show the database (path, size, schema version, rows per table), the model and debug state.'],
  async run(args, app) {
    if (args.length > 0) throw messages.usage('/info');
    const counts = await tableRowCounts(app.store);
    const version = await app.store.all<{ v: number }>(`SELECT max(version) AS v FROM schema_version`);
    const wal = fileSize(`${app.store.path}.wal`) ?? 0;
    app.out.line(`nu-agent ${app.version}`);
    app.out.line(`Database: ${app.store.path}`);
    app.out.line(
      `Size: ${formatBytes(app.store.fileSize())}${wal > 0 ? ` (+ ${formatBytes(wal)} write-ahead log)` : ''}`,
    );
    app.out.line(`Schema version: ${version[0]?.v ?? 'unknown'}`);
    app.out.line(`Model: ${app.provider.description}`);
    app.out.line(`Conversation: ${app.session.conversationId ?? 'none yet (the next message starts one)'}`);
    app.out.line(`Debug: ${app.debug ? 'on' : 'off'}`);
    app.out.line('Rows:');
    const width = Math.max(...counts.map((c) => c.table.length));
    for (const { table, rows } of counts) app.out.line(`  ${table.padEnd(width)}  ${rows}`);
  },
};

export async function tableRowCounts(db: SqlRunner): Promise<{ table: string; rows: number }[]> {
  const tables = await db.all<{ table_name: string }>(
    `SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main'
     ORDER BY table_name`,
  );
  const counts = [];
  for (const { table_name: table } of tables) {
    const rows = await db.all<{ n: number }>(`SELECT count(*) AS n FROM "${table.replaceAll('"', '""')}"`);
    counts.push({ table, rows: Number(rows[0]?.n ?? 0) });
  }
  return counts;
}
