import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { describe, expect, it } from 'vitest';
import { probe } from '../src/auto-backup/control-server.js';
import type { BackupManifest } from '../src/backup/types.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { hashFile } from '../workers/copy-engine/file-hash.js';
import { addConversations, historyOf } from './helpers/hand-made-backup.js';
import { collect, runCli, startCli, withoutWaitLines } from './helpers/run-cli.js';
import { tempDir } from './helpers/temp-dir.js';

// `nu-agent backup DEST --encrypt` and what list, verify, restore and prune do with the NAME.db.age it stores:
// the compiled CLI (`npm run build` first) on a real database, with keys made by the age-encryption package.

const AGE = spawnSync('age', ['--version']).status === 0;
const WORK_DIR = /^\.nuagent-offsite-/;

async function setUp() {
  const dir = tempDir('nuagent-encrypt-');
  const db = path.join(dir, 'memory.db');
  await addConversations(db, 3, 'before');
  const identity = await generateX25519Identity();
  const keyFile = path.join(dir, 'key.txt');
  fs.writeFileSync(keyFile, `${identity}\n`, { mode: 0o600 });
  fs.writeFileSync(path.join(dir, 'recipients.txt'), `${await identityToRecipient(identity)}\n`);
  const backups = path.join(dir, 'backups');
  fs.mkdirSync(backups);
  const home = path.join(dir, 'home');
  const env = { NUAGENT_HOME: home };
  const keyed = {
    ...env,
    NUAGENT_BACKUP_RECIPIENTS: path.join(dir, 'recipients.txt'),
    NUAGENT_BACKUP_IDENTITY: keyFile,
  };
  const cli = (args: string[], withEnv: Record<string, string> = keyed) =>
    runCli(['--database', db, ...args], '', { env: withEnv, cwd: dir });
  /** Work directories left anywhere: the data directory, beside the database. */
  const workDirs = () =>
    [home, dir].flatMap((d) => (fs.existsSync(d) ? fs.readdirSync(d) : []).filter((n) => WORK_DIR.test(n)));
  return { dir, db, backups, home, env, keyed, keyFile, cli, workDirs };
}

const errorAndTry = (stderr: string) => withoutWaitLines(stderr).trim().split('\n');
const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

