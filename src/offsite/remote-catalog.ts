import type { BackupEntry } from '../backup/backup-entry.js';
import type { PruneResult } from '../backup/prune.js';
import { planPrune } from '../backup/retention.js';
import type { PlannedBackup, RetentionPolicy } from '../backup/retention.js';
import type { BackupTrigger } from '../backup/types.js';
import { messageOf } from '../errors.js';
import { manifestKey, remoteUrl } from './location.js';
import { remoteManifestProblem } from './remote-manifest.js';
import type { RemoteManifest } from './remote-manifest.js';
import { OWNER_METADATA } from './remote-store.js';
import type { ListedObject, RemoteStore } from './remote-store.js';
import { formatTime } from '../format/time.js';

// `backup list s3://…` and `backup prune --dir s3://…`: the same states as for a directory, found by the same
// rule (the manifest makes a backup), and the same pure retention planner (src/backup/retention.ts).
// - ok: a valid manifest and the object it names, of the size it names;
// - MISSING: a manifest whose object is gone; DAMAGED: a manifest that is unreadable or disagrees with its object;
// - partial: an object nu-agent uploaded (it carries our metadata) that has no manifest, or a multipart upload
//   still open: an interrupted upload, never counted;
// - foreign: a database-looking object nobody's manifest names and that we did not upload.

const MANIFEST_SUFFIX = '.manifest.json';
const OWNER_KEY = Object.keys(OWNER_METADATA)[0]!;

export async function catalogRemote(store: RemoteStore, signal?: AbortSignal): Promise<BackupEntry[]> {
  const prefix = store.location.prefix;
  // Only this level: s3://b/p/ lists p/NAME.db, not p/q/NAME.db (as a directory listing would).
  const objects = (await store.list(prefix, signal)).filter((o) => !o.key.slice(prefix.length).includes('/'));
  const byKey = new Map(objects.map((o) => [o.key, o]));
  const claimed = new Set<string>();
  const entries: BackupEntry[] = [];

  for (const o of objects.filter((o) => o.key.endsWith(MANIFEST_SUFFIX))) {
    claimed.add(o.key);
    const name = o.key.slice(prefix.length, -MANIFEST_SUFFIX.length);
    const entry = await describeRemote(store, name, byKey, signal);
    if (entry.manifest) claimed.add((entry.manifest as RemoteManifest).stored.key);
    entries.push(entry);
  }
  for (const o of objects) {
    if (claimed.has(o.key) || !/\.db(\.age)?$/.test(o.key)) continue;
    const head = await store.head(o.key).catch(() => undefined);
    const ours = head?.metadata[OWNER_KEY] === '1';
    entries.push({
      path: remoteUrl(store.location, o.key.slice(prefix.length)),
      state: ours ? 'partial' : 'foreign',
      problem: ours ? 'uploaded without its manifest (an interrupted upload)' : 'no manifest',
      sizeBytes: o.sizeBytes,
    });
  }
  for (const u of await store.unfinishedUploads(prefix)) {
    entries.push({
      path: remoteUrl(store.location, u.key.slice(prefix.length)),
      state: 'partial',
      problem: `an unfinished multipart upload${u.initiated ? ` begun ${formatTime(u.initiated)}` : ''}`,
    });
  }
  return entries.sort(
    (a, b) =>
      (b.createdAt?.getTime() ?? -Infinity) - (a.createdAt?.getTime() ?? -Infinity) || (a.path < b.path ? -1 : 1),
  );
}

async function describeRemote(
  store: RemoteStore,
  name: string,
  objects: Map<string, ListedObject>,
  signal?: AbortSignal,
): Promise<BackupEntry> {
  const url = remoteUrl(store.location, name);
  const manifestPath = remoteUrl(store.location, `${name}${MANIFEST_SUFFIX}`);
  const text = await store.getText(manifestKey(store.location, name), signal);
  let data: unknown;
  try {
    data = JSON.parse(text ?? '');
  } catch {
    return { path: url, manifestPath, state: 'damaged', problem: 'manifest is not valid JSON' };
  }
  const problem = remoteManifestProblem(data);
  if (problem) return { path: url, manifestPath, state: 'damaged', problem };
  const manifest = data as RemoteManifest;
  const object = objects.get(manifest.stored.key);
  const base = { path: url, manifestPath, manifest, createdAt: new Date(manifest.createdAt) };
  if (!object) return { ...base, state: 'missing', problem: 'the stored object is missing' };
  const sizeBytes = object.sizeBytes;
  if (!manifest.stored.key.startsWith(store.location.prefix + name) || manifest.fileName !== name)
    return { ...base, sizeBytes, state: 'damaged', problem: `the manifest describes ${manifest.fileName}` };
  if (sizeBytes !== manifest.stored.sizeBytes)
    return {
      ...base,
      sizeBytes,
      state: 'damaged',
      problem: `size ${sizeBytes} bytes, the manifest says ${manifest.stored.sizeBytes}`,
    };
  return { ...base, sizeBytes, state: 'ok' };
}

export interface RemotePruneOptions {
  policy: RetentionPolicy;
  dryRun: boolean;
  now?: Date | undefined;
  /** Only backups made by these triggers take part (auto-backup prunes only its own). */
  triggers?: BackupTrigger[] | undefined;
}

export async function pruneRemote(store: RemoteStore, options: RemotePruneOptions): Promise<PruneResult> {
  const entries = await catalogRemote(store);
  const triggers = options.triggers;
  const taking = triggers ? entries.filter((e) => e.manifest && triggers.includes(e.manifest.trigger)) : entries;
  const plan = planPrune(taking, options.policy, options.now ?? new Date());
  for (const entry of entries)
    if (!taking.includes(entry)) plan.keep.push({ entry, reason: `not made by ${triggers?.join('/')} backups` });
  if (options.dryRun) return { dryRun: true, plan, removed: plan.remove, failed: [] };
  const removed: PlannedBackup[] = [];
  const failed: PruneResult['failed'] = [];
  for (const planned of plan.remove) {
    const problem = await removeRemote(store, planned.entry);
    if (problem) failed.push({ entry: planned.entry, error: problem });
    else removed.push(planned);
  }
  return { dryRun: false, plan, removed, failed };
}

/**
 * The object first, then its manifest, as for a local backup: an interruption leaves a manifest whose object is
 * missing (list says MISSING), never an object that looks like a backup. The manifest is read again first: one
 * replaced since it was listed is left alone.
 */
async function removeRemote(store: RemoteStore, entry: BackupEntry): Promise<string | undefined> {
  const manifest = entry.manifest as RemoteManifest | undefined;
  if (!manifest) return 'not removed: it has no manifest';
  const name = manifest.fileName;
  try {
    const now = JSON.parse((await store.getText(manifestKey(store.location, name))) ?? 'null') as RemoteManifest | null;
    if (now?.stored?.hash?.value !== manifest.stored.hash.value || now?.createdAt !== manifest.createdAt)
      return 'not removed: its manifest changed since it was listed';
    await store.delete(manifest.stored.key);
    await store.delete(manifestKey(store.location, name));
    return undefined;
  } catch (err) {
    return `could not delete it: ${messageOf(err)}`;
  }
}
