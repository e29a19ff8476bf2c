import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireBackupLock } from '../src/backup/backup-lock.js';
import { resolveDataPaths } from '../src/paths.js';
import { screenLines, startInPty } from './helpers/pty.js';
import { tempDir } from './helpers/temp-dir.js';

// A scheduled run that cannot happen (another process holds the backup lock) is told to the person at the REPL
// when it happens, above the prompt, with its time: not at some later Enter. The schedule fires every minute,
// so this waits for the next minute to begin.

describe('the skipped-run notice', { timeout: 150_000 }, () => {
  it('shows at once above the prompt, with the time of the skipped run, while nothing is typed', async () => {
    const home = path.join(tempDir(), 'home');
    const env = { NUAGENT_HOME: home, TZ: 'Asia/Kolkata' };
    const repl = startInPty([], { env });
    await repl.waitFor('> ');
    let from = repl.screen().length;
    repl.type('/backup auto cron * * * * *\r');
    await repl.waitFor('> ', from + 1);
    from = repl.screen().length;
    repl.type('/backup auto enable\r');
    await repl.waitFor('Next run:', from);
    await repl.waitFor('> ', from);
    // Another process (this test) is backing up this database.
    const lock = await acquireBackupLock(resolveDataPaths({ NUAGENT_HOME: home }).backupLock);
    try {
      from = repl.screen().length;
      repl.type('half a line');
      await repl.waitFor(/Notice: The automatic backup at .* was skipped/, from);
      const lines = screenLines(repl.screen());
      const notice = lines.findIndex((l) => l.startsWith('Notice: The automatic backup at'));
      expect(lines[notice]).toMatch(
        /^Notice: The automatic backup at \d{4}-\d\d-\d\d \d\d:\d\d:00 \+05:30 was skipped: a backup is already running \(process \d+, since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+05:30\)\.$/,
      );
      // The prompt comes back below it, with what was typed so far.
      expect(lines.slice(notice + 1)).toEqual(['> half a line']);
    } finally {
      await lock.release();
    }
    repl.type('\x15/exit\r');
    expect(await repl.exited).toBe(0);
  });
});
