import fs from 'node:fs';
import path from 'node:path';
import { CreateMultipartUploadCommand } from '@aws-sdk/client-s3';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { describe, expect, it } from 'vitest';
import { parseRemote } from '../src/offsite/location.js';
import { RemoteStore } from '../src/offsite/remote-store.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { fillBulk } from './helpers/backup-app.js';
import { addConversations } from './helpers/hand-made-backup.js';
import { collect, runCli, startCli, withoutWaitLines } from './helpers/run-cli.js';
import { startS3Server } from './helpers/s3-server.js';
import { tempDir } from './helpers/temp-dir.js';

// What a nu-agent killed mid-upload (SIGKILL: no handler runs) leaves, and who cleans it up: the multipart upload
// it had open is aborted by the next offsite command for that place (only uploads of processes that are gone),
// and its plaintext staging copy waits in a private directory of the data directory until the next start.
// The compiled CLI (`npm run build` first) against s3rver in a child process.

const WORK_DIR = /^\.nuagent-offsite-/;

async function setUp() {
  const server = await startS3Server();
  const dir = tempDir('nuagent-offsite-kill-');
  const db = path.join(dir, 'memory.db');
  await addConversations(db, 2, 'before');
  const store = await MemoryStore.open(db);
  await fillBulk(store, 40_000);
  await store.close();
  const identity = await generateX25519Identity();
  fs.writeFileSync(path.join(dir, 'recipients.txt'), `${await identityToRecipient(identity)}\n`);
  const home = path.join(dir, 'home');
  const env = {
    ...server.env,
    NUAGENT_HOME: home,
    NUAGENT_BACKUP_RECIPIENTS: path.join(dir, 'recipients.txt'),
  };
  return { server, dir, db, home, env };
}

const notes = (home: string) => {
  const dir = path.join(home, 'offsite-uploads');
  return fs.existsSync(dir) ? fs.readdirSync(dir) : [];
};

async function until(what: string, check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('a nu-agent killed in the middle of an upload', () => {
  it(
    'leaves its plaintext only in a private directory of its own, which the next start removes, and an open ' +
      'upload that the next command for that place aborts, saying so',
    { timeout: 180_000 },
    async () => {
      const s = await setUp();
      const child = startCli(['--database', s.db, 'backup', 's3://bucket/nu/k.db'], { env: s.env, cwd: s.dir });
      const ran = collect(child);
      // The upload has an id and this machine noted it: stop the server answering, so it cannot finish, and kill.
      await until('the upload to begin', () => notes(s.home).length > 0 || child.exitCode !== null);
      s.server.pause();
      child.kill('SIGKILL');
      await ran;
      s.server.resume();
      expect(s.server.openUploads('bucket')).toHaveLength(1);
      expect(s.server.keys('bucket')).toEqual([]);

      // Nothing beside the database; the staging copy in the data directory, readable by nobody else.
      expect(fs.readdirSync(s.dir).filter((n) => WORK_DIR.test(n))).toEqual([]);
      const staged = fs.readdirSync(s.home).filter((n) => WORK_DIR.test(n));
      expect(staged).toHaveLength(1);
      const stagingDir = path.join(s.home, staged[0]!);
      const dirStat = fs.statSync(stagingDir);
      expect(dirStat.mode & 0o777).toBe(0o700);
      expect(dirStat.uid).toBe(process.getuid!());
      expect(fs.statSync(s.home).mode & 0o077).toBe(0);
      for (const name of fs.readdirSync(stagingDir))
        expect(fs.lstatSync(path.join(stagingDir, name)).mode & 0o077).toBe(0);

      // The next offsite command for that place aborts the upload the dead process left, and says so once.
      const listed = await runCli(['--database', s.db, 'backup', 'list', 's3://bucket/nu/'], '', {
        env: s.env,
        cwd: s.dir,
      });
      expect(withoutWaitLines(listed.stderr)).toBe('');
      expect(listed.code).toBe(0);
      expect(listed.stdout).toMatch(
        /^Aborted an unfinished upload left by a nu-agent that is gone: s3:\/\/bucket\/nu\/k\.db\.age$/m,
      );
      expect(listed.stdout).not.toMatch(/partial/);
      expect(s.server.openUploads('bucket')).toEqual([]);
      expect(notes(s.home)).toEqual([]);

      // The next start (here a local backup) removes the staging directory: its process is gone.
      const local = await runCli(['--database', s.db, 'backup', path.join(s.dir, 'local.db')], '', {
        env: s.env,
        cwd: s.dir,
      });
      expect(local.code).toBe(0);
      expect(fs.existsSync(stagingDir)).toBe(false);

      // And the same backup now goes through, leaving no work directory anywhere and no line about leftovers.
      const again = await runCli(['--database', s.db, 'backup', 's3://bucket/nu/k.db'], '', { env: s.env, cwd: s.dir });
      expect(withoutWaitLines(again.stderr)).toBe('');
      expect(again.code).toBe(0);
      expect(again.stdout).not.toMatch(/Aborted/);
      expect(s.server.keys('bucket')).toEqual(['nu/k.db.age', 'nu/k.db.manifest.json']);
      expect(fs.readdirSync(s.home).filter((n) => WORK_DIR.test(n))).toEqual([]);
    },
  );
});

describe('uploads that are not abandoned', () => {
  it('leaves the upload of a live process open', async () => {
    const server = await startS3Server();
    const home = tempDir();
    const env = { ...process.env, ...server.env, NUAGENT_HOME: home };
    const saved = process.env;
    process.env = env;
    try {
      const store = new RemoteStore(parseRemote('s3://bucket/nu/'), undefined, env);
      // This process is alive: its upload is in progress, whatever the place.
      await store.client.send(new CreateMultipartUploadCommand({ Bucket: 'bucket', Key: 'nu/live.db.age' }));
      expect(notes(home)).toHaveLength(1);
      expect(await store.abortAbandonedUploads()).toEqual([]);
      store.destroy();
      expect(server.openUploads('bucket')).toHaveLength(1);
    } finally {
      process.env = saved;
    }
  });
});
