import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { catalogBackups } from '../src/backup/catalog.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { runCli, withoutWaitLines } from './helpers/run-cli.js';
import { tempDir } from './helpers/temp-dir.js';

// `nu-agent backup restore` and `/backup restore` as users and scripts run them: the compiled program, spawned,
// with real backups made by `nu-agent backup` itself. Exit codes: 0 restored, 1 failed, 2 needs --yes, 3 the
// backup failed verification.

async function setUp() {
  const root = tempDir();
  const env = { NUAGENT_HOME: path.join(root, 'home') };
  const backup = path.join(root, 'kept.db');
  // A conversation, the backup, then a second conversation the backup does not have.
  expect((await runCli([], 'the first question\n', { env, cwd: root })).code).toBe(0);
  const made = await runCli(['backup', backup], '', { env, cwd: root });
  expect(made.code).toBe(0);
  expect((await runCli([], '/new\nthe second question\n', { env, cwd: root })).code).toBe(0);
  const database = path.join(env.NUAGENT_HOME, 'memory.db');
  return { root, env, backup, database };
}

async function historyIn(database: string): Promise<string[]> {
  const store = await MemoryStore.open(database);
  try {
    return (await store.all<{ m: string }>(`SELECT content AS m FROM messages ORDER BY id`)).map((r) => r.m);
  } finally {
    await store.close();
  }
}

describe('nu-agent backup restore', () => {
  it('restores with --yes (exit 0), keeping a safety backup of the memory it replaced', async () => {
    const { root, env, backup, database } = await setUp();
    const before = await historyIn(database);
    expect(before.filter((m) => m.includes('question'))).toEqual(['the first question', 'the second question']);

    const run = await runCli(['backup', 'restore', backup, '--yes'], '', { env, cwd: root });
    expect(withoutWaitLines(run.stderr)).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Verdict: OK/m);
    expect(run.stdout).toMatch(/^Replacing the database\.\.\.$/m);
    expect(run.stdout).toContain(`Restored ${backup}`);

    const after = await historyIn(database);
    expect(after.filter((m) => m.includes('question'))).toEqual(['the first question']);
    const [safety] = catalogBackups([path.join(env.NUAGENT_HOME, 'backups')]);
    expect(safety?.state).toBe('ok');
    // Opened from a copy: the safety backup itself stays exactly as its manifest describes it.
    const copy = path.join(tempDir(), 'copy.db');
    fs.copyFileSync(safety!.path, copy);
    expect(await historyIn(copy)).toEqual(before);
  });

  it('refuses without --yes when there is no terminal (exit 2) and changes nothing', async () => {
    const { root, env, backup, database } = await setUp();
    const before = await historyIn(database);
    const run = await runCli(['backup', 'restore', backup], '', { env, cwd: root });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^Try: Add --yes to confirm/m);
    expect(await historyIn(database)).toEqual(before);
    expect(fs.existsSync(path.join(env.NUAGENT_HOME, 'backups'))).toBe(false);
  });

  it('refuses a backup that fails verification (exit 3) and changes nothing', async () => {
    const { root, env, backup, database } = await setUp();
    const before = await historyIn(database);
    fs.truncateSync(backup, fs.statSync(backup).size - 4096);
    const run = await runCli(['backup', 'restore', backup, '--yes'], '', { env, cwd: root });
    expect(run.code).toBe(3);
    expect(run.stdout).toMatch(/^Verdict: FAILED/m);
    expect(run.stderr).toMatch(/failed verification; nothing was changed/);
    expect(await historyIn(database)).toEqual(before);
  });

  it('restores from the piped REPL with --yes; /history then shows only what the backup held', async () => {
    const { root, env, backup } = await setUp();
    const run = await runCli([], `/backup restore ${backup}\n/backup restore ${backup} --yes\n/history\n`, {
      env,
      cwd: root,
    });
    expect(run.stderr).toMatch(/^Error: restoring .* no terminal to confirm on$/m);
    expect(run.stdout).toContain(`Restored ${backup}`);
    const history = run.stdout.slice(run.stdout.lastIndexOf('Restored'));
    expect(history).toContain('you: the first question');
    expect(history).not.toContain('the second question');
  });
});
