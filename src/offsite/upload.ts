import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream';
import { Upload } from '@aws-sdk/lib-storage';
import { requireManifest } from '../backup/manifest.js';
import type { BackupEvent, BackupManifest } from '../backup/types.js';
import { messages } from '../errors.js';
import { formatBytes } from '../format/size.js';
import { describeEncryption, encryptStream } from './encryption.js';
import type { EncryptionInfo, EncryptionPlan } from './encryption.js';
import { HashingTap } from './hashing-tap.js';
import { manifestKey, objectKey, remoteUrl } from './location.js';
import { STORED_HASH } from './remote-manifest.js';
import type { RemoteManifest } from './remote-manifest.js';
import { OWNER_METADATA } from './remote-store.js';
import type { RemoteStore } from './remote-store.js';

// Sends one verified local backup to S3, after the agent has resumed (the pause window is the local backup's).
// Order: the object streams up (encrypted on the way when a plan is given), its size is checked on the server,
// and only then the manifest goes up: the manifest is the commit marker. Any failure or Ctrl-C before that
// aborts the multipart upload and deletes what was stored, so nothing half-uploaded is listed as a backup.

/** S3's minimum part size; larger parts mean fewer requests on a fast link. */
export const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
/** How long a failed or cancelled upload waits for its parts in flight before aborting the multipart upload. */
const SETTLE_MS = 30_000;

export interface UploadOptions {
  encryption: EncryptionPlan | undefined;
  force?: boolean | undefined;
  signal?: AbortSignal | undefined;
  onEvent?: ((event: BackupEvent) => void) | undefined;
  /** At least 5 MiB (S3's minimum; lib-storage refuses less). */
  partSize?: number | undefined;
  queueSize?: number | undefined;
}

export interface UploadResult {
  url: string;
  manifestKey: string;
  objectKey: string;
  storedBytes: number;
  storedHash: string;
  encryption: EncryptionInfo | null;
  manifest: RemoteManifest;
}

export async function uploadBackup(file: string, store: RemoteStore, options: UploadOptions): Promise<UploadResult> {
  const local = requireManifest(file);
  const plainBytes = fs.statSync(file).size;
  if (plainBytes !== local.sizeBytes)
    throw messages.backupVerifyFailed(file, ' (its size no longer matches its manifest)');
  const name = store.location.name ?? path.basename(file);
  const encrypted = options.encryption !== undefined;
  const keys = { manifest: manifestKey(store.location, name), object: objectKey(store.location, name, encrypted) };
  const url = remoteUrl(store.location, name);
  const objectUrl = remoteUrl(store.location, keys.object.slice(store.location.prefix.length));

  const existing = new Set((await store.list(store.location.prefix + name, options.signal)).map((o) => o.key));
  const other = objectKey(store.location, name, !encrypted);
  if (!options.force && (existing.has(keys.manifest) || existing.has(keys.object) || existing.has(other)))
    throw messages.offsiteExists(url);

  // Replacing: take the old manifest down first, so no manifest ever describes an object being overwritten.
  if (existing.has(keys.manifest)) await store.delete(keys.manifest);
  const info = options.encryption?.info ?? null;
  options.onEvent?.({
    type: 'step',
    text: `Uploading to ${objectUrl} (${formatBytes(plainBytes)}, ${info ? describeEncryption(info) : 'NOT encrypted'})...`,
  });
  const { storedBytes, storedHash } = await sendObject(file, store, keys.object, objectUrl, plainBytes, options);

  const manifest: RemoteManifest = {
    ...(local as BackupManifest),
    fileName: name,
    encryption: info,
    stored: { key: keys.object, sizeBytes: storedBytes, hash: { algorithm: STORED_HASH, value: storedHash } },
    uploadedAt: new Date().toISOString(),
  };
  try {
    if (options.signal?.aborted) throw messages.offsiteCancelled(url);
    await store.putText(keys.manifest, JSON.stringify(manifest, null, 2) + '\n', options.signal);
  } catch (err) {
    await store.tryDelete(keys.object);
    throw options.signal?.aborted ? messages.offsiteCancelled(url) : err;
  }
  // Replaced with --force from plaintext to encrypted (or back): the other object belongs to no manifest now.
  if (existing.has(other)) await store.tryDelete(other);
  return {
    url,
    manifestKey: keys.manifest,
    objectKey: keys.object,
    storedBytes,
    storedHash,
    encryption: info,
    manifest,
  };
}

export { describeEncryption };

/** Streams the file (through age when asked) into one object; on any failure nothing is left under the key. */
async function sendObject(
  file: string,
  store: RemoteStore,
  key: string,
  url: string,
  plainBytes: number,
  options: UploadOptions,
): Promise<{ storedBytes: number; storedHash: string }> {
  const source = fs.createReadStream(file, { highWaterMark: 1024 * 1024 });
  let body = source as NodeJS.ReadableStream;
  let storedBytes = plainBytes;
  if (options.encryption) {
    const encrypted = await encryptStream(options.encryption, source, plainBytes);
    body = encrypted.stream;
    storedBytes = encrypted.storedBytes;
  }
  const tap = new HashingTap();
  pipeline(body, tap, () => undefined);

  const upload = new Upload({
    client: store.client,
    params: {
      Bucket: store.location.bucket,
      Key: key,
      Body: tap,
      ContentLength: storedBytes,
      ContentType: options.encryption ? 'application/octet-stream' : 'application/vnd.duckdb',
      Metadata: OWNER_METADATA,
    },
    partSize: options.partSize ?? DEFAULT_PART_SIZE,
    queueSize: options.queueSize ?? 4,
  });
  upload.on('httpUploadProgress', (p) =>
    options.onEvent?.({ type: 'progress', copiedBytes: p.loaded ?? 0, totalBytes: storedBytes }),
  );
  const abort = () => void upload.abort();
  options.signal?.addEventListener('abort', abort, { once: true });
  let completed = false;
  try {
    if (options.signal?.aborted) throw messages.offsiteCancelled(url);
    await upload.done();
    completed = true;
    if (tap.bytes !== storedBytes) throw new Error(`sent ${tap.bytes} bytes where ${storedBytes} were expected`);
    const head = await store.head(key);
    if (head?.sizeBytes !== storedBytes)
      throw messages.offsiteFailed(
        url,
        'uploading',
        new Error(`the server holds ${head?.sizeBytes ?? 'no'} bytes, not ${storedBytes}`),
      );
    if (options.signal?.aborted) throw messages.offsiteCancelled(url);
    return { storedBytes, storedHash: tap.digest() };
  } catch (err) {
    source.destroy();
    tap.destroy();
    // lib-storage aborts its multipart upload itself on most failures, but not when the abort request itself
    // fails, nor after a cancel that raced its bookkeeping: ask again (NoSuchUpload counts as done).
    await store.settled(SETTLE_MS);
    if (upload.uploadId) await store.tryAbortUpload(key, upload.uploadId);
    if (completed || !upload.uploadId) await store.tryDelete(key);
    if (options.signal?.aborted) throw messages.offsiteCancelled(url);
    throw store.error(err, 'uploading', true, url);
  } finally {
    options.signal?.removeEventListener('abort', abort);
  }
}
