import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createApp } from '../src/app/create-app.js';
import { createProgressDisplay } from '../src/backup/progress-display.js';
import type { NuError } from '../src/errors.js';
import { backupCommand, parseBackupArgs } from '../src/repl/commands/backup.js';
import { tempDir } from './helpers/temp-dir.js';
import { RecordingOutput } from './helpers/recording-output.js';

// What a user sees: the /backup command in a real App (real database, real workers, real copy threads), the
// progress display on a terminal and in a pipe, and `nu-agent backup` as a spawned process.

const MiB = 1024 * 1024;

describe('backup progress display', () => {
  it('prints a few plain lines when not on a terminal, and debug transitions with time and duration', () => {
    const out = new RecordingOutput(false, true);
    const display = createProgressDisplay(out, { now: () => 1000 });
    display.onEvent({ type: 'step', text: 'Backing up database... (8.0 MiB)' });
    for (let copied = 0; copied <= 8 * MiB; copied += MiB / 4) {
      display.onEvent({ type: 'progress', copiedBytes: copied, totalBytes: 8 * MiB });
    }
    display.onEvent({ type: 'transition', from: 'copying', to: 'verifying', at: new Date(), msInPrevious: 42 });
    expect(out.lines).toEqual([
      'Backing up database... (8.0 MiB)',
      expect.stringMatching(/^ {2}Progress: 25% \(2\.0 MiB \/ 8\.0 MiB, /),
      expect.stringMatching(/^ {2}Progress: 50% /),
      expect.stringMatching(/^ {2}Progress: 75% /),
      expect.stringMatching(/^ {2}Progress: 100% \(8\.0 MiB \/ 8\.0 MiB, /),
    ]);
    expect(out.debugLines).toEqual([
      expect.stringMatching(/^\d\d:\d\d:\d\d\.\d{3} backup: copying → verifying \(42 ms in copying\)$/),
    ]);
  });

  it('names a restore as such in its debug transitions', () => {
    const out = new RecordingOutput(false, true);
    const display = createProgressDisplay(out, { label: 'restore' });
    display.onEvent({ type: 'transition', from: 'replacing', to: 'reopening', at: new Date(), msInPrevious: 3 });
    expect(out.debugLines).toEqual([expect.stringMatching(/ restore: replacing → reopening \(3 ms in replacing\)$/)]);
  });

  it('draws a bar with percent, bytes, speed and time left on a terminal, and nothing for small files', () => {
    const stream = Object.assign(new PassThrough(), { isTTY: true, columns: 120 });
    let drawn = '';
    stream.on('data', (d: Buffer) => (drawn += d.toString()));
    let clock = 0;
    const display = createProgressDisplay(new RecordingOutput(true), { stream, now: () => clock });
    display.onEvent({ type: 'progress', copiedBytes: 0, totalBytes: MiB / 2 });
    expect(drawn).toBe('');
    for (let copied = 0; copied <= 64 * MiB; copied += 16 * MiB) {
      clock += 500;
      display.onEvent({ type: 'progress', copiedBytes: copied, totalBytes: 64 * MiB });
    }
    display.stop();
    expect(drawn).toMatch(/100 % \| 64\.0 MiB \/ 64\.0 MiB \| 32\.0 MiB\/s \| done/);
  });
});

describe('/backup', { timeout: 60_000 }, () => {
  it('reads its arguments: one destination, --force, --json', () => {
    expect(parseBackupArgs([])).toEqual({ force: false, json: false });
    expect(parseBackupArgs(['a b.db', '--force'])).toEqual({ destination: 'a b.db', force: true, json: false });
    expect(() => parseBackupArgs(['a.db', 'b.db'])).toThrow(/usage: \/backup/);
    expect(() => parseBackupArgs(['--nope'])).toThrow(/usage: \/backup/);
  });

  it('backs up into a directory under the default name, then refuses to overwrite without --force', async () => {
    const dir = tempDir();
    const out = new RecordingOutput();
    const app = await createApp({ env: { NUAGENT_HOME: path.join(dir, 'home') }, makeOutput: () => out });
    try {
      const backups = path.join(dir, 'backups');
      fs.mkdirSync(backups);
      await backupCommand.run([backups], app, new AbortController().signal);
      const [name] = fs.readdirSync(backups).filter((n) => n.endsWith('.db'));
      expect(name).toMatch(/^memory-\d{4}-\d{2}-\d{2}-\d{6}\.db$/);
      const file = path.join(backups, name!);
      expect(out.lines).toEqual([
        'Flushing recent writes to the database file...',
        'Pausing background workers...',
        'Checkpointing the database...',
        'Closing database connections...',
        expect.stringMatching(/^Backing up database\.\.\. \(\d/),
        'Checking the copy is complete...',
        'Reopening database...',
        'Resuming background workers...',
        expect.stringMatching(/^Verifying backup\.\.\. \(every row of the (copy|clone), workers running\)$/),
        '',
        'Backup created successfully:',
        `  Path: ${file}`,
        expect.stringMatching(/^ {2}Size: \d+(\.\d)? [KM]iB$/),
        expect.stringMatching(/^ {2}Time: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d\d:\d\d$/),
        expect.stringMatching(/^ {2}Took: \d+(\.\d)? s$/),
        expect.stringMatching(/^ {2}Hash: xxh3-128 [0-9a-f]{32}$/),
        expect.stringMatching(/^ {2}Copy: (copied|cloned \(.+\))$/),
      ]);

      const error = await backupCommand.run([file], app, new AbortController().signal).catch((e: NuError) => e);
      expect((error as NuError).code).toBe('BACKUP_EXISTS');
      out.lines.length = 0;
      await backupCommand.run([file, '--force'], app, new AbortController().signal);
      expect(out.lines).toContain('Backup created successfully:');
      expect(await app.store.all('SELECT count(*) AS n FROM backup_runs')).toEqual([{ n: 3 }]);
    } finally {
      await app.shutdown();
    }
  });
});

describe('nu-agent backup', { timeout: 120_000 }, () => {
  const cli = (args: string[], home: string) =>
    spawnSync(process.execPath, ['--import', 'tsx', path.resolve('src/cli.ts'), ...args], {
      encoding: 'utf8',
      env: { ...process.env, NUAGENT_HOME: home, NUAGENT_LLM_URL: '' },
      timeout: 60_000,
    });

  it('prints JSON for scripts, exits 0 on success and 1 with Error:/Try: on a refusal', () => {
    const dir = tempDir();
    const home = path.join(dir, 'home');
    const destination = path.join(dir, 'b.db');
    const made = cli(['backup', destination, '--json'], home);
    expect(made.status, made.stderr).toBe(0);
    const json = JSON.parse(made.stdout) as {
      ok: boolean;
      path: string;
      hash: { algorithm: string };
      copy: string;
      stateDurations: Record<string, number>;
    };
    expect(json).toMatchObject({ ok: true, path: destination, hash: { algorithm: 'xxh3-128' } });
    expect(['copied', 'cloned']).toContain(json.copy);
    // The design card's names, in its order; the audit and the rename come after the workers resumed.
    const card = ['validating', 'pausing', 'checkpointing', 'copying', 'verifying', 'reopening', 'resuming'];
    const states = Object.keys(json.stateDurations);
    expect(states.filter((s) => card.includes(s))).toEqual(card);
    expect(states.slice(states.indexOf('resuming'))).toEqual(['resuming', 'auditing', 'committing', 'recording']);
    expect(fs.existsSync(`${destination}.manifest.json`)).toBe(true);

    const again = cli(['backup', destination], home);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain(`Error: ${destination} already exists`);
    expect(again.stderr).toContain('Try: Add --force to replace it');

    const live = cli(['backup', path.join(home, 'memory.db'), '--force'], home);
    expect(live.status).toBe(1);
    expect(live.stderr).toMatch(/is the live database/);
  });
});
