import fs from 'node:fs';
import type { App } from '../app.js';
import { clearRestoreJournal, readRestoreJournal, replaceSettings } from './restore-journal.js';

// What the next start does after a restore that did not finish (the process was killed, the machine lost power).
//
// A restore keeps the previous database as `<db>.before-restore` until the restored one has been reopened and
// checked. If the process died in between, the file is still there: both files are complete databases (the
// restored one was verified before it was renamed into place), so nothing is removed behind the user's back;
// the notice says where it is, and the next restore refuses to replace it (restore-steps.ts).
//
// The settings of this machine were journalled before the swap (restore-journal.ts); if the live file is the
// one the restore put in place, they are applied now, before anything reads them.

export async function recoverInterruptedRestore(app: Pick<App, 'paths' | 'store' | 'out'>): Promise<void> {
  const database = app.paths.database;
  const journal = readRestoreJournal(database);
  if (journal) {
    let live: fs.Stats | undefined;
    try {
      live = fs.statSync(database);
    } catch {
      live = undefined;
    }
    // Another file at the live name: the swap never happened (or the file was replaced since); nothing to apply.
    if (live && live.ino === journal.restored.ino && live.dev === journal.restored.dev) {
      await replaceSettings(app.store, journal.settings);
      app.out.line(
        "Notice: a restore was interrupted after the swap; this machine's settings (auto-backup, debug) were put back.",
      );
    }
    clearRestoreJournal(database);
  }
  noticeKeptPrevious(app);
}

function noticeKeptPrevious(app: Pick<App, 'paths' | 'out'>): void {
  const previous = `${app.paths.database}.before-restore`;
  let kept: fs.Stats;
  let live: fs.Stats;
  try {
    kept = fs.statSync(previous);
    live = fs.statSync(app.paths.database);
  } catch {
    return;
  }
  // Died between making the link and the swap: both names are the one, untouched database.
  if (kept.ino === live.ino && kept.dev === live.dev) {
    fs.rmSync(previous, { force: true });
    return;
  }
  app.out.line(
    `Notice: a restore was interrupted. ${app.paths.database} is the restored database; the one from before ` +
      `the restore is kept at ${previous}, and the safety backup taken just before it is in the backup ` +
      `directory (/backup list). Remove ${previous} once you are satisfied.`,
  );
}
