import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupAfterCrash, copyJournalPath } from '../src/backup/inflight.js';
import { identityOf, isProcessAlive, ownIdentity } from '../src/backup/lock-owner.js';
import { createTempFile, removeStaleTempFiles } from '../src/backup/durable-file.js';
import { abandonedUploads, noteUpload } from '../src/offsite/upload-journal.js';
import { sweepWorkDirs } from '../src/offsite/work-dir.js';
import { tempDir } from './helpers/temp-dir.js';

// A crashed nu-agent's leftovers (a temporary copy, an offsite work directory, an upload note, a copy journal)
// name the process that made them. The system hands a dead process's pid to the next program that starts, so a
// pid alone could keep those leftovers "alive" forever. A pid reuse cannot be produced on demand, so each test
// takes a real live process (a child that sleeps) and writes what a crashed nu-agent would have written had
// it run under the same pid: the same pid, another start time. The /proc parts run where there is a /proc.

const hasProc = fs.existsSync('/proc/self/stat');
const hostTag = crypto.createHash('sha256').update(os.hostname()).digest('hex').slice(0, 8);
const bootTag = (id: string | undefined) => (id ?? '').replace(/-/g, '').slice(0, 8);

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

/** A live process that is not nu-agent: the program that now holds a crashed nu-agent's pid. */
async function anotherProgram(): Promise<{ pid: number; startTicks: string; bootId: string }> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  children.push(child);
  await new Promise((resolve) => child.once('spawn', resolve));
  const id = identityOf(child.pid!);
  return { pid: child.pid!, startTicks: id.startTicks!, bootId: id.bootId! };
}

/** A start time that is not the program's: what the crashed nu-agent under that pid had. */
const earlier = (ticks: string) => String(Number(ticks) - 1);

/** A private directory of ours with exactly this name, as mkdtemp would have made it. */
function leftover(parent: string, name: string): string {
  const dir = path.join(parent, name);
  fs.mkdirSync(dir, { mode: 0o700 });
  fs.writeFileSync(path.join(dir, 'copy'), 'half a backup');
  return dir;
}

describe.runIf(hasProc)('leftovers of a crashed process whose pid another program has now', () => {
  it('a temporary copy is removed; that of the live program under its own identity, or an old pid-only name, is kept', async () => {
    const dir = tempDir('nuagent-reuse-');
    const other = await anotherProgram();
    const boot = bootTag(other.bootId);
    const crashed = leftover(
      dir,
      `.b.db.nu-agent-tmp-${hostTag}-${other.pid}-${earlier(other.startTicks)}-${boot}-aB3dE9`,
    );
    const live = leftover(dir, `.c.db.nu-agent-tmp-${hostTag}-${other.pid}-${other.startTicks}-${boot}-Zz9Yy8`);
    const oldName = leftover(dir, `.d.db.nu-agent-tmp-${hostTag}-${other.pid}-Qq1Ww2`);
    const beforeReboot = leftover(
      dir,
      `.e.db.nu-agent-tmp-${hostTag}-${other.pid}-${other.startTicks}-00000000-Kk7Jj6`,
    );
    const mine = path.dirname(createTempFile(path.join(dir, 'f.db')));

    expect(removeStaleTempFiles(dir).sort()).toEqual([crashed, beforeReboot].sort());
    expect([live, oldName, mine].every((d) => fs.existsSync(d))).toBe(true);
  });

  it('an offsite work directory is removed by the sweep; that of a live process is kept', async () => {
    const dir = tempDir('nuagent-reuse-');
    const other = await anotherProgram();
    const boot = bootTag(other.bootId);
    const crashed = leftover(
      dir,
      `.nuagent-offsite-${hostTag}-${other.pid}-${earlier(other.startTicks)}-${boot}-aB3dE9`,
    );
    const live = leftover(dir, `.nuagent-offsite-${hostTag}-${other.pid}-${other.startTicks}-${boot}-Zz9Yy8`);
    const oldName = leftover(dir, `.nuagent-offsite-${hostTag}-${other.pid}-Qq1Ww2`);

    expect(sweepWorkDirs(dir)).toEqual([crashed]);
    expect(fs.existsSync(live) && fs.existsSync(oldName)).toBe(true);
  });

  it('an upload noted by it is abandoned; one noted by this process or in an old note is not', async () => {
    const home = tempDir('nuagent-reuse-');
    const other = await anotherProgram();
    const where = { endpoint: 'http://127.0.0.1:9', bucket: 'b', prefix: 'nu/' };
    const write = (uploadId: string, fields: Record<string, unknown>) =>
      fs.writeFileSync(
        path.join(home, 'offsite-uploads', `${uploadId}.json`),
        JSON.stringify({ host: os.hostname(), ...where, key: `nu/${uploadId}`, uploadId, startedAt: '', ...fields }),
        { mode: 0o600 },
      );
    noteUpload(home, { endpoint: where.endpoint, bucket: where.bucket, key: 'nu/mine', uploadId: 'mine' });
    write('crashed', { pid: other.pid, startTicks: earlier(other.startTicks), bootId: other.bootId });
    write('live', { pid: other.pid, startTicks: other.startTicks, bootId: other.bootId });
    write('old', { pid: other.pid });

    expect(abandonedUploads(home, where).map((n) => n.uploadId)).toEqual(['crashed']);
  });

  it('the copy journal it left is followed: its temporary copy is removed at the next start', async () => {
    const home = tempDir('nuagent-reuse-');
    const backups = tempDir('nuagent-reuse-');
    const paths = { home, database: path.join(home, 'memory.db') };
    const other = await anotherProgram();
    const destination = path.join(backups, 'b.db');
    const name = `.b.db.nu-agent-tmp-${hostTag}-${other.pid}-${earlier(other.startTicks)}-${bootTag(other.bootId)}-aB3dE9`;
    const temp = path.join(leftover(backups, name), 'copy');
    const journal = (startTicks: string) =>
      fs.writeFileSync(
        copyJournalPath(paths),
        JSON.stringify({ pid: other.pid, startTicks, bootId: other.bootId, host: os.hostname(), temp, destination }),
        { mode: 0o600 },
      );

    journal(other.startTicks); // the live program's own identity: a copy in progress, left alone
    expect(cleanupAfterCrash(paths)).toEqual([]);
    expect(fs.existsSync(temp)).toBe(true);

    journal(earlier(other.startTicks));
    expect(cleanupAfterCrash(paths)).toEqual([path.dirname(temp)]);
    expect(fs.existsSync(path.dirname(temp))).toBe(false);
  });

  it('a record names this process only while it carries its start time and boot', () => {
    const me = ownIdentity();
    expect(isProcessAlive(me)).toBe(true);
    expect(isProcessAlive({ pid: me.pid })).toBe(true);
    expect(isProcessAlive({ ...me, startTicks: earlier(me.startTicks!) })).toBe(false);
    expect(isProcessAlive({ ...me, bootId: '00000000-0000-0000-0000-000000000000' })).toBe(false);
    expect(isProcessAlive({ pid: 2 ** 22 + 1 })).toBe(false);
  });
});
