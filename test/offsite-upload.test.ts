import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isNuError } from '../src/errors.js';
import { fetchRemoteBackup } from '../src/offsite/download.js';
import { encryptionPlan } from '../src/offsite/encryption.js';
import { parseRemote, parseRemoteBackup } from '../src/offsite/location.js';
import { catalogRemote } from '../src/offsite/remote-catalog.js';
import type { RemoteManifest } from '../src/offsite/remote-manifest.js';
import { OWNER_METADATA, RemoteStore } from '../src/offsite/remote-store.js';
import { uploadBackup } from '../src/offsite/upload.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { fillBulk } from './helpers/backup-app.js';
import { handMadeBackup } from './helpers/hand-made-backup.js';
import { startS3Server } from './helpers/s3-server.js';
import { tempDir } from './helpers/temp-dir.js';

// Uploads and downloads against a real S3-compatible server (s3rver in a child process on 127.0.0.1), with
// S3's smallest part size so a 12 MB backup goes up in three parts. The backups are made by hand the way the
// service makes them (test/helpers/hand-made-backup.ts), so these tests are about the transfer alone.

const PART = 5 * 1024 * 1024;
let sourceDir: string;
let source: string;
const savedEnv = { ...process.env };

beforeAll(async () => {
  sourceDir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'nuagent-offsite-src-'));
  source = path.join(sourceDir, 'memory.db');
  const store = await MemoryStore.open(source);
  await fillBulk(store, 40_000);
  await store.close();
  const identity = await generateX25519Identity();
  fs.writeFileSync(path.join(sourceDir, 'key.txt'), identity + '\n', { mode: 0o600 });
  fs.writeFileSync(path.join(sourceDir, 'recipients.txt'), (await identityToRecipient(identity)) + '\n');
});

afterAll(() => {
  fs.rmSync(sourceDir, { recursive: true, force: true });
  process.env = savedEnv;
});

/** A server, the environment pointing at it, and a fresh hand-made backup to send. */
async function setUp(extraEnv: Record<string, string> = {}) {
  const server = await startS3Server();
  // NUAGENT_HOME: where open uploads are noted (upload-journal.ts), never the developer's own ~/.nuagent.
  process.env = { ...savedEnv, ...server.env, NUAGENT_HOME: tempDir(), ...extraEnv };
  const file = path.join(tempDir(), 'memory-2025-01-01-000000.db');
  await handMadeBackup(source, file);
  return { server, file };
}

const keys = () => ({
  NUAGENT_BACKUP_RECIPIENTS: path.join(sourceDir, 'recipients.txt'),
  NUAGENT_BACKUP_IDENTITY: path.join(sourceDir, 'key.txt'),
});

function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

async function caught(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a failure');
}

function storeAt(url: string) {
  return new RemoteStore(parseRemote(url));
}

describe('uploading a verified backup', () => {
  it('streams it up encrypted in several parts, then the manifest, which names both hashes', async () => {
    const { server, file } = await setUp(keys());
    const store = storeAt('s3://bucket/nu/');
    const parts: number[] = [];
    const result = await uploadBackup(file, store, {
      encryption: encryptionPlan(),
      partSize: PART,
      onEvent: (e) => void (e.type === 'progress' && parts.push(e.copiedBytes)),
    });
    store.destroy();

    expect(fs.statSync(file).size).toBeGreaterThan(2 * PART);
    expect(parts.length).toBeGreaterThanOrEqual(3);
    expect(server.keys('bucket')).toEqual([
      'nu/memory-2025-01-01-000000.db.age',
      'nu/memory-2025-01-01-000000.db.manifest.json',
    ]);
    const stored = server.objectFile('bucket', 'nu/memory-2025-01-01-000000.db.age');
    expect(fs.readFileSync(stored).subarray(0, 21).toString()).toBe('age-encryption.org/v1');
    const manifest = JSON.parse(
      fs.readFileSync(server.objectFile('bucket', 'nu/memory-2025-01-01-000000.db.manifest.json'), 'utf8'),
    ) as RemoteManifest;
    expect(manifest.encryption).toEqual({ format: 'age', mode: 'x25519', recipients: 1 });
    expect(manifest.stored).toEqual({
      key: 'nu/memory-2025-01-01-000000.db.age',
      sizeBytes: fs.statSync(stored).size,
      hash: { algorithm: 'sha256', value: sha256(stored) },
    });
    expect(manifest.sizeBytes).toBe(fs.statSync(file).size);
    expect(result.storedHash).toBe(sha256(stored));
  });

  it('comes back byte for byte through download and decryption, leaving only the copy it hands over', async () => {
    const { file } = await setUp(keys());
    const store = storeAt('s3://bucket/nu/');
    await uploadBackup(file, store, { encryption: encryptionPlan(), partSize: PART });
    const parent = tempDir();
    const fetched = await fetchRemoteBackup(
      store,
      parseRemoteBackup('s3://bucket/nu/memory-2025-01-01-000000.db'),
      parent,
    );
    store.destroy();
    expect(sha256(fetched.file)).toBe(sha256(file));
    expect(fs.statSync(fetched.file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(fetched.file)).mode & 0o777).toBe(0o700);
    expect(fs.readdirSync(path.dirname(fetched.file)).sort()).toEqual([
      'memory-2025-01-01-000000.db',
      'memory-2025-01-01-000000.db.manifest.json',
    ]);
    fetched.remove();
    expect(fs.readdirSync(parent)).toEqual([]);
  });

  it('refuses to replace an existing backup without --force', async () => {
    const { server, file } = await setUp(keys());
    const store = storeAt('s3://bucket/nu/');
    await uploadBackup(file, store, { encryption: encryptionPlan(), partSize: PART });
    const err = await caught(uploadBackup(file, store, { encryption: encryptionPlan(), partSize: PART }));
    store.destroy();
    expect(isNuError(err) && err.code).toBe('OFFSITE_EXISTS');
    expect(server.keys('bucket')).toHaveLength(2);
  });
});

