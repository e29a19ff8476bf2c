import fs from 'node:fs';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { writeManifest } from '../backup/manifest.js';
import type { BackupEvent } from '../backup/types.js';
import { isNuError, messages } from '../errors.js';
import { formatBytes } from '../format/size.js';
import { decryptFile, decrypterFor } from './encryption.js';
import { HashingTap } from './hashing-tap.js';
import { manifestKey, remoteUrl } from './location.js';
import type { RemoteLocation } from './location.js';
import { localManifestOf, remoteManifestProblem } from './remote-manifest.js';
import type { RemoteManifest } from './remote-manifest.js';
import type { RemoteStore } from './remote-store.js';
import { makeWorkDir } from './work-dir.js';

// Brings one offsite backup back as a local backup (the plaintext file and its manifest) in a private temporary
// directory, so verify and restore then run exactly as for a local file. The stored object is checked against
// the manifest's size as it arrives and against its SHA-256 at the end, before anything is decrypted; age
// authenticates every chunk of what it decrypts. Every failure removes the directory: nothing is left behind.

export interface FetchedBackup {
  url: string;
  /** The decrypted backup, with its local manifest beside it. */
  file: string;
  remote: RemoteManifest;
  /** Removes the temporary directory and everything in it. */
  remove(): void;
}

export interface FetchOptions {
  signal?: AbortSignal | undefined;
  onEvent?: ((event: BackupEvent) => void) | undefined;
  env?: NodeJS.ProcessEnv | undefined;
}

/** Reads and checks the manifest of the backup `name` at the store's place. */
export async function readRemoteManifest(
  store: RemoteStore,
  name: string,
  signal?: AbortSignal,
): Promise<RemoteManifest> {
  const url = remoteUrl(store.location, name);
  const text = await store.getText(manifestKey(store.location, name), signal);
  if (text === undefined) throw messages.offsiteNotFound(url);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw messages.offsiteTampered(url, 'its manifest is not valid JSON');
  }
  const problem = remoteManifestProblem(data);
  if (problem) throw messages.offsiteTampered(url, problem);
  return data as RemoteManifest;
}

/** Downloads `location` (which names one backup) into a new private directory inside `parent`. */
export async function fetchRemoteBackup(
  store: RemoteStore,
  location: RemoteLocation & { name: string },
  parent: string,
  options: FetchOptions = {},
): Promise<FetchedBackup> {
  const url = remoteUrl(location);
  const remote = await readRemoteManifest(store, location.name, options.signal);
  // No key for an encrypted backup: say so before downloading anything.
  const decrypter = remote.encryption ? decrypterFor(remote.encryption, url, options.env) : undefined;
  const dir = makeWorkDir(parent);
  const remove = () => fs.rmSync(dir, { recursive: true, force: true });
  try {
    const stored = path.join(dir, 'stored');
    await download(store, remote, stored, url, options);
    const file = path.join(dir, path.basename(location.name));
    if (decrypter) {
      options.onEvent?.({ type: 'step', text: `Decrypting ${url}...` });
      await decryptFile(decrypter, stored, file, url, { signal: options.signal });
      fs.rmSync(stored);
    } else {
      fs.renameSync(stored, file);
    }
    writeManifest(file, localManifestOf(remote, path.basename(file)));
    return { url, file, remote, remove };
  } catch (err) {
    remove();
    throw err;
  }
}

async function download(
  store: RemoteStore,
  remote: RemoteManifest,
  target: string,
  url: string,
  options: FetchOptions,
): Promise<void> {
  const expected = remote.stored.sizeBytes;
  options.onEvent?.({ type: 'step', text: `Downloading ${url} (${formatBytes(expected)})...` });
  const { stream, sizeBytes } = await store.getStream(remote.stored.key, options.signal);
  if (sizeBytes !== undefined && sizeBytes !== expected) {
    stream.destroy();
    throw messages.offsiteTampered(url, `the stored object has ${sizeBytes} bytes, the manifest says ${expected}`);
  }
  const tap = new HashingTap();
  // Stop as soon as more arrives than the manifest allows, rather than filling the disk.
  const limit = new Transform({
    transform(chunk: Buffer, _enc, done) {
      if (tap.bytes > expected)
        done(messages.offsiteTampered(url, `more than the manifest's ${expected} bytes arrived`));
      else {
        options.onEvent?.({ type: 'progress', copiedBytes: tap.bytes, totalBytes: expected });
        done(null, chunk);
      }
    },
  });
  try {
    await pipeline(stream, tap, limit, fs.createWriteStream(target, { flags: 'wx', mode: 0o600 }), {
      signal: options.signal,
    });
  } catch (err) {
    if (options.signal?.aborted) throw messages.cancelled(`downloading ${url}`);
    if (isNuError(err)) throw err;
    throw store.error(err, 'downloading', true, url);
  }
  const hash = tap.digest();
  if (tap.bytes !== expected)
    throw messages.offsiteTampered(url, `${tap.bytes} bytes arrived, the manifest says ${expected}`);
  if (hash !== remote.stored.hash.value)
    throw messages.offsiteTampered(
      url,
      `its SHA-256 is ${hash.slice(0, 16)}…, the manifest says ${remote.stored.hash.value.slice(0, 16)}…`,
    );
}
