import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { closest } from '../src/did-you-mean.js';
import { runCli } from './helpers/run-cli.js';
import { tempDir } from './helpers/temp-dir.js';

// A typo must not turn into a file or a directory: `/backup lst` once wrote a 479 MiB backup named `lst`, and
// `/backup /nonexistent/dir/x.db` made `/nonexistent/dir`. The compiled CLI, spawned, as a user runs it.

function setUp() {
  const root = tempDir();
  return { root, env: { NUAGENT_HOME: path.join(root, 'home') } };
}

describe('did you mean', () => {
  it('suggests the close subcommand and nothing for an unrelated word', () => {
    const words = ['list', 'verify', 'restore', 'prune', 'auto'];
    expect(closest('lst', words)).toBe('list');
    expect(closest('ls', words)).toBe('list');
    expect(closest('LIST', words)).toBe('list');
    expect(closest('lsit', words)).toBe('list');
    expect(closest('verfiy', words)).toBe('verify');
    expect(closest('restor', words)).toBe('restore');
    expect(closest('mybackup', words)).toBeUndefined();
    expect(closest('nightly', words)).toBeUndefined();
    expect(closest('bakup', ['backup', 'auto-backup', 'help'])).toBe('backup');
  });
});

describe('a mistyped backup word', () => {
  it('nu-agent backup lst asks "did you mean list?" (exit 2) and writes no file', async () => {
    const { root, env } = setUp();
    const run = await runCli(['backup', 'lst'], '', { env, cwd: root });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('Error: "lst" is not a nu-agent backup command; did you mean nu-agent backup list?');
    expect(run.stderr).toContain('nu-agent backup ./lst');
    expect(fs.readdirSync(root)).toEqual([]);
  });

  it('/backup lst in the REPL asks the same and writes no file; ./lst is still a file name', async () => {
    const { root, env } = setUp();
    const run = await runCli([], '/backup lst\n/backup ./nightly\n', { env, cwd: root });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('Error: "lst" is not a /backup command; did you mean /backup list?');
    expect(fs.existsSync(path.join(root, 'lst'))).toBe(false);
    expect(fs.existsSync(path.join(root, 'nightly'))).toBe(true);
  });

  it('nu-agent bakup says "unknown command, did you mean backup"; nu-agent help shows the help', async () => {
    const typo = await runCli(['bakup']);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toContain('Error: unknown command "bakup"; did you mean nu-agent backup?');
    expect(typo.stderr).not.toContain('too many arguments');
    const help = await runCli(['help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: nu-agent \[options\] \[command\]/);
    const helpBackup = await runCli(['help', 'backup']);
    expect(helpBackup.stdout).toMatch(/^Usage: nu-agent backup \[destination\]/);
    // The argument is named for what it is, not "words".
    expect(helpBackup.stdout).toMatch(/^ {2}destination +a file, or a directory/m);
  });
});

describe('a destination in a directory that does not exist', () => {
  it('is refused with a mkdir -p hint, and no directory is made', async () => {
    const { root, env } = setUp();
    const missing = path.join(root, 'no such', 'dir');
    const run = await runCli(['backup', path.join(missing, 'x.db')], '', { env, cwd: root });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`Error: the destination directory ${missing} does not exist`);
    expect(run.stderr).toContain(`Try: Create it first (mkdir -p '${missing}')`);
    expect(fs.existsSync(path.join(root, 'no such'))).toBe(false);
  });

  it("is made when it is nu-agent's own backup directory", async () => {
    const { root, env } = setUp();
    const run = await runCli(['auto-backup', 'run'], '', { env, cwd: root });
    expect(run.stderr).not.toContain('Error');
    expect(run.code).toBe(0);
    expect(fs.readdirSync(path.join(env.NUAGENT_HOME, 'backups')).some((f) => f.endsWith('.db'))).toBe(true);
  });

  it('/backup /proc/x.db is not blamed on disk space', async () => {
    const { root, env } = setUp();
    const run = await runCli(['backup', '/proc/x.db'], '', { env, cwd: root });
    expect(run.code).toBe(1);
    expect(run.stderr).not.toMatch(/space/i);
    expect(run.stderr).toMatch(/^Error: .*\/proc/m);
  });

  it('a --database in a directory that does not exist says so, not "permission"', async () => {
    const { root } = setUp();
    const missing = path.join(root, 'gone');
    const run = await runCli(['--database', path.join(missing, 'memory.db')], '/info\n', { cwd: root });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`Error: the database directory ${missing} does not exist`);
    expect(run.stderr).toContain(`mkdir -p ${missing}`);
    expect(run.stderr).not.toMatch(/permission/i);
  });
});
