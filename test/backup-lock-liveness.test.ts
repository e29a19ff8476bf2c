import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { collect, runCli, startCli, withoutWaitLines } from './helpers/run-cli.js';
import { tempDir } from './helpers/temp-dir.js';

// The backup lock across real processes: a holder that is stopped (SIGSTOP, as Ctrl-Z or a debugger does) keeps
// its lock however long it stays stopped, and the others say so; a holder that died (SIGKILL) loses it at once.
// The first release judged a lock stale after 5 s without a heartbeat: a stopped backup lost its lock inside
// its closed window and a second process ran beside it.

const LOCK_MODULE = fileURLToPath(new URL('../dist/src/backup/backup-lock.js', import.meta.url));
/** Longer than the first release's stale time (5 s), so a stopped holder would have lost its lock there. */
const PAST_OLD_STALE_MS = 6500;

const holders: ChildProcessWithoutNullStreams[] = [];
afterEach(async () => {
  for (const holder of holders.splice(0)) {
    if (holder.exitCode === null && holder.signalCode === null) {
      holder.kill('SIGKILL');
      await once(holder, 'exit');
    }
  }
});

/** Another process that takes the backup lock and keeps it until it reads a line (or is killed). */
async function lockHolder(lockPath: string): Promise<{ child: ChildProcessWithoutNullStreams; pid: number }> {
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const { acquireBackupLock } = await import(${JSON.stringify(LOCK_MODULE)});
       const lock = await acquireBackupLock(${JSON.stringify(lockPath)});
       process.stdout.write('locked' + String.fromCharCode(10));
       process.stdin.once('data', async () => { await lock.release(); process.exit(0); });`,
    ],
    { stdio: 'pipe' },
  );
  holders.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('locked') && resolve());
    child.on('exit', (code) => reject(new Error(`the lock holder exited (${code}) before taking the lock`)));
  });
  return { child, pid: child.pid! };
}

async function homeWithDatabase(): Promise<{ home: string; env: NodeJS.ProcessEnv; lockPath: string }> {
  const home = tempDir();
  fs.chmodSync(home, 0o700);
  const env = { NUAGENT_HOME: home };
  expect((await runCli([], '/exit\n', { env })).code).toBe(0);
  return { home, env, lockPath: path.join(home, 'memory.db.backup-lock') };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the backup lock across processes', { timeout: 180_000 }, () => {
  it('a holder stopped past the old stale time keeps its lock: `nu-agent backup` is refused, naming it and how to resume it', async () => {
    const { home, env, lockPath } = await homeWithDatabase();
    const holder = await lockHolder(lockPath);
    holder.child.kill('SIGSTOP');
    await sleep(PAST_OLD_STALE_MS);

    const destination = path.join(home, 'b.db');
    const refused = await runCli(['backup', destination], '', { env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`Error: a backup is already running (process ${holder.pid}, since `);
    expect(refused.stderr).toContain('that process is stopped');
    expect(refused.stderr).toMatch(new RegExp(`Try: .*\`fg\`.*\`kill -CONT ${holder.pid}\`.*\`kill ${holder.pid}\``));
    expect(fs.existsSync(destination)).toBe(false);

    // Resumed, it finishes; then the backup runs.
    holder.child.kill('SIGCONT');
    holder.child.stdin.end('release\n');
    await once(holder.child, 'exit');
    const done = await runCli(['backup', destination], '', { env });
    expect(withoutWaitLines(done.stderr)).toBe('');
    expect(done.code).toBe(0);
    expect(fs.existsSync(destination)).toBe(true);
  });

  it('a REPL started while the holder is stopped waits, says it is stopped with a Try line, and opens only once it is done', async () => {
    const { home, env, lockPath } = await homeWithDatabase();
    const holder = await lockHolder(lockPath);
    holder.child.kill('SIGSTOP');

    const repl = startCli([], { env });
    const run = collect(repl);
    let stderr = '';
    repl.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    repl.stdin.end('/info\n/exit\n');
    await new Promise<void>((resolve) => {
      const seen = () => stderr.includes('Waiting for the backup') && resolve();
      repl.stderr.on('data', seen);
      seen();
    });
    await sleep(PAST_OLD_STALE_MS);
    // Still waiting: the database was not opened inside the stopped holder's closed window.
    expect(repl.exitCode).toBe(null);
    expect(stderr).not.toContain(path.join(home, 'memory.db'));

    holder.child.kill('SIGCONT');
    holder.child.stdin.end('release\n');
    const { code, stdout } = await run;
    expect(stderr).toContain(`Waiting for the backup running in process ${holder.pid}, since `);
    expect(stderr).toContain(`Process ${holder.pid} is stopped, so its backup cannot finish.`);
    expect(stderr).toMatch(new RegExp(`Try: .*\`kill -CONT ${holder.pid}\``));
    expect(code).toBe(0);
    expect(stdout).toContain(path.join(home, 'memory.db'));
  });

  it('the lock of a holder killed with SIGKILL is taken over at once, and the dead process is never named as running', async () => {
    const { home, env, lockPath } = await homeWithDatabase();
    const holder = await lockHolder(lockPath);
    holder.child.kill('SIGKILL');
    await once(holder.child, 'exit');
    expect(fs.existsSync(lockPath)).toBe(true); // left behind, naming a dead process

    const backup = await runCli(['backup', path.join(home, 'b.db')], '', { env });
    expect(backup.stderr).not.toContain(`process ${holder.pid}`);
    expect(backup.code).toBe(0);

    const again = await lockHolder(lockPath);
    again.child.kill('SIGKILL');
    await once(again.child, 'exit');
    const repl = await runCli([], '/exit\n', { env });
    expect(repl.stderr).not.toContain('Waiting for the backup');
    expect(repl.code).toBe(0);
  });
});

