import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { runCli } from './helpers/run-cli.js';
import { tempDir } from './helpers/temp-dir.js';

// A nu-agent started while another process backs up the same database must not open the file during that
// backup's closed window (its reopen would fail): it waits for the backup lock, then starts normally.

const LOCK_MODULE = fileURLToPath(new URL('../dist/src/backup/backup-lock.js', import.meta.url));

it('waits for a backup running in another process before opening the database', async () => {
  const home = tempDir();
  fs.chmodSync(home, 0o700);
  const env = { NUAGENT_HOME: home };
  expect((await runCli([], '/exit\n', { env })).code).toBe(0);

  // Another process holds the backup lock for a while, as a running backup does.
  const holder = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const { acquireBackupLock } = await import(${JSON.stringify(LOCK_MODULE)});
       const lock = await acquireBackupLock(${JSON.stringify(path.join(home, 'memory.db.backup-lock'))});
       process.stdout.write('locked' + String.fromCharCode(10));
       setTimeout(async () => { await lock.release(); process.exit(0); }, 1500);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const holderExited = once(holder, 'exit');
  await new Promise<void>((resolve) =>
    holder.stdout.on('data', (d: Buffer) => d.toString().includes('locked') && resolve()),
  );

  const run = await runCli([], '/info\n/exit\n', { env });
  await holderExited;
  expect(run.stderr).toMatch(/Waiting for the backup running in process \d+/);
  expect(run.code).toBe(0);
  expect(run.stdout).toContain(path.join(home, 'memory.db'));
});
