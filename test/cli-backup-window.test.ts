import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { collect, runCli, startCli } from './helpers/run-cli.js';
import { tempDir } from './helpers/temp-dir.js';

// A nu-agent started while another process backs up the same database must not open the file during that
// backup's closed window (its reopen would fail): it waits for the backup lock, then starts normally.

const LOCK_MODULE = fileURLToPath(new URL('../dist/src/backup/backup-lock.js', import.meta.url));

it('waits for a backup running in another process before opening the database', async () => {
  const home = tempDir();
  fs.chmodSync(home, 0o700);
  const env = { NUAGENT_HOME: home };
  expect((await runCli([], '/exit\n', { env })).code).toBe(0);

  // Another process holds the backup lock, as a running backup does, until the test tells it to let go.
  const holder = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const { acquireBackupLock } = await import(${JSON.stringify(LOCK_MODULE)});
       const lock = await acquireBackupLock(${JSON.stringify(path.join(home, 'memory.db.backup-lock'))});
       process.stdout.write('locked' + String.fromCharCode(10));
       process.stdin.once('data', async () => { await lock.release(); process.exit(0); });`,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const holderExited = once(holder, 'exit');
  await new Promise<void>((resolve) =>
    holder.stdout.on('data', (d: Buffer) => d.toString().includes('locked') && resolve()),
  );

  const child = startCli([], { env });
  const run = collect(child);
  child.stdin.end('/info\n/exit\n');
  // The new process says why it waits; only then does the "backup" finish.
  await new Promise<void>((resolve) =>
    child.stderr.on('data', (d: Buffer) => d.toString().includes('Waiting for the backup') && resolve()),
  );
  holder.stdin.end('release\n');
  await holderExited;

  const { code, stderr, stdout } = await run;
  expect(stderr).toMatch(/Waiting for the backup running in process \d+/);
  expect(code).toBe(0);
  expect(stdout).toContain(path.join(home, 'memory.db'));
});
