import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fsyncDirectory } from './durable-file.js';
import type { SqlRunner } from '../store/memory-store.js';
import { foreignOwner } from './lock-owner.js';

// A restore puts this machine's settings (appconfig: the auto-backup schedule and directory, debug) into the
// restored database after reopening it. A process killed between the swap and that moment would leave the
// backup's settings in force, silently (auto-backup went from enabled to disabled). So the settings to keep are
// written here before the swap, with the identity (device, inode) of the file that is about to become the
// live one; the next start applies them if the live file is still that file (restore-recovery.ts).
//
// Trusted only if it is a plain file of ours that nobody else can read or write: the database's directory may
// be shared, and a planted journal would choose our settings (an auto-backup directory others can read).

export interface SettingRow {
  key: string;
  value: string;
}

export interface RestoreJournal {
  format: 'nu-agent-restore-settings';
  /** The file renamed onto the live name, identified as it was before the rename (a rename keeps both). */
  restored: { dev: number; ino: number };
  settings: SettingRow[];
}

export const restoreJournalPath = (database: string) => `${database}.restore-settings.json`;

/** Written whole (temporary name, fsync, rename, fsync of the directory), 0600 from its first byte. */
export function writeRestoreJournal(database: string, restoredFile: string, settings: SettingRow[]): void {
  const stat = fs.statSync(restoredFile);
  const journal: RestoreJournal = {
    format: 'nu-agent-restore-settings',
    restored: { dev: stat.dev, ino: stat.ino },
    settings,
  };
  const final = restoreJournalPath(database);
  const temp = `${final}.${crypto.randomBytes(8).toString('hex')}.tmp`;
  const fd = fs.openSync(temp, 'wx', 0o600);
  try {
    fs.writeFileSync(fd, JSON.stringify(journal) + '\n');
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(temp, final);
  } catch (err) {
    fs.rmSync(temp, { force: true });
    throw err;
  }
  fsyncDirectory(path.dirname(final));
}

/** The journal, if there is one nu-agent wrote for this user; anything else there is ignored. */
export function readRestoreJournal(database: string): RestoreJournal | undefined {
  let fd: number;
  try {
    fd = fs.openSync(restoreJournalPath(database), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch {
    return undefined;
  }
  try {
    const stat = fs.fstatSync(fd);
    const othersMayRead = process.getuid !== undefined && (stat.mode & 0o077) !== 0;
    if (!stat.isFile() || stat.nlink !== 1 || foreignOwner(stat) || othersMayRead) return undefined;
    const journal = JSON.parse(fs.readFileSync(fd, 'utf8')) as Partial<RestoreJournal>;
    const rowsOk =
      Array.isArray(journal.settings) &&
      journal.settings.every((r) => typeof r?.key === 'string' && typeof r?.value === 'string');
    if (journal.format !== 'nu-agent-restore-settings' || !rowsOk || typeof journal.restored?.ino !== 'number')
      return undefined;
    return journal as RestoreJournal;
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/** Removes the journal if it is ours (a planted one is left alone, as it is ignored). */
export function clearRestoreJournal(database: string): void {
  const file = restoreJournalPath(database);
  try {
    const stat = fs.lstatSync(file);
    if (stat.isFile() && !foreignOwner(stat)) fs.rmSync(file, { force: true });
  } catch {
    // nothing there
  }
}

/** This machine's settings in place of the restored database's, in one transaction. */
export async function replaceSettings(db: SqlRunner, settings: SettingRow[]): Promise<void> {
  await db.run('BEGIN TRANSACTION');
  try {
    await db.run('DELETE FROM appconfig');
    for (const { key, value } of settings) {
      await db.run('INSERT INTO appconfig (key, value) VALUES ($1, $2)', [key, value]);
    }
    await db.run('COMMIT');
  } catch (err) {
    await db.run('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
