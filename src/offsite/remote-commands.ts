import os from 'node:os';
import path from 'node:path';
import type { App, Output } from '../app.js';
import { backupJson, formatBackupList, formatPruneResult, pruneJson } from '../backup/list-format.js';
import { prunePolicyOf } from '../backup/keep-rules.js';
import type { PruneArgs } from '../backup/manage-args.js';
import type { PruneResult } from '../backup/prune.js';
import { createProgressDisplay } from '../backup/progress-display.js';
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

/**
 * Aborts the multipart uploads a dead process of this machine left open at the store's place (remote-store.ts),
 * and says so in one line: every offsite command runs it first, so a leftover never outlives the next command.
 */
export async function abortLeftoverUploads(
  store: RemoteStore,
  say: (line: string) => void,
  signal?: AbortSignal,
): Promise<string[]> {
  const aborted = await store.abortAbandonedUploads(signal);
  if (aborted.length > 0)
    say(
      `Aborted ${aborted.length === 1 ? 'an unfinished upload' : `${aborted.length} unfinished uploads`} ` +
        `left by a nu-agent that is gone: ${aborted.join(', ')}`,
    );
  return aborted;
}

/** Where the cleanup line goes: stdout, or nowhere a script reads JSON from. */
const sayTo = (out: Output, json: boolean) => (line: string) => (json ? out.debug(line) : out.line(line));

export async function listRemoteBackups(url: string, json: boolean, out: Output): Promise<void> {
  const store = new RemoteStore(parseRemotePlace(withSlash(url)));
  try {
    await abortLeftoverUploads(store, sayTo(out, json));
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
    await abortLeftoverUploads(store, sayTo(out, json), signal);
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
    await abortLeftoverUploads(store, sayTo(app.out, false), options.signal);
    // Beside the database: the restore copies from here onto the same disk, and a shared /tmp is not needed.
    const fetched = await fetchRemoteBackup(store, location, path.dirname(app.paths.database), {
      signal: options.signal,
      onEvent: display.onEvent,
    });
    display.stop();
    try {
      return await restoreFromBackup(app, fetched.file, {
        ...options,
        shownAs: fetched.url,
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
    await abortLeftoverUploads(store, sayTo(out, args.json));
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
