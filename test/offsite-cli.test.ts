import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { describe, expect, it } from 'vitest';
import type { RemoteManifest } from '../src/offsite/remote-manifest.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { hashFile } from '../workers/copy-engine/file-hash.js';
import { fillBulk } from './helpers/backup-app.js';
import { addConversations, historyOf } from './helpers/hand-made-backup.js';
import { runCli, withoutWaitLines } from './helpers/run-cli.js';
import { startS3Server } from './helpers/s3-server.js';
import type { S3Server } from './helpers/s3-server.js';
import { tempDir } from './helpers/temp-dir.js';

// `nu-agent backup s3://…` and `backup list|verify|restore|prune s3://…` end to end: the compiled CLI (run
// `npm run build` first) against a real S3-compatible server on 127.0.0.1 (s3rver in a child process), with
// the environment a user would set. Nothing here needs a network or an account.

const AGE = spawnSync('age', ['--version']).status === 0;

interface Setup {
  server: S3Server;
  dir: string;
  db: string;
  env: Record<string, string>;
  keyFile: string;
}

async function setUp(options: { bulk?: number } = {}): Promise<Setup> {
  const server = await startS3Server();
  const dir = tempDir('nuagent-offsite-cli-');
  const db = path.join(dir, 'memory.db');
  await addConversations(db, 3, 'before');
  if (options.bulk) {
    const store = await MemoryStore.open(db);
    await fillBulk(store, options.bulk);
    await store.close();
  }
  const identity = await generateX25519Identity();
  const keyFile = path.join(dir, 'key.txt');
  fs.writeFileSync(keyFile, `# created: by the test\n${identity}\n`, { mode: 0o600 });
  fs.writeFileSync(path.join(dir, 'recipients.txt'), `${await identityToRecipient(identity)}\n`);
  const env = { ...server.env, NUAGENT_HOME: path.join(dir, 'home') };
  return { server, dir, db, env, keyFile };
}

const withKeys = (s: Setup) => ({
  ...s.env,
  NUAGENT_BACKUP_RECIPIENTS: path.join(s.dir, 'recipients.txt'),
  NUAGENT_BACKUP_IDENTITY: s.keyFile,
});

const cli = (s: Setup, args: string[], env: Record<string, string> = s.env) =>
  runCli(['--database', s.db, ...args], '', { env, cwd: s.dir });

const manifestOf = (s: Setup, key: string) =>
  JSON.parse(fs.readFileSync(s.server.objectFile('bucket', key), 'utf8')) as RemoteManifest;

/** What a fault must leave: nothing at the place, nothing staged or downloaded beside the memory. */
function leftovers(s: Setup): string[] {
  const home = s.env.NUAGENT_HOME!;
  const staged = fs.existsSync(home) ? fs.readdirSync(home).filter((n) => n.startsWith('.nuagent-offsite-')) : [];
  const beside = fs.readdirSync(s.dir).filter((n) => n.startsWith('.nuagent-offsite-'));
  return [...staged, ...beside, ...s.server.keys('bucket')];
}

const errorAndTry = (stderr: string) => withoutWaitLines(stderr).trim().split('\n');

