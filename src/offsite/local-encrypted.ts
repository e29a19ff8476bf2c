import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { App, Output } from '../app.js';
import { resolveDestination } from '../backup/destination.js';
import { requireManifest, writeManifest } from '../backup/manifest.js';
import { backupOutcomeJson, formatSeconds } from '../backup/outcome-format.js';
import { refuseOwnFiles, refuseUnusablePath } from '../backup/own-files.js';
import { createProgressDisplay } from '../backup/progress-display.js';
import { restoreFromBackup } from '../backup/restore.js';
import type { RestoreFlowOptions, RestoreFlowResult } from '../backup/restore.js';
import { AGE_SUFFIX, manifestPathFor } from '../backup/types.js';
import type { BackupEvent, BackupManifest, BackupSuccess, BackupTrigger } from '../backup/types.js';
import { formatVerifyOutcome, verifyBackup } from '../backup/verify.js';
import type { VerifyOutcome } from '../backup/verify.js';
import { messages } from '../errors.js';
import { formatBytes } from '../format/size.js';
import { formatTime } from '../format/time.js';
import {
  commitTempFile,
  createTempFile,
  fsyncDirectory,
  fsyncFile,
  removeTempFile,
} from '../../workers/copy-engine/durable-file.js';
import { decryptFile, decrypterFor, describeEncryption, encryptionPlan, encryptStream } from './encryption.js';
import type { EncryptionInfo } from './encryption.js';
import type { EncryptedBackup } from './encrypted-path.js';
import { HashingTap } from './hashing-tap.js';
import { localManifestOf } from './remote-manifest.js';
import { makeWorkDir } from './work-dir.js';

// `backup DEST --encrypt`: a local backup stored as `NAME.db.age` (readable with the standard `age` tool) beside
// `NAME.db.manifest.json`, which says how it is encrypted and carries the plaintext's and the stored file's
// hashes, as an offsite backup's manifest does. The pause window is the plain backup's: the snapshot is taken
// and verified into a private staging directory under NUAGENT_HOME (work-dir.ts), then encrypted while the agent
// runs into a temporary file beside the destination (durable-file.ts), renamed into place, and the manifest
// written last as the commit marker. Plaintext never reaches the destination's directory; the staging copy goes
// when the run ends, or at the next start after a SIGKILL. Verify and restore decrypt into a private temporary
// directory and then run exactly as for a plain backup.

export interface EncryptedBackupArgs {
  destination?: string | undefined;
  force: boolean;
  json: boolean;
}

export interface EncryptedOutcome {
  local: BackupSuccess;
  agePath: string;
  manifestPath: string;
  storedBytes: number;
  storedHash: string;
  encryption: EncryptionInfo;
  encryptMs: number;
}