describe('an upload that does not finish', () => {
  it('leaves no object and no open multipart upload after Ctrl-C', async () => {
    const { server, file } = await setUp(keys());
    const store = storeAt('s3://bucket/nu/');
    const controller = new AbortController();
    const err = await caught(
      uploadBackup(file, store, {
        encryption: encryptionPlan(),
        partSize: PART,
        signal: controller.signal,
        onEvent: (e) => void (e.type === 'progress' && controller.abort()),
      }),
    );
    store.destroy();
    expect(isNuError(err) && err.code).toBe('OFFSITE_CANCELLED');
    expect(server.keys('bucket')).toEqual([]);
    expect(server.openUploads('bucket')).toEqual([]);
  });

  it('says the server stopped answering when it dies mid-upload; afterwards only a partial upload is listed', async () => {
    const { server, file } = await setUp(keys());
    const store = storeAt('s3://bucket/nu/');
    let killed: Promise<void> | undefined;
    const err = await caught(
      uploadBackup(file, store, {
        encryption: encryptionPlan(),
        partSize: PART,
        queueSize: 1,
        onEvent: (e) => void (e.type === 'progress' && (killed ??= server.kill())),
      }),
    );
    store.destroy();
    await killed;
    expect(isNuError(err) && err.code).toBe('OFFSITE_CONNECTION_LOST');
    expect(err.message).toMatch(
      /stopped answering while uploading s3:\/\/bucket\/nu\/memory-2025-01-01-000000\.db\.age/,
    );

    await server.restart();
    const again = storeAt('s3://bucket/nu/');
    const entries = await catalogRemote(again);
    again.destroy();
    // The dead server could not be asked to abort: its open upload is listed, as partial, and nothing as a backup.
    expect(entries.map((e) => [e.path, e.state])).toEqual([
      ['s3://bucket/nu/memory-2025-01-01-000000.db.age', 'partial'],
    ]);
    expect(entries[0]?.problem).toMatch(/unfinished multipart upload/);
    expect(server.keys('bucket')).toEqual([]);
  });

  it('lists an object of ours that lost its manifest as partial, never as a backup', async () => {
    const { file } = await setUp(keys());
    const store = storeAt('s3://bucket/nu/');
    await store.client.send(
      new PutObjectCommand({ Bucket: 'bucket', Key: 'nu/half.db.age', Body: 'x', Metadata: OWNER_METADATA }),
    );
    await store.client.send(new PutObjectCommand({ Bucket: 'bucket', Key: 'nu/theirs.db', Body: 'y' }));
    await uploadBackup(file, store, { encryption: encryptionPlan(), partSize: PART });
    const entries = await catalogRemote(store);
    store.destroy();
    expect(entries.map((e) => [e.path, e.state])).toEqual([
      ['s3://bucket/nu/memory-2025-01-01-000000.db', 'ok'],
      ['s3://bucket/nu/half.db.age', 'partial'],
      ['s3://bucket/nu/theirs.db', 'foreign'],
    ]);
  });
});

describe('downloading a backup that is not what was uploaded', () => {
  it('refuses a stored object with one flipped byte before decrypting, and leaves nothing behind', async () => {
    const { server, file } = await setUp(keys());
    const store = storeAt('s3://bucket/nu/');
    await uploadBackup(file, store, { encryption: encryptionPlan(), partSize: PART });
    const stored = server.objectFile('bucket', 'nu/memory-2025-01-01-000000.db.age');
    const bytes = fs.readFileSync(stored);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    fs.writeFileSync(stored, bytes);

    const parent = tempDir();
    const url = 's3://bucket/nu/memory-2025-01-01-000000.db';
    const err = await caught(fetchRemoteBackup(store, parseRemoteBackup(url), parent));
    store.destroy();
    expect(isNuError(err) && err.code).toBe('OFFSITE_TAMPERED');
    expect(err.message).toMatch(/SHA-256/);
    expect(fs.readdirSync(parent)).toEqual([]);
  });

  it('says the key is wrong when another identity is configured, and leaves nothing behind', async () => {
    const { file } = await setUp(keys());
    const store = storeAt('s3://bucket/nu/');
    await uploadBackup(file, store, { encryption: encryptionPlan(), partSize: PART });
    const other = path.join(tempDir(), 'other-key.txt');
    fs.writeFileSync(other, (await generateX25519Identity()) + '\n');
    process.env.NUAGENT_BACKUP_IDENTITY = other;

    const parent = tempDir();
    const err = await caught(
      fetchRemoteBackup(store, parseRemoteBackup('s3://bucket/nu/memory-2025-01-01-000000.db'), parent),
    );
    store.destroy();
    expect(isNuError(err) && err.code).toBe('OFFSITE_WRONG_KEY');
    expect(fs.readdirSync(parent)).toEqual([]);
  });
});