describe('the owner record of the backup lock', () => {
  function plant(record: Record<string, unknown>): string {
    const dir = tempDir('nuagent-lock-');
    const lockPath = path.join(dir, 'db.backup-lock');
    fs.mkdirSync(lockPath, { mode: 0o700 });
    // As nu-agent writes it for a process of this host (lock-owner.ts), with the fields the test chooses.
    const own = {
      format: 'nu-agent-backup-lock',
      pid: process.pid,
      host: os.hostname(),
      bootId: fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
      pidNamespace: fs.readlinkSync('/proc/self/ns/pid'),
      startTicks: '1',
      token: 'planted',
      since: new Date().toISOString(),
    };
    fs.writeFileSync(path.join(lockPath, 'owner.json'), JSON.stringify({ ...own, ...record }), { mode: 0o600 });
    return lockPath;
  }

  it('never writes through a link planted where the first release kept its owner file', async () => {
    const { acquireBackupLock } = await import('../src/backup/backup-lock.js');
    const dir = tempDir('nuagent-lock-');
    const victim = path.join(dir, 'notes.txt');
    fs.writeFileSync(victim, 'mine\n');
    const lockPath = path.join(dir, 'db.backup-lock');
    fs.symlinkSync(victim, `${lockPath}.owner`);

    const lock = await acquireBackupLock(lockPath);
    const inside = fs.readdirSync(lockPath);
    expect(inside).toEqual(['owner.json']);
    expect(fs.statSync(path.join(lockPath, 'owner.json')).mode & 0o777).toBe(0o600);
    expect(fs.statSync(lockPath).mode & 0o777).toBe(0o700);
    await lock.release();
    expect(fs.readFileSync(victim, 'utf8')).toBe('mine\n');
    expect(fs.existsSync(lockPath)).toBe(false);
  });

  it('takes over at once a lock whose pid now belongs to another program (its start time differs)', async () => {
    const { acquireBackupLock } = await import('../src/backup/backup-lock.js');
    const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)']);
    try {
      const lockPath = plant({ pid: other.pid, startTicks: '1' });
      const lock = await acquireBackupLock(lockPath);
      expect(JSON.parse(fs.readFileSync(path.join(lockPath, 'owner.json'), 'utf8')).pid).toBe(process.pid);
      await lock.release();
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('never takes over a lock held on another host, and says how to remove it once that holder is gone', async () => {
    const { acquireBackupLock } = await import('../src/backup/backup-lock.js');
    const lockPath = plant({ pid: 999_999, host: `not-${os.hostname()}` });
    const refused = await acquireBackupLock(lockPath).catch((err: unknown) => err);
    expect(refused).toMatchObject({
      code: 'BACKUP_RUNNING',
      message: expect.stringContaining(`(process 999999 on host not-${os.hostname()}, since `),
      hint: expect.stringContaining(`remove ${lockPath}`),
    });
    expect(JSON.parse(fs.readFileSync(path.join(lockPath, 'owner.json'), 'utf8')).pid).toBe(999_999);
    fs.rmSync(lockPath, { recursive: true });
  });

  it('waits for a lock of the first release while its holder refreshes it, and takes over one left by a crash', async () => {
    const { acquireBackupLock } = await import('../src/backup/backup-lock.js');
    const lockPath = path.join(tempDir('nuagent-lock-'), 'db.backup-lock');
    fs.mkdirSync(lockPath); // an empty directory whose mtime its holder refreshes every second
    await expect(acquireBackupLock(lockPath)).rejects.toMatchObject({
      code: 'BACKUP_RUNNING',
      message: expect.stringContaining('an older version of nu-agent'),
    });
    const crashed = new Date(Date.now() - 60_000);
    fs.utimesSync(lockPath, crashed, crashed);
    const lock = await acquireBackupLock(lockPath);
    await lock.release();
  });

  it('notices a lock removed from outside while it is held, and tells the run', async () => {
    const { acquireBackupLock } = await import('../src/backup/backup-lock.js');
    const lockPath = path.join(tempDir('nuagent-lock-'), 'db.backup-lock');
    const lock = await acquireBackupLock(lockPath);
    const noticed = new Promise<Error>((resolve) => lock.onLost(resolve));
    execFileSync('rm', ['-rf', lockPath]);
    expect(await noticed).toMatchObject({ code: 'BACKUP_LOCK_LOST', message: expect.stringContaining('removed') });
    expect(() => lock.assertHeld()).toThrow(/was lost/);
    // Not handed out again while the lost one is held; taken afresh once it is released.
    await expect(acquireBackupLock(lockPath)).rejects.toMatchObject({ code: 'BACKUP_LOCK_LOST' });
    await lock.release();
    const next = await acquireBackupLock(lockPath);
    await next.release();
  });

  it.runIf(process.getuid?.() === 0)('refuses a lock directory another user made, and leaves it alone', async () => {
    const { acquireBackupLock } = await import('../src/backup/backup-lock.js');
    const lockPath = plant({ pid: 999_999 }); // names a dead process: ours would be taken over at once
    fs.chownSync(lockPath, 65534, 65534);
    const refused = await acquireBackupLock(lockPath).catch((err: unknown) => err);
    expect(refused).toMatchObject({ code: 'BACKUP_LOCK_FOREIGN' });
    expect(fs.existsSync(path.join(lockPath, 'owner.json'))).toBe(true);
    fs.rmSync(lockPath, { recursive: true });
  });
});