describe('an encrypted offsite backup from the command line', () => {
  it('goes up in parts, is listed, verified, decrypted by age, and restored', { timeout: 180_000 }, async () => {
    const s = await setUp({ bulk: 40_000 });
    const env = withKeys(s);
    const made = await cli(s, ['backup', 's3://bucket/nu/'], env);
    expect(withoutWaitLines(made.stderr)).toBe('');
    expect(made.code).toBe(0);
    expect(made.stdout).toMatch(
      /Uploading to s3:\/\/bucket\/nu\/memory-.*\.db\.age \(.*encrypted with age for 1 recipient\)/,
    );
    expect(made.stdout).toMatch(/Backup uploaded successfully:\n {2}Path: s3:\/\/bucket\/nu\/memory-/);
    const [object, manifestKey] = s.server.keys('bucket');
    expect(object).toMatch(/^nu\/memory-\d{4}-\d{2}-\d{2}-\d{6}\.db\.age$/);
    expect(manifestKey).toBe(object!.replace(/\.age$/, '.manifest.json'));
    expect(leftovers(s)).toEqual([object, manifestKey]);
    const manifest = manifestOf(s, manifestKey!);
    // Bigger than one 8 MiB part: the upload was a multipart one.
    expect(manifest.stored.sizeBytes).toBeGreaterThan(8 * 1024 * 1024);
    const url = `s3://bucket/${object!.replace(/\.age$/, '')}`;

    const listed = await cli(s, ['backup', 'list', 's3://bucket/nu/', '--json']);
    expect(listed.code).toBe(0);
    const backups = (JSON.parse(listed.stdout) as { backups: { path: string; state: string }[] }).backups;
    expect(backups.map((b) => [b.path, b.state])).toEqual([[url, 'ok']]);

    const verified = await cli(s, ['backup', 'verify', url], env);
    expect(verified.code).toBe(0);
    expect(verified.stdout).toMatch(/sha256 matches the manifest; encrypted with age for 1 recipient, decrypted/);
    expect(verified.stdout).toMatch(/Verdict: OK/);

    if (AGE) {
      // The standard age tool, without nu-agent, reads the very bytes stored.
      const plain = path.join(s.dir, 'by-age.db');
      const age = spawnSync('age', ['-d', '-i', s.keyFile, '-o', plain, s.server.objectFile('bucket', object!)]);
      expect(age.status).toBe(0);
      expect(hashFile(plain, 'xxh3-128').hash).toBe(manifest.hash.value);
      fs.rmSync(plain);
    }

    // Where the backup is, in every line: its URL, never the temporary copy it was verified or restored from.
    expect(verified.stdout).toMatch(new RegExp(`^Verifying ${url.replace(/\./g, '\\.')}$`, 'm'));
    expect(verified.stdout).not.toMatch(/\.nuagent-offsite-/);
    const localList = await cli(s, ['backup', 'list'], env);
    expect(localList.stdout).not.toMatch(/\.nuagent-offsite-/);

    await addConversations(s.db, 2, 'after');
    const restored = await cli(s, ['backup', 'restore', url, '--yes'], env);
    expect(withoutWaitLines(restored.stderr)).toBe('');
    expect(restored.code).toBe(0);
    expect(restored.stdout).not.toMatch(/\.nuagent-offsite-/);
    expect(restored.stdout).toContain(`Restoring ${url}...`);
    expect(restored.stdout).toContain(`Restored ${url} (created`);
    const store = await MemoryStore.open(s.db);
    const history = await historyOf(store);
    await store.close();
    expect(history.some((h) => h.startsWith('before 0'))).toBe(true);
    expect(history.some((h) => h.startsWith('after'))).toBe(false);
    expect(fs.readdirSync(s.dir).filter((n) => n.startsWith('.nuagent-offsite-'))).toEqual([]);
  });
});

