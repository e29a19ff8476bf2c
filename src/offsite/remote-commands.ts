import os from 'node:os';
import path from 'node:path';
import type { App, Output } from '../app.js';
import { backupJson, formatBackupList, formatPruneResult, pruneJson } from '../ui/list-format.js';
import { prunePolicyOf } from '../backup/keep-rules.js';
import type { PruneArgs } from '../ui/manage-args.js';
import type { PruneResult } from '../backup/prune.js';
import { createProgressDisplay } from '../ui/progress-display.js';
import { restoreFromBackup } from '../backup/restore.js';
import type { RestoreFlowOptions, RestoreFlowResult } from '../backup/restore.js';
import { formatVerifyOutcome, verifyBackup } from '../backup/verify.js';
import type { VerifyOutcome } from '../backup/verify.js';
import { messages } from '../errors.js';
import { fetchRemoteBackup } from './download.js';
import { parseRemoteBackup, parseRemotePlace } from './location.js';
import { catalogRemote, pruneRemote } from './remote-catalog.js';
import { RemoteStore } from './remote-store.js';
import { describeEncryption } from './upload.js';

// list, verify, restore and prune of `s3://…` places and backups, reached from the same commands as local ones
// (src/repl/commands/backup-*.ts hand over when the argument is an s3:// URL). Verify and restore download the
// backup into a private temporary directory (download.ts), then run the very same verification and restore as
// for a local file, and remove the directory whatever happens.

export async function listRemoteBackups(url: string, json: boolean, out: Output): Promise<void> {
  const store = new RemoteStore(parseRemotePlace(withSlash(url)));
  try {
    const entries = await catalogRemote(store);
    if (json) out.line(JSON.stringify({ directories: [store.url], backups: entries.map(backupJson) }, null, 2));
    else for (const line of formatBackupList(entries, [store.url])) out.line(line);
  } finally {
    store.destroy();
  }
}

export async function verifyRemoteBackup(
  url: string,
  json: boolean,
  out: Output,
  signal: AbortSignal,
  tempParent = os.tmpdir(),
): Promise<VerifyOutcome> {
  const location = parseRemoteBackup(url);
  const store = new RemoteStore(location);
  const display = json ? undefined : createProgressDisplay(out, { label: 'download' });
  try {
    const fetched = await fetchRemoteBackup(store, location, tempParent, { signal, onEvent: display?.onEvent });
    display?.stop();
    try {
      const outcome = await verifyBackup(fetched.file, { signal });
      const e = fetched.remote.encryption;
      const stored = `stored object: ${fetched.remote.stored.sizeBytes} bytes, sha256 matches the manifest`;
      const result: VerifyOutcome = {
        ...outcome,
        file: fetched.url,
        notes: [`${stored}; ${e ? `${describeEncryption(e)}, decrypted` : 'not encrypted'}`, ...outcome.notes],
      };
      if (json) out.line(JSON.stringify(result, null, 2));
      else for (const line of formatVerifyOutcome(result)) out.line(line);
      if (!result.ok && !json) throw messages.backupVerifyFailed(result.file);
      return result;
    } finally {
      fetched.remove();
    }
  } finally {
    display?.stop();
    store.destroy();
  }
}

export async function restoreRemoteBackup(
  url: string,
  app: App,
  options: Omit<RestoreFlowOptions, 'display'>,
): Promise<RestoreFlowResult> {
  const location = parseRemoteBackup(url);
  // Nobody to ask and no --yes: say so before downloading anything.
  if (!options.yes && !options.ask) throw messages.restoreNeedsConfirmation(url);
  const store = new RemoteStore(location);
  const display = createProgressDisplay(app.out, { label: 'download' });
  try {
    // Beside the database: the restore copies from here onto the same disk, and a shared /tmp is not needed.
    const fetched = await fetchRemoteBackup(store, location, path.dirname(app.paths.database), {
      signal: options.signal,
      onEvent: display.onEvent,
    });
    display.stop();
    try {
      return await restoreFromBackup(app, fetched.file, {
        ...options,
        display: (label) => createProgressDisplay(app.out, { label }),
      });
    } finally {
      fetched.remove();
    }
  } finally {
    display.stop();
    store.destroy();
  }
}

export async function pruneRemoteBackups(url: string, args: PruneArgs, out: Output): Promise<PruneResult> {
  const store = new RemoteStore(parseRemotePlace(withSlash(url)));
  try {
    const policy = prunePolicyOf(args);
    const result = await pruneRemote(store, { policy, dryRun: args.dryRun });
    if (args.json) out.line(JSON.stringify(pruneJson(result), null, 2));
    else for (const line of formatPruneResult(result)) out.line(line);
    return result;
  } finally {
    store.destroy();
  }
}

/** `s3://bucket/prefix` as a place means the prefix folder, as `ls DIR` would. */
function withSlash(url: string): string {
  const rest = url.slice('s3://'.length);
  return rest.includes('/') && !url.endsWith('/') ? `${url}/` : url;
}
