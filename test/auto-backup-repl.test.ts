import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningApp } from '../src/app.js';
import { createApp } from '../src/app/create-app.js';
import { appConfigStore } from '../src/auto-backup/config-store.js';
import { runRepl } from '../src/repl/repl.js';
import { resolveDataPaths } from '../src/paths.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { tempDir } from './helpers/temp-dir.js';
import { RecordingOutput } from './helpers/recording-output.js';
import { until } from './helpers/until.js';

// The auto-backup inside a real REPL session (this process, real database, real scheduler and control socket):
// a run missed while nu-agent was closed is caught up at start-up, and when that unattended run fails, the
// next prompt says so.

const apps: RunningApp[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.shutdown();
});

describe('auto-backup in the REPL', () => {
  it('catches up a missed run at start-up, and shows its failure at the next prompt', async () => {
    const home = path.join(tempDir(), 'home');
    const paths = resolveDataPaths({ NUAGENT_HOME: home });
    // Left by an earlier session: enabled, a run due in 2024, and a backup directory that has since become a
    // file (so the catch-up fails before any backup starts, whatever the backup service can do).
    const store = await MemoryStore.open(paths.database, { createParentDir: true });
    const blocked = path.join(home, 'not-a-directory');
    fs.writeFileSync(blocked, 'x');
    await appConfigStore(store).write(
      new Map([
        ['auto_backup.enabled', 'true'],
        ['auto_backup.cron', '0 0 29 2 *'],
        ['auto_backup.next_run_at', '2024-02-29T00:00:00.000Z'],
        ['auto_backup.directory', path.join(blocked, 'backups')],
      ]),
    );
    await store.close();

    const out = new RecordingOutput();
    const app = await createApp({ env: { NUAGENT_HOME: home }, makeOutput: () => out });
    apps.push(app);
    const input = new PassThrough();
    const done = runRepl(app, { interactive: false, input });
    await until(() => app.autoBackup.scheduler !== undefined);
    const caughtUp = await app.autoBackup.scheduler!.whenCaughtUp();
    expect(caughtUp?.status).toBe('failed');
    expect(fs.existsSync(paths.controlSocket)).toBe(true);

    input.write('/help\n');
    input.end();
    await done;
    const notices = out.lines.filter((l) => l.startsWith('Notice: '));
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(
      /^Notice: The automatic backup at .* failed: .*not-a-directory.*See \/backup auto status\.$/,
    );
    // The REPL is done: its scheduler and control socket are gone with it.
    expect(app.autoBackup.scheduler).toBeUndefined();
    expect(fs.existsSync(paths.controlSocket)).toBe(false);

    const status = await app.autoBackup.command(['status'], { cwd: home, trigger: 'auto' });
    expect(status.data).toMatchObject({ lastStatus: 'failed', consecutiveFailures: 1 });
    expect((status.data as { nextRunAt: string }).nextRunAt).toMatch(/^2028-02-29/);
  });
});
