import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { catalogBackups } from '../src/backup/catalog.js';
import { formatBackupList } from '../src/ui/list-format.js';
import { manifestPathFor } from '../src/backup/types.js';
import { tempDir } from './helpers/temp-dir.js';
import { addConversations, handMadeBackup } from './helpers/hand-made-backup.js';

// One real database, copied into several backups and then damaged in each way list must flag.
let source: string;
let sourceDir: string;

beforeAll(async () => {
  sourceDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nuagent-catalog-src-'));
  source = path.join(sourceDir, 'memory.db');
  await addConversations(source, 3);
  return () => fs.rmSync(sourceDir, { recursive: true, force: true });
});

const stateOf = (entries: ReturnType<typeof catalogBackups>, name: string) =>
  entries.find((e) => path.basename(e.path) === name);

describe('listing backups', () => {
  it('lists good backups newest first and flags damaged, missing, foreign and partial files', async () => {
    const dir = tempDir();
    await handMadeBackup(source, path.join(dir, 'old.db'), new Date('2025-01-01T00:00:00Z'));
    await handMadeBackup(source, path.join(dir, 'new.db'), new Date('2025-03-01T00:00:00Z'));
    // Truncated after the manifest was written.
    await handMadeBackup(source, path.join(dir, 'truncated.db'), new Date('2025-02-01T00:00:00Z'));
    fs.truncateSync(path.join(dir, 'truncated.db'), 4096);
    // The backup file deleted by hand, its manifest left behind.
    await handMadeBackup(source, path.join(dir, 'gone.db'));
    fs.rmSync(path.join(dir, 'gone.db'));
    // A manifest that is no longer JSON.
    await handMadeBackup(source, path.join(dir, 'garbled.db'));
    fs.writeFileSync(manifestPathFor(path.join(dir, 'garbled.db')), '{ not json');
    // Renamed without its manifest following: the manifest describes another name.
    await handMadeBackup(source, path.join(dir, 'before.db'));
    fs.renameSync(path.join(dir, 'before.db'), path.join(dir, 'after.db'));
    fs.renameSync(manifestPathFor(path.join(dir, 'before.db')), manifestPathFor(path.join(dir, 'after.db')));
    // A DuckDB file nu-agent did not make, and an unfinished copy.
    fs.copyFileSync(source, path.join(dir, 'someone-elses.duckdb'));
    fs.writeFileSync(path.join(dir, '.new2.db.nu-agent-tmp-999999-abc'), 'partial');
    // Files that are not backups at all are not listed.
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'hello');

    const entries = catalogBackups([dir]);
    const byName = (n: string) => stateOf(entries, n);

    expect(entries.filter((e) => e.state === 'ok').map((e) => path.basename(e.path))).toEqual(['new.db', 'old.db']);
    expect(byName('truncated.db')).toMatchObject({ state: 'damaged', sizeBytes: 4096 });
    expect(byName('truncated.db')?.problem).toMatch(/size 4096 bytes, the manifest says \d+/);
    expect(byName('gone.db')).toMatchObject({ state: 'missing', problem: 'the backup file is missing' });
    expect(byName('garbled.db')).toMatchObject({ state: 'damaged', problem: 'manifest is not valid JSON' });
    expect(byName('after.db')).toMatchObject({ state: 'damaged', problem: 'the manifest describes before.db' });
    expect(byName('someone-elses.duckdb')).toMatchObject({ state: 'foreign', problem: 'no manifest' });
    expect(byName('.new2.db.nu-agent-tmp-999999-abc')?.state).toBe('partial');
    expect(byName('notes.txt')).toBeUndefined();
    // Ages come from the manifest, whatever the file's mtime says.
    expect(byName('old.db')?.createdAt?.toISOString()).toBe('2025-01-01T00:00:00.000Z');
  });

  it('flags a manifest-less file with the default backup name even when it is not a database', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'memory-2025-01-02-030405.db'), 'not a database');
    fs.writeFileSync(path.join(dir, 'other.db'), 'not a database either');
    const entries = catalogBackups([dir]);
    expect(entries.map((e) => [path.basename(e.path), e.state])).toEqual([['memory-2025-01-02-030405.db', 'foreign']]);
  });

  it('flags a backup whose file is no longer a DuckDB database although its size matches', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'b.db');
    await handMadeBackup(source, file);
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.from('XXXX'), 0, 4, 8);
    fs.closeSync(fd);
    expect(catalogBackups([dir])[0]).toMatchObject({ state: 'damaged', problem: 'not a DuckDB database file' });
  });

  it('merges the backup directory and the working directory, lists each backup once, skips the live database', async () => {
    const backups = tempDir();
    const work = tempDir();
    await handMadeBackup(source, path.join(backups, 'a.db'), new Date('2025-01-01T00:00:00Z'));
    await handMadeBackup(source, path.join(work, 'b.db'), new Date('2025-01-02T00:00:00Z'));
    const live = path.join(work, 'memory.db');
    fs.copyFileSync(source, live);
    fs.symlinkSync(backups, path.join(work, 'link-to-backups'));

    const entries = catalogBackups([backups, work, path.join(work, 'link-to-backups'), backups + '/'], {
      exclude: [live],
    });
    expect(entries.map((e) => path.basename(e.path))).toEqual(['b.db', 'a.db']);
  });

  it('shows a newline or an escape sequence in a backup name escaped, one line per backup', async () => {
    const dir = tempDir();
    const names = ['two\nlines.db', 'bell\u0007\u001b[2J.db', 'tab\there.db'];
    for (const [i, name] of names.entries())
      await handMadeBackup(source, path.join(dir, name), new Date(Date.UTC(2025, 0, 1 + i)));
    const lines = formatBackupList(catalogBackups([dir]), [dir]);
    expect(lines.some((l) => [...l].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f))).toBe(false);
    const rows = lines.filter((l) => l.includes(dir + '/'));
    expect(rows.map((l) => l.slice(l.indexOf(dir) + dir.length + 1))).toEqual([
      'tab\\there.db',
      'bell\\x07\\x1b[2J.db',
      'two\\nlines.db',
    ]);
  });

  it('returns nothing for a directory that does not exist', () => {
    expect(catalogBackups([path.join(tempDir(), 'nope')])).toEqual([]);
  });

  it('adds the backups recorded elsewhere, once each, flagging one that is gone, and skips those a scan found', async () => {
    const scanned = tempDir();
    const elsewhere = tempDir();
    await handMadeBackup(source, path.join(scanned, 'in-dir.db'), new Date('2025-01-01T00:00:00Z'));
    await handMadeBackup(source, path.join(elsewhere, 'away.db'), new Date('2025-02-01T00:00:00Z'));
    const gone = path.join(elsewhere, 'deleted.db');
    const entries = catalogBackups([scanned], {
      recorded: [path.join(elsewhere, 'away.db'), path.join(scanned, 'in-dir.db'), gone, `${elsewhere}/./away.db`],
    });
    expect(entries.map((e) => [e.path, e.state])).toEqual([
      [path.join(elsewhere, 'away.db'), 'ok'],
      [path.join(scanned, 'in-dir.db'), 'ok'],
      [gone, 'missing'],
    ]);
    expect(stateOf(entries, 'deleted.db')?.problem).toMatch(/recorded as made, but neither the file nor its manifest/);
  });
});