export async function runEncryptedBackup(
  args: EncryptedBackupArgs,
  app: App,
  signal: AbortSignal,
  trigger: BackupTrigger,
): Promise<EncryptedOutcome> {
  const typed = args.destination?.endsWith(AGE_SUFFIX)
    ? args.destination.slice(0, -AGE_SUFFIX.length)
    : args.destination;
  const target = resolveDestination({ destination: typed }).path;
  const agePath = target + AGE_SUFFIX;
  const manifestPath = manifestPathFor(target);
  const plan = encryptionPlan();
  if (!plan) throw messages.encryptNeedsKey(agePath);
  refuseUnusablePath(agePath);
  refuseOwnFiles(agePath, app.paths);
  refuseOwnFiles(target, app.paths);
  if (!args.force)
    for (const taken of [agePath, target, manifestPath])
      if (fs.existsSync(taken)) throw messages.backupExists(taken === manifestPath ? target : taken);
  if (!fs.existsSync(path.dirname(target))) fs.mkdirSync(path.dirname(target), { recursive: true });

  const staging = makeWorkDir(app.paths.home);
  try {
    const display = args.json ? undefined : createProgressDisplay(app.out);
    const local = await app.backups
      .run({
        destination: path.join(staging, path.basename(target)),
        trigger,
        signal,
        onEvent: display?.onEvent,
        recordAs: agePath,
      })
      .finally(() => display?.stop());
    for (const warning of local.warnings ?? []) app.out.error(warning);
    if (!local.ok) throw local.error;

    const started = performance.now();
    const encryptDisplay = args.json ? undefined : createProgressDisplay(app.out, { label: 'encrypt' });
    encryptDisplay?.onEvent({
      type: 'step',
      text: `Encrypting to ${agePath} (${describeEncryption(plan.info)}, workers running)...`,
    });
    const manifest = requireManifest(local.path);
    const stored = await encryptInto(local.path, agePath, plan, local.sizeBytes, {
      signal,
      onEvent: encryptDisplay?.onEvent,
    }).finally(() => encryptDisplay?.stop());
    const encrypted: BackupManifest = {
      ...manifest,
      fileName: path.basename(target),
      encryption: plan.info,
      stored: {
        key: path.basename(agePath),
        sizeBytes: stored.bytes,
        hash: { algorithm: 'sha256', value: stored.hash },
      },
    };
    try {
      writeManifest(target, encrypted);
    } catch (err) {
      fs.rmSync(agePath, { force: true });
      throw err;
    }
    // Replaced with --force: a plaintext backup of the same name belongs to no manifest now, and must not stay.
    if (args.force && fs.existsSync(target)) {
      fs.rmSync(target, { force: true });
      fsyncDirectory(path.dirname(target));
    }
    const outcome: EncryptedOutcome = {
      local,
      agePath,
      manifestPath,
      storedBytes: stored.bytes,
      storedHash: stored.hash,
      encryption: plan.info,
      encryptMs: performance.now() - started,
    };
    if (args.json) app.out.line(JSON.stringify(encryptedJson(outcome), null, 2));
    else for (const line of formatEncryptedSuccess(outcome)) app.out.line(line);
    return outcome;
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

/**
 * Streams the plaintext through age into a temporary file beside `agePath`, fsyncs it and renames it into place.
 * An old manifest of the same name is taken down first (only with --force does one exist), so no manifest ever
 * describes a file being replaced. Any failure or cancel removes the temporary file.
 */
async function encryptInto(
  source: string,
  agePath: string,
  plan: NonNullable<ReturnType<typeof encryptionPlan>>,
  plainBytes: number,
  options: { signal: AbortSignal; onEvent?: ((event: BackupEvent) => void) | undefined },
): Promise<{ bytes: number; hash: string }> {
  const temp = createTempFile(agePath);
  try {
    const { stream, storedBytes } = await encryptStream(
      plan,
      fs.createReadStream(source, { highWaterMark: 2 ** 20 }),
      plainBytes,
    );
    const tap = new HashingTap();
    const progress = new Transform({
      transform(chunk: Buffer, _enc, done) {
        options.onEvent?.({ type: 'progress', copiedBytes: tap.bytes, totalBytes: storedBytes });
        done(null, chunk);
      },
    });
    await pipeline(stream, tap, progress, fs.createWriteStream(temp, { flags: 'wx', mode: 0o600 }), {
      signal: options.signal,
    });
    if (tap.bytes !== storedBytes) throw new Error(`wrote ${tap.bytes} bytes where age promised ${storedBytes}`);
    fsyncFile(temp);
    fs.rmSync(manifestPathFor(agePath.slice(0, -AGE_SUFFIX.length)), { force: true });
    commitTempFile(temp, agePath);
    return { bytes: storedBytes, hash: tap.digest() };
  } catch (err) {
    removeTempFile(temp);
    if (options.signal.aborted) throw messages.cancelled(`encrypting ${agePath}`);
    throw err;
  }
}

export function formatEncryptedSuccess(o: EncryptedOutcome): string[] {
  return [
    '',
    'Backup created successfully:',
    `  Path: ${o.agePath}`,
    `  Size: ${formatBytes(o.local.sizeBytes)} (stored: ${formatBytes(o.storedBytes)}, ${describeEncryption(o.encryption)})`,
    `  Time: ${formatTime(o.local.snapshotAt)}`,
    `  Took: ${formatSeconds(o.local.durationMs)} to back up, ${formatSeconds(o.encryptMs)} to encrypt`,
    `  Hash: ${o.local.hashAlgorithm} ${o.local.hash} (stored file: sha256 ${o.storedHash})`,
  ];
}

export function encryptedJson(o: EncryptedOutcome) {
  return {
    ...backupOutcomeJson(o.local),
    path: o.agePath,
    manifestPath: o.manifestPath,
    stored: {
      key: path.basename(o.agePath),
      sizeBytes: o.storedBytes,
      hash: { algorithm: 'sha256', value: o.storedHash },
    },
    encryption: o.encryption,
    encryptMs: o.encryptMs,
  };
}

interface DecryptedCopy {
  file: string;
  remove(): void;
}

/**
 * The plaintext of an encrypted backup, with a plain manifest beside it, in a new private directory in `parent`.
 * The stored file is checked against the manifest's size and SHA-256 before anything is decrypted (as a download
 * is); age then authenticates every chunk. Every failure removes the directory.
 */
async function decryptCopy(found: EncryptedBackup, parent: string, signal?: AbortSignal): Promise<DecryptedCopy> {
  const { agePath, manifest } = found;
  const decrypter = decrypterFor(manifest.encryption!, agePath);
  const stored = manifest.stored!;
  let size: number;
  try {
    size = fs.statSync(agePath).size;
  } catch {
    throw messages.backupNotFound(agePath);
  }
  if (size !== stored.sizeBytes)
    throw messages.encryptedBackupTampered(agePath, `${size} bytes, the manifest says ${stored.sizeBytes}`);
  const hash = createHash('sha256');
  try {
    for await (const chunk of fs.createReadStream(agePath, { highWaterMark: 2 ** 20, signal }) as AsyncIterable<Buffer>)
      hash.update(chunk);
  } catch (err) {
    if (signal?.aborted) throw messages.cancelled(`reading ${agePath}`);
    throw err;
  }
  const actual = hash.digest('hex');
  if (actual !== stored.hash.value)
    throw messages.encryptedBackupTampered(
      agePath,
      `its SHA-256 is ${actual.slice(0, 16)}…, the manifest says ${stored.hash.value.slice(0, 16)}…`,
    );
  const dir = makeWorkDir(parent);
  const remove = () => fs.rmSync(dir, { recursive: true, force: true });
  try {
    // The name the user's path gives, never one read from the manifest (which could hold `../`).
    const name = path.basename(found.plainPath);
    const file = path.join(dir, name);
    await decryptFile(decrypter, agePath, file, agePath, { signal, local: true });
    writeManifest(file, localManifestOf(manifest, name));
    return { file, remove };
  } catch (err) {
    remove();
    throw err;
  }
}

/** `backup verify NAME.db.age`: the stored file against its manifest, then the plaintext exactly as for a plain backup. */
export async function verifyEncryptedBackup(
  found: EncryptedBackup,
  json: boolean,
  out: Output,
  signal: AbortSignal,
): Promise<VerifyOutcome> {
  if (!json) out.line(`Decrypting ${found.agePath}...`);
  const copy = await decryptCopy(found, os.tmpdir(), signal);
  try {
    const outcome = await verifyBackup(copy.file, { signal });
    const stored = `stored file: ${found.manifest.stored!.sizeBytes} bytes, sha256 matches the manifest`;
    const result: VerifyOutcome = {
      ...outcome,
      file: found.agePath,
      notes: [`${stored}; ${describeEncryption(found.manifest.encryption!)}, decrypted`, ...outcome.notes],
    };
    if (json) out.line(JSON.stringify(result, null, 2));
    else for (const line of formatVerifyOutcome(result)) out.line(line);
    if (!result.ok && !json) throw messages.backupVerifyFailed(result.file);
    return result;
  } finally {
    copy.remove();
  }
}

/** `backup restore NAME.db.age`: decrypted beside the database (the restore copies from there), then restored. */
export async function restoreEncryptedBackup(
  found: EncryptedBackup,
  app: App,
  options: RestoreFlowOptions,
): Promise<RestoreFlowResult> {
  // Nobody to ask and no --yes: say so before decrypting anything.
  if (!options.yes && !options.ask) throw messages.restoreNeedsConfirmation(found.agePath);
  app.out.line(`Decrypting ${found.agePath}...`);
  const copy = await decryptCopy(found, path.dirname(app.paths.database), options.signal);
  try {
    return await restoreFromBackup(app, copy.file, { ...options, shownAs: found.agePath });
  } finally {
    copy.remove();
  }
}
