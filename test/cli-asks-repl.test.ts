import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, startRepl } from './helpers/run-cli.js';
import { tempDir } from './helpers/temp-dir.js';

// `nu-agent backup`, `backup restore` and `backup list` from a shell while a REPL holds the database: they ask
// the REPL over the control socket instead of failing with "in use by another process". The compiled CLI as
// child processes, a temp NUAGENT_HOME, a real REPL, a real socket, the real backup service.

describe('a shell command asks the running REPL', () => {
  // Eight CLI processes one after another: generous on a loaded 2-core machine.
  it(
    'backs up, lists what was recorded elsewhere, flags it once gone, and restores with --yes',
    { timeout: 240_000 },
    async () => {
      const home = path.join(tempDir(), 'home');
      const env = { NUAGENT_HOME: home };
      const repl = await startRepl(env, path.join(home, 'control.sock'));
      const elsewhere = tempDir();

      // A relative destination is relative to the shell's working directory, not the REPL's.
      const backup = await runCli(['backup', 'kept.db'], '', { env, cwd: elsewhere });
      expect(backup.stderr).not.toContain('Error:');
      expect(backup.code).toBe(0);
      expect(backup.stdout).toContain('Backing up database...');
      expect(backup.stdout).toContain(path.join(elsewhere, 'kept.db'));
      expect(fs.existsSync(path.join(elsewhere, 'kept.db.manifest.json'))).toBe(true);

      // list from a shell: no alarming note, and the backup made outside the backup directory is listed.
      const listed = await runCli(['backup', 'list'], '', { env, cwd: tempDir() });
      expect(listed.code).toBe(0);
      expect(listed.stderr).not.toMatch(/Note:|in use/);
      expect(listed.stdout).toContain(path.join(elsewhere, 'kept.db'));

      // A second backup elsewhere, then gone: still listed (from backup_runs), flagged missing.
      expect((await runCli(['backup', 'gone.db'], '', { env, cwd: elsewhere })).code).toBe(0);
      fs.rmSync(path.join(elsewhere, 'gone.db'));
      fs.rmSync(path.join(elsewhere, 'gone.db.manifest.json'));
      const afterRemoval = await runCli(['backup', 'list', '--json'], '', { env, cwd: tempDir() });
      expect(afterRemoval.code).toBe(0);
      const { backups } = JSON.parse(afterRemoval.stdout) as { backups: { path: string; state: string }[] };
      expect(backups).toContainEqual(
        expect.objectContaining({ path: path.join(elsewhere, 'gone.db'), state: 'missing' }),
      );
      expect(backups).toContainEqual(expect.objectContaining({ path: path.join(elsewhere, 'kept.db'), state: 'ok' }));

      // Confirmation stays with the asking terminal: none here, no --yes, so nothing is asked of the REPL.
      const unconfirmed = await runCli(['backup', 'restore', 'kept.db'], '', { env, cwd: elsewhere });
      expect(unconfirmed.code).toBe(2);
      expect(unconfirmed.stderr).toMatch(/no terminal to confirm on\nTry: Add --yes/);

      const restored = await runCli(['backup', 'restore', 'kept.db', '--yes'], '', { env, cwd: elsewhere });
      expect(restored.stderr).not.toContain('Error:');
      expect(restored.code).toBe(0);
      expect(restored.stdout).toContain(`Restored ${path.join(elsewhere, 'kept.db')}`);

      repl.child.stdin.end('/exit\n');
      const { code, stdout } = await repl.finished;
      expect(code).toBe(0);
      const from = `from another terminal \\(pid \\d+\\)`;
      expect(stdout).toMatch(new RegExp(`Notice: a backup was asked ${from}; it runs now`));
      expect(stdout).toMatch(
        new RegExp(`Notice: the backup asked ${from} is done: ${path.join(elsewhere, 'kept.db')}`),
      );
      expect(stdout).toMatch(new RegExp(`Notice: the memory was restored from ${path.join(elsewhere, 'kept.db')}`));
    },
  );
});
