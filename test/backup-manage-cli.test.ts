import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { probe } from '../src/auto-backup/control-server.js';
import { manifestPathFor } from '../src/backup/types.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { collect, runCli, startCli, waitForOutput, withoutWaitLines } from './helpers/run-cli.js';
import { tempDir } from './helpers/temp-dir.js';
import { addConversations, handMadeBackup } from './helpers/hand-made-backup.js';

// `nu-agent backup list|verify|prune` as scripts run them: the compiled CLI, spawned, checked by exit code and
// output. Exit codes: 0 ok, 1 failure, 2 usage, 3 verification failed.

async function setUp() {
  const root = tempDir();
  const env = { NUAGENT_HOME: path.join(root, 'home') };
  const source = path.join(root, 'source.db');
  await addConversations(source, 5);
  const dir = path.join(root, 'backups');
  fs.mkdirSync(dir);
  const day = 86_400_000;
  for (let i = 0; i < 3; i++)
    await handMadeBackup(source, path.join(dir, `b${i}.db`), new Date(Date.now() - (i + 1) * day));
  fs.copyFileSync(source, path.join(dir, 'foreign.db'));
  return { root, env, dir, source, cwd: root };
}

describe('nu-agent backup list|verify|prune', () => {
  it('lists as JSON, flagging a damaged and a foreign file', async () => {
    const { env, dir, cwd } = await setUp();
    fs.truncateSync(path.join(dir, 'b2.db'), 512);
    const run = await runCli(['backup', 'list', dir, '--json'], '', { env, cwd });
    expect(withoutWaitLines(run.stderr)).toBe('');
    expect(run.code).toBe(0);
    const listed = JSON.parse(run.stdout) as { backups: { name: string; state: string }[] };
    expect(listed.backups.map((b) => [b.name, b.state])).toEqual([
      ['b0.db', 'ok'],
      ['b1.db', 'ok'],
      ['b2.db', 'damaged'],
      ['foreign.db', 'foreign'],
    ]);
  });

  it('verifies: 0 for an intact backup, 3 for a flipped byte, 1 for no file, 2 for no argument', async () => {
    const { env, dir, cwd } = await setUp();
    const good = await runCli(['backup', 'verify', path.join(dir, 'b0.db')], '', { env, cwd });
    expect(good.code).toBe(0);
    expect(good.stdout).toMatch(/^Verdict: OK/m);

    const file = path.join(dir, 'b1.db');
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 100] = bytes[bytes.length - 100]! ^ 0xff;
    fs.writeFileSync(file, bytes);
    const bad = await runCli(['backup', 'verify', file], '', { env, cwd });
    expect(bad.code).toBe(3);
    expect(bad.stdout).toMatch(/^ {2}hash +FAILED/m);
    expect(bad.stdout).toMatch(/^Verdict: FAILED/m);
    expect(bad.stderr).toMatch(/^Error: .*b1\.db failed verification$/m);

    expect((await runCli(['backup', 'verify', path.join(dir, 'nope.db')], '', { env, cwd })).code).toBe(1);
    expect((await runCli(['backup', 'verify'], '', { env, cwd })).code).toBe(2);
  });

  it('prunes: the dry run deletes nothing, the real run keeps the newest and the foreign file', async () => {
    const { env, dir, cwd, source } = await setUp();
    const before = fs.readdirSync(dir).sort();
    // Prune takes part only the backups of the database it is run for.
    const other = await runCli(['backup', 'prune', '--keep', '1', '--dir', dir], '', { env, cwd });
    expect(other.code).toBe(0);
    expect(other.stdout).toContain(`Kept: ${path.join(dir, 'b1.db')}: a backup of another database (${source})`);
    expect(fs.readdirSync(dir).sort()).toEqual(before);
    const mine = (args: string[]) => runCli(['--database', source, ...args], '', { env, cwd });
    const dry = await mine(['backup', 'prune', '--keep', '1', '--dir', dir, '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`Would remove: ${path.join(dir, 'b1.db')}`);
    expect(dry.stdout).toContain('(dry run: nothing was deleted)');
    expect(fs.readdirSync(dir).sort()).toEqual(before);

    const real = await mine(['backup', 'prune', '--keep', '1', '--dir', dir]);
    expect(real.code).toBe(0);
    expect(real.stdout).toContain(`Removed: ${path.join(dir, 'b2.db')}`);
    expect(fs.readdirSync(dir).sort()).toEqual(['b0.db', path.basename(manifestPathFor('b0.db')), 'foreign.db']);
  });

  it('lists and verifies while another nu-agent has the database open', async () => {
    const { env, dir, cwd } = await setUp();
    const repl = startCli([], { env, cwd });
    try {
      await waitForOutput(repl, 'Type a message');
      // The REPL answers on its control socket once it is up; list asks it where to look (no alarming note).
      const socket = path.join(env.NUAGENT_HOME, 'control.sock');
      while ((await probe(socket)) !== 'live') await new Promise((r) => setTimeout(r, 20));
      const list = await runCli(['backup', 'list', '--json'], '', { env, cwd: dir });
      expect(list.code).toBe(0);
      expect(list.stderr).not.toMatch(/Note:|in use/);
      const listed = JSON.parse(list.stdout) as { backups: { name: string }[] };
      expect(listed.backups.map((b) => b.name)).toContain('b0.db');
      const verify = await runCli(['backup', 'verify', path.join(dir, 'b0.db')], '', { env, cwd });
      expect(verify.code).toBe(0);
    } finally {
      repl.stdin.end('/exit\n');
      await collect(repl);
    }
  });

  it('says plainly what list leaves out when a process that takes no requests holds the database', async () => {
    const { env, dir } = await setUp();
    // This test process holds the database file open, as a one-shot command would: no control socket.
    const store = await MemoryStore.open(path.join(env.NUAGENT_HOME, 'memory.db'), { createParentDir: true });
    try {
      const list = await runCli(['backup', 'list'], '', { env, cwd: dir });
      expect(list.code).toBe(0);
      expect(withoutWaitLines(list.stderr)).toMatch(
        /^Note: another process is using the database \(.*\), so this looks only in .*; backups written elsewhere are not listed\./,
      );
      expect(list.stdout).toContain('b0.db');
    } finally {
      await store.close();
    }
  });

  it('refuses a prune that names no rule or would keep nothing, with exit code 2', async () => {
    const { env, dir, cwd } = await setUp();
    const none = await runCli(['backup', 'prune', '--dir', dir], '', { env, cwd });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^Error: prune needs a rule/m);
    const zero = await runCli(['backup', 'prune', '--keep', '0', '--dir', dir], '', { env, cwd });
    expect(zero.code).toBe(2);
    expect(fs.readdirSync(dir)).toHaveLength(7);
  });
});
