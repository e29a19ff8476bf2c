import fs from 'node:fs';
import path from 'node:path';
import type { App } from '../app.js';
import { backupOutcomeJson, formatSeconds } from '../backup/outcome-format.js';
import { createProgressDisplay } from '../backup/progress-display.js';
import type { BackupSuccess, BackupTrigger } from '../backup/types.js';
import { messages } from '../errors.js';
import { formatBytes } from '../format/size.js';
import { formatTime } from '../format/time.js';
import { chooseEncryption } from './encryption.js';
import { parseRemote, remoteUrl } from './location.js';
import { abortLeftoverUploads } from './remote-commands.js';
import { RemoteStore } from './remote-store.js';
import { makeWorkDir } from './work-dir.js';
import { describeEncryption, uploadBackup } from './upload.js';
import type { UploadResult } from './upload.js';

// `/backup s3://…` and `nu-agent backup s3://…`: a local backup exactly as `/backup DIR` takes it (same pause,
// same checks) into a private staging directory, then the upload of that verified file while the agent runs,
// then the staging directory goes. Refusals come first, before anything is paused: no key without --no-encrypt,
// a service that cannot be reached or refuses us, a name that exists without --force.

export interface OffsiteBackupArgs {
  destination: string;
  force: boolean;
  json: boolean;
  /** true: --encrypt, false: --no-encrypt, undefined: encrypt when keys are configured (and refuse otherwise). */
  encrypt?: boolean | undefined;
}

export interface OffsiteOutcome {
  local: BackupSuccess;
  upload: UploadResult;
  uploadMs: number;
}

export async function runOffsiteBackup(
  args: OffsiteBackupArgs,
  app: App,
  signal: AbortSignal,
  trigger: BackupTrigger = 'manual',
): Promise<OffsiteOutcome> {
  const location = parseRemote(args.destination);
  const encryption = chooseEncryption(args.encrypt, args.destination);
  const store = new RemoteStore(location);
  // In the data directory (ours, 0700), not beside the database, which may sit in a directory others share: a
  // SIGKILL mid-upload leaves the plaintext copy there, private, until the next start sweeps it (work-dir.ts).
  const staging = makeWorkDir(app.paths.home);
  try {
    await abortLeftoverUploads(store, (line) => (args.json ? app.out.debug(line) : app.out.line(line)), signal);
    // Reaching the bucket (and finding the name free) before the workers are paused for nothing.
    const taken = await store.list(location.prefix + (location.name ?? ''), signal, 1);
    if (location.name && !args.force && taken.length > 0) {
      const rest = (await store.list(location.prefix + location.name, signal)).map((o) => o.key);
      const ours = [`${location.name}.manifest.json`, location.name, `${location.name}.age`];
      if (rest.some((k) => ours.includes(k.slice(location.prefix.length))))
        throw messages.offsiteExists(args.destination);
    }

    const display = args.json ? undefined : createProgressDisplay(app.out);
    const local = await app.backups
      .run({
        destination: location.name ? path.join(staging, location.name) : staging + path.sep,
        trigger,
        signal,
        onEvent: display?.onEvent,
        // The default name is chosen inside the run; a place then stands for it (local lists skip s3:// records).
        recordAs: remoteUrl(location),
      })
      .finally(() => display?.stop());
    for (const warning of local.warnings ?? []) app.out.error(warning);
    if (!local.ok) throw local.error;

    const uploadStarted = performance.now();
    const uploadDisplay = args.json ? undefined : createProgressDisplay(app.out, { label: 'upload' });
    const upload = await uploadBackup(local.path, store, {
      encryption,
      force: args.force,
      signal,
      onEvent: uploadDisplay?.onEvent,
    }).finally(() => uploadDisplay?.stop());
    const outcome = { local, upload, uploadMs: performance.now() - uploadStarted };
    if (args.json) app.out.line(JSON.stringify(offsiteJson(outcome), null, 2));
    else for (const line of formatOffsiteSuccess(outcome)) app.out.line(line);
    return outcome;
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
    store.destroy();
  }
}

export function formatOffsiteSuccess({ local, upload, uploadMs }: OffsiteOutcome): string[] {
  const how = upload.encryption ? describeEncryption(upload.encryption) : 'NOT encrypted (--no-encrypt)';
  return [
    '',
    'Backup uploaded successfully:',
    `  Path: ${upload.url}`,
    `  Size: ${formatBytes(local.sizeBytes)} (stored: ${formatBytes(upload.storedBytes)}, ${how})`,
    `  Time: ${formatTime(local.snapshotAt)}`,
    `  Took: ${formatSeconds(local.durationMs)} to back up, ${formatSeconds(uploadMs)} to upload`,
    `  Hash: ${local.hashAlgorithm} ${local.hash} (stored object: sha256 ${upload.storedHash})`,
  ];
}

export function offsiteJson({ local, upload, uploadMs }: OffsiteOutcome) {
  return {
    ...backupOutcomeJson(local),
    path: upload.url,
    manifestPath: remoteUrl({ ...parseRemote(upload.url), name: undefined }, upload.manifestKey.split('/').pop()),
    stored: {
      key: upload.objectKey,
      sizeBytes: upload.storedBytes,
      hash: { algorithm: 'sha256', value: upload.storedHash },
    },
    encryption: upload.encryption,
    uploadMs,
  };
}
