import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { probe } from '../src/auto-backup/control-server.js';
import type { BackupManifest } from '../src/backup/types.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { runCli, startRepl, withoutWaitLines } from './helpers/run-cli.js';
import { tempDir } from './helpers/temp-dir.js';

// `nu-agent auto-backup …` end to end: the compiled CLI as child processes, a temp NUAGENT_HOME, a real REPL
// holding the database, a real control socket, the real backup service.

function setup() {
  const home = path.join(tempDir(), 'home');
  return { home, env: { NUAGENT_HOME: home }, socket: path.join(home, 'control.sock') };
}

function createdPath(stdout: string): string {
  const match = /Automatic backup created: (\/\S+) \(/.exec(stdout);
  if (!match) throw new Error(`no backup path in: ${stdout}`);
  return match[1]!;
}

const manifestOf = (file: string) => JSON.parse(fs.readFileSync(`${file}.manifest.json`, 'utf8')) as BackupManifest;

describe('nu-agent auto-backup', () => {
  it('asks the running REPL over the control socket, which backs up while it holds the database', async () => {
    const { env, home, socket } = setup();
    const repl = await startRepl(env, socket);

    const run = await runCli(['--debug', 'auto-backup', 'run'], '', { env });
    expect(run.stderr).not.toContain('Error:');
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(`answered by nu-agent pid ${repl.child.pid} over ${socket}`);
    expect(run.stdout).toContain('Verifying backup...');
    const file = createdPath(run.stdout);
    expect(path.dirname(file)).toBe(path.join(home, 'backups'));
    expect(manifestOf(file).trigger).toBe('external');

    const enable = await runCli(['auto-backup', 'enable'], '', { env });
    expect(enable.code).toBe(0);
    expect(enable.stdout).toMatch(/^Auto-backup enabled\.\nNext run: /);

    const status = await runCli(['auto-backup', 'status'], '', { env });
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`Scheduler: +running in nu-agent \\(pid ${repl.child.pid}\\)`));
    expect(status.stdout).toMatch(/Last run: .*, success\n/);
    expect(status.stdout).toContain(`Last backup:          ${file}`);
    expect(status.stdout).toMatch(/Backups: +1, /);

    repl.child.stdin.end('/exit\n');
    expect((await repl.finished).code).toBe(0);
    expect(fs.existsSync(socket)).toBe(false);
  });

  it('opens the database itself when no nu-agent is running', async () => {
    const { env, home } = setup();
    const run = await runCli(['--debug', 'auto-backup', 'run'], '', { env });
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('no nu-agent answers for this database (no socket); opening it here');
    const file = createdPath(run.stdout);
    expect(path.dirname(file)).toBe(path.join(home, 'backups'));
    expect(manifestOf(file).trigger).toBe('external');

    const status = await runCli(['auto-backup', 'status', '--json'], '', { env });
    expect(JSON.parse(status.stdout)).toMatchObject({
      lastStatus: 'success',
      lastBackupPath: file,
      consecutiveFailures: 0,
      scheduler: { kind: 'none' },
      backups: { count: 1 },
    });
  });

  it('says so when a process that cannot be asked holds the database', async () => {
    const { env, home } = setup();
    await (await MemoryStore.open(path.join(home, 'memory.db'), { createParentDir: true })).close();
    // Another DuckDB writer on the file, with no control socket: what a one-shot `nu-agent backup` looks like.
    const holder = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { DuckDBInstance } from '@duckdb/node-api';
         const db = await DuckDBInstance.create(${JSON.stringify(path.join(home, 'memory.db'))});
         await db.connect();
         console.log('holding');
         setInterval(() => {}, 1000);`,
      ],
      { cwd: path.resolve(import.meta.dirname, '..'), stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
      const run = await runCli(['auto-backup', 'run'], '', { env });
      expect(run.code).toBe(1);
      expect(withoutWaitLines(run.stderr)).toMatch(
        /^Error: .*memory\.db is in use by another process.*does not take requests/,
      );
      expect(run.stderr).toMatch(/\nTry: Run it again when that process has finished/);
      expect(fs.existsSync(path.join(home, 'backups'))).toBe(false);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('replaces the stale socket a killed nu-agent left, and backs up without it meanwhile', async () => {
    const { env, socket } = setup();
    const crashed = await startRepl(env, socket);
    crashed.child.kill('SIGKILL');
    await crashed.finished;
    expect(await probe(socket)).toBe('stale');

    const run = await runCli(['--debug', 'auto-backup', 'run'], '', { env });
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('no nu-agent answers for this database (stale socket); opening it here');
    expect(fs.existsSync(createdPath(run.stdout))).toBe(true);

    const again = await startRepl(env, socket);
    const status = await runCli(['--debug', 'auto-backup', 'status'], '', { env });
    expect(status.stderr).toContain(`answered by nu-agent pid ${again.child.pid}`);
    expect(status.stdout).toMatch(/Last run: .*, success\n/);
    again.child.stdin.end();
    expect((await again.finished).code).toBe(0);
  });

  it('right after enable, status gives no warning but says when the first run is due', async () => {
    const { env } = setup();
    const options = { env: { ...env, TZ: 'UTC' } };
    const enable = await runCli(['auto-backup', 'enable'], '', options);
    expect(enable.code, enable.stderr).toBe(0);
    const status = await runCli(['auto-backup', 'status'], '', options);
    expect(status.code).toBe(0);
    expect(status.stdout).not.toContain('WARNING');
    expect(status.stdout).toMatch(
      /^ {2}Last success: +none yet: the first run is due \d{4}-\d\d-\d\d 02:00:00 \+00:00 \(in .+\)$/m,
    );
  });
});