describe('an encrypted local backup', () => {
  it(
    'is stored only as NAME.db.age with its manifest, encrypted after the workers resumed, and listed, ' +
      'verified and restored from either name',
    { timeout: 240_000 },
    async () => {
      const s = await setUp();
      const refused = await s.cli(['backup', path.join(s.backups, 'x.db'), '--encrypt'], s.env);
      expect(refused.code).toBe(1);
      expect(refused.stdout).not.toMatch(/Pausing/);
      expect(errorAndTry(refused.stderr)).toEqual([
        `Error: --encrypt needs a key to encrypt ${path.join(s.backups, 'x.db.age')} with, and none is configured`,
        expect.stringMatching(/^Try: Make a key with `age-keygen -o .*NUAGENT_BACKUP_RECIPIENTS.*PASSPHRASE\.$/),
      ]);
      expect(fs.readdirSync(s.backups)).toEqual([]);

      const made = await s.cli(['backup', path.join(s.backups, 'x.db'), '--encrypt']);
      expect(withoutWaitLines(made.stderr)).toBe('');
      expect(made.code).toBe(0);
      const age = path.join(s.backups, 'x.db.age');
      // The snapshot is taken, verified and the workers resumed before anything is encrypted.
      const resumed = made.stdout.indexOf('Resuming background workers');
      expect(resumed).toBeGreaterThan(-1);
      expect(made.stdout.indexOf(`Encrypting to ${age}`)).toBeGreaterThan(resumed);
      expect(made.stdout).toContain(`  Path: ${age}`);
      // Nothing plaintext beside it, nothing left in the data directory, and private from the first byte.
      expect(fs.readdirSync(s.backups).sort()).toEqual(['x.db.age', 'x.db.manifest.json']);
      expect(s.workDirs()).toEqual([]);
      expect(fs.statSync(age).mode & 0o777).toBe(0o600);
      expect(fs.readFileSync(age).subarray(0, 21).toString()).toBe('age-encryption.org/v1');
      const manifest = JSON.parse(
        fs.readFileSync(path.join(s.backups, 'x.db.manifest.json'), 'utf8'),
      ) as BackupManifest;
      expect(manifest.fileName).toBe('x.db');
      expect(manifest.encryption).toEqual({ format: 'age', mode: 'x25519', recipients: 1 });
      expect(manifest.stored).toEqual({
        key: 'x.db.age',
        sizeBytes: fs.statSync(age).size,
        hash: { algorithm: 'sha256', value: sha256(age) },
      });
      if (AGE) {
        // The standard age tool reads it without nu-agent, to the very plaintext the manifest describes.
        const plain = path.join(s.dir, 'by-age.db');
        expect(spawnSync('age', ['-d', '-i', s.keyFile, '-o', plain, age]).status).toBe(0);
        expect(hashFile(plain, manifest.hash.algorithm as 'xxh3-128').hash).toBe(manifest.hash.value);
        expect(fs.statSync(plain).size).toBe(manifest.sizeBytes);
        fs.rmSync(plain);
      }

      const listed = await s.cli(['backup', 'list', s.backups, '--json']);
      expect(listed.code).toBe(0);
      const entries = (JSON.parse(listed.stdout) as { backups: { path: string; state: string }[] }).backups;
      expect(entries.map((e) => [e.path, e.state])).toEqual([[age, 'ok']]);
      // The default listing (recorded runs included) names the .age file, never the staging copy.
      const recorded = await s.cli(['backup', 'list']);
      expect(recorded.stdout).toContain(age);
      expect(recorded.stdout).not.toMatch(/\.nuagent-offsite-/);

      const verified = await s.cli(['backup', 'verify', age]);
      expect(verified.code).toBe(0);
      expect(verified.stdout).toMatch(new RegExp(`^Verifying ${age.replace(/\./g, '\\.')}$`, 'm'));
      expect(verified.stdout).toMatch(/sha256 matches the manifest; encrypted with age for 1 recipient, decrypted/);
      expect(verified.stdout).toMatch(/Verdict: OK/);
      const keyless = await s.cli(['backup', 'verify', age], s.env);
      expect(keyless.code).toBe(1);
      expect(errorAndTry(keyless.stderr)[0]).toBe(
        `Error: ${age} is encrypted (age public keys) and no key to decrypt it is configured`,
      );

      await addConversations(s.db, 2, 'after');
      const restored = await s.cli(['backup', 'restore', path.join(s.backups, 'x.db'), '--yes']);
      expect(withoutWaitLines(restored.stderr)).toBe('');
      expect(restored.code).toBe(0);
      expect(restored.stdout).toContain(`Restored ${age} (created`);
      expect(restored.stdout).not.toMatch(/\.nuagent-offsite-/);
      const store = await MemoryStore.open(s.db);
      const history = await historyOf(store);
      await store.close();
      expect(history.some((h) => h.startsWith('before 0'))).toBe(true);
      expect(history.some((h) => h.startsWith('after'))).toBe(false);
      expect(s.workDirs()).toEqual([]);
    },
  );

  it(
    'fails verify and restore when one byte of the stored file is flipped, and changes nothing',
    { timeout: 180_000 },
    async () => {
      const s = await setUp();
      expect((await s.cli(['backup', path.join(s.backups, 'y.db'), '--encrypt'])).code).toBe(0);
      const age = path.join(s.backups, 'y.db.age');
      const bytes = fs.readFileSync(age);
      bytes[bytes.length - 100]! ^= 0x01;
      fs.writeFileSync(age, bytes);
      const verified = await s.cli(['backup', 'verify', age]);
      expect(verified.code).toBe(3);
      expect(errorAndTry(verified.stderr)).toEqual([
        expect.stringMatching(
          /^Error: .*y\.db\.age is not what was written \(its SHA-256 is .*\); nothing was changed$/,
        ),
        expect.stringMatching(/^Try: Do not restore from it/),
      ]);
      const restore = await s.cli(['backup', 'restore', age, '--yes']);
      expect(restore.code).toBe(3);
      expect(restore.stdout).not.toMatch(/Safety backup/);
      expect(s.workDirs()).toEqual([]);
    },
  );

  it('is pruned like any backup: the older .age goes with its manifest', { timeout: 180_000 }, async () => {
    const s = await setUp();
    expect((await s.cli(['backup', path.join(s.backups, 'old.db'), '--encrypt'])).code).toBe(0);
    expect((await s.cli(['backup', path.join(s.backups, 'new.db'), '--encrypt'])).code).toBe(0);
    const pruned = await s.cli(['backup', 'prune', '--keep', '1', '--dir', s.backups]);
    expect(pruned.code).toBe(0);
    expect(pruned.stdout).toContain(`Removed: ${path.join(s.backups, 'old.db.age')}`);
    expect(fs.readdirSync(s.backups).sort()).toEqual(['new.db.age', 'new.db.manifest.json']);
  });

  it("asked of a running REPL, is named by its .age file in the REPL's notice", { timeout: 180_000 }, async () => {
    const s = await setUp();
    // The REPL holds the database and the keys; the shell only asks. Its control socket lives in NUAGENT_HOME.
    fs.mkdirSync(s.home, { mode: 0o700 });
    const repl = startCli(['--database', s.db], { env: s.keyed, cwd: s.dir });
    const finished = collect(repl);
    const socket = path.join(s.home, 'control.sock');
    while (repl.exitCode === null && (await probe(socket)) !== 'live') await new Promise((r) => setTimeout(r, 20));
    const asked = await s.cli(['backup', path.join(s.backups, 'z.db'), '--encrypt'], s.env);
    expect(withoutWaitLines(asked.stderr)).toBe('');
    expect(asked.code).toBe(0);
    expect(fs.readdirSync(s.backups).sort()).toEqual(['z.db.age', 'z.db.manifest.json']);
    repl.stdin.end('/exit\n');
    const { stdout } = await finished;
    expect(stdout).toMatch(/Notice: the backup asked from another terminal \(pid \d+\) is done: .*z\.db\.age\./);
  });
});