describe('plaintext is never uploaded by accident', () => {
  it(
    'refuses without keys before anything is paused, and uploads plaintext with --no-encrypt',
    { timeout: 120_000 },
    async () => {
      const s = await setUp();
      const refused = await cli(s, ['backup', 's3://bucket/nu/x.db']);
      expect(refused.code).toBe(1);
      expect(refused.stdout).not.toMatch(/Pausing/);
      expect(errorAndTry(refused.stderr)).toEqual([
        'Error: refusing to upload an unencrypted backup to s3://bucket/nu/x.db',
        expect.stringMatching(/^Try: Make a key with `age-keygen -o .*NUAGENT_BACKUP_RECIPIENTS.*--no-encrypt/),
      ]);
      expect(leftovers(s)).toEqual([]);

      const plain = await cli(s, ['backup', 's3://bucket/nu/x.db', '--no-encrypt']);
      expect(plain.code).toBe(0);
      expect(plain.stdout).toMatch(/NOT encrypted/);
      expect(s.server.keys('bucket')).toEqual(['nu/x.db', 'nu/x.db.manifest.json']);
      expect(manifestOf(s, 'nu/x.db.manifest.json').encryption).toBeNull();
      const verified = await cli(s, ['backup', 'verify', 's3://bucket/nu/x.db']);
      expect(verified.code).toBe(0);
    },
  );
});

describe('a passphrase-encrypted backup that is tampered with', () => {
  it(
    'needs the right passphrase, and a flipped byte fails verify (exit 3) and restore changes nothing',
    { timeout: 180_000 },
    async () => {
      const s = await setUp();
      const env = { ...s.env, NUAGENT_BACKUP_PASSPHRASE: 'correct horse', NUAGENT_BACKUP_SCRYPT_LOG_N: '12' };
      expect((await cli(s, ['backup', 's3://bucket/nu/p.db'], env)).code).toBe(0);
      expect(manifestOf(s, 'nu/p.db.manifest.json').encryption).toEqual({
        format: 'age',
        mode: 'scrypt',
        recipients: 1,
      });

      const wrong = await cli(s, ['backup', 'verify', 's3://bucket/nu/p.db'], {
        ...env,
        NUAGENT_BACKUP_PASSPHRASE: 'wrong',
      });
      expect(wrong.code).toBe(1);
      expect(errorAndTry(wrong.stderr)).toEqual([
        'Error: none of the configured keys decrypts s3://bucket/nu/p.db; nothing was changed',
        expect.stringMatching(/^Try: Check NUAGENT_BACKUP_IDENTITY \(or NUAGENT_BACKUP_PASSPHRASE\)/),
      ]);
      expect(leftovers(s)).toEqual(['nu/p.db.age', 'nu/p.db.manifest.json']);

      const stored = s.server.objectFile('bucket', 'nu/p.db.age');
      const bytes = fs.readFileSync(stored);
      bytes[bytes.length - 1000]! ^= 0x40;
      fs.writeFileSync(stored, bytes);
      const damaged = await cli(s, ['backup', 'verify', 's3://bucket/nu/p.db'], env);
      expect(damaged.code).toBe(3);
      expect(errorAndTry(damaged.stderr)).toEqual([
        expect.stringMatching(
          /^Error: s3:\/\/bucket\/nu\/p\.db is not what was uploaded \(its SHA-256 is .*\); nothing was changed$/,
        ),
        expect.stringMatching(/^Try: Do not restore from it/),
      ]);

      const before = await MemoryStore.open(s.db).then(async (store) => {
        const h = await historyOf(store);
        await store.close();
        return h;
      });
      const restore = await cli(s, ['backup', 'restore', 's3://bucket/nu/p.db', '--yes'], env);
      expect(restore.code).toBe(3);
      expect(restore.stdout).not.toMatch(/Safety backup/);
      const store = await MemoryStore.open(s.db);
      expect(await historyOf(store)).toEqual(before);
      await store.close();
      expect(fs.readdirSync(s.dir).filter((n) => n.startsWith('.nuagent-offsite-'))).toEqual([]);
    },
  );
});

describe('faults a user meets, each one Error and one Try line, and nothing left behind', () => {
  it(
    'wrong credentials, a missing bucket, nothing listening: refused before anything is paused',
    { timeout: 120_000 },
    async () => {
      const s = await setUp();
      const keyed = withKeys(s);
      const cases: [Record<string, string>, string, RegExp, RegExp][] = [
        [
          { ...keyed, AWS_ACCESS_KEY_ID: 'NOT-A-KEY' },
          's3://bucket/nu/',
          /^Error: the S3 service refused the credentials for s3:\/\/bucket\/nu\/ \(InvalidAccessKeyId\)$/,
          /^Try: Check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/,
        ],
        [
          keyed,
          's3://no-such-bucket/nu/',
          /^Error: the bucket of s3:\/\/no-such-bucket\/nu\/ does not exist$/,
          /^Try: Create the bucket first/,
        ],
        [
          { ...keyed, AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9' },
          's3://bucket/nu/',
          /^Error: cannot connect to http:\/\/127\.0\.0\.1:9 for s3:\/\/bucket\/nu\/: .*ECONNREFUSED/,
          /^Try: Check that the S3 server is running/,
        ],
      ];
      for (const [env, url, error, hint] of cases) {
        const run = await cli(s, ['backup', url], env);
        expect(run.code).toBe(1);
        expect(run.stdout).not.toMatch(/Pausing/);
        const lines = errorAndTry(run.stderr);
        expect(lines).toHaveLength(2);
        expect(lines[0]).toMatch(error);
        expect(lines[1]).toMatch(hint);
        expect(leftovers(s)).toEqual([]);
      }
      const listed = await cli(s, ['backup', 'list', 's3://no-such-bucket/'], keyed);
      expect(listed.code).toBe(1);
      expect(errorAndTry(listed.stderr)[0]).toBe('Error: the bucket of s3://no-such-bucket/ does not exist');
    },
  );
});

describe('pruning an offsite place', () => {
  it(
    'removes the older backup with its manifest and keeps the newest, by restic rules too',
    { timeout: 180_000 },
    async () => {
      const s = await setUp();
      const env = withKeys(s);
      expect((await cli(s, ['backup', 's3://bucket/nu/old.db'], env)).code).toBe(0);
      expect((await cli(s, ['backup', 's3://bucket/nu/new.db'], env)).code).toBe(0);
      // restic's rules apply remotely as they do locally: both were made today, the daily rule keeps the newer.
      const dry = await cli(s, ['backup', 'prune', '--keep-daily', '1', '--dir', 's3://bucket/nu/', '--dry-run']);
      expect(dry.code).toBe(0);
      expect(dry.stdout).toMatch(/Would remove: s3:\/\/bucket\/nu\/old\.db/);
      expect(s.server.keys('bucket')).toHaveLength(4);
      const pruned = await cli(s, ['backup', 'prune', '--keep', '1', '--dir', 's3://bucket/nu/']);
      expect(pruned.code).toBe(0);
      expect(pruned.stdout).toMatch(/Removed: s3:\/\/bucket\/nu\/old\.db/);
      expect(pruned.stdout).toMatch(/Kept: s3:\/\/bucket\/nu\/new\.db: the newest verified backup is never removed/);
      expect(s.server.keys('bucket')).toEqual(['nu/new.db.age', 'nu/new.db.manifest.json']);
    },
  );
});

describe('automatic backups with a remote place', () => {
  it(
    'sends each successful automatic backup there and applies the retention there too',
    { timeout: 240_000 },
    async () => {
      const s = await setUp();
      const env = withKeys(s);
      const set = await cli(s, ['auto-backup', 'remote', 's3://bucket/auto'], env);
      expect(set.code).toBe(0);
      expect(set.stdout).toMatch(/Auto-backup remote set to s3:\/\/bucket\/auto\//);
      for (const [name, value] of [
        ['retention', '0'],
        ['keep', '1'],
      ] as const)
        expect((await cli(s, ['auto-backup', name, value], env)).code).toBe(0);

      const first = await cli(s, ['auto-backup', 'run'], env);
      expect(withoutWaitLines(first.stderr)).toBe('');
      expect(first.code).toBe(0);
      expect(first.stdout).toMatch(/Sent offsite: s3:\/\/bucket\/auto\/memory-.*\.db/);
      const firstKeys = s.server.keys('bucket');
      expect(firstKeys).toHaveLength(2);

      const second = await cli(s, ['auto-backup', 'run'], env);
      expect(second.code).toBe(0);
      expect(second.stdout).toMatch(/remote retention removed s3:\/\/bucket\/auto\/memory-/);
      const secondKeys = s.server.keys('bucket');
      expect(secondKeys).toHaveLength(2);
      expect(secondKeys.some((k) => firstKeys.includes(k))).toBe(false);

      const status = await cli(s, ['auto-backup', 'status'], env);
      expect(status.stdout).toMatch(/Remote:\s+s3:\/\/bucket\/auto\//);

      // Without keys the automatic upload fails loudly (exit 1, the age-keygen hint); the local backup stands.
      const keyless = await cli(s, ['auto-backup', 'run']);
      expect(keyless.code).toBe(1);
      expect(keyless.stdout).toMatch(/Automatic backup created/);
      expect(withoutWaitLines(keyless.stderr)).toMatch(
        /^Error: refusing to upload an unencrypted backup to s3:\/\/bucket\/auto\//,
      );
      expect(s.server.keys('bucket')).toEqual(secondKeys);
    },
  );
});
