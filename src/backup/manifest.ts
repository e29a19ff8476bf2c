import fs from 'node:fs';
import path from 'node:path';
import { messages } from '../errors.js';
import { writeFileDurably } from './durable-file.js';
import { manifestPathFor } from './types.js';
import type { BackupManifest } from './types.js';

// The manifest beside each backup is what makes a file "a backup nu-agent made": list, verify, restore and
// prune all start from it, and a file without a matching manifest is never touched by prune.

export function writeManifest(backupPath: string, manifest: BackupManifest): string {
  const file = manifestPathFor(backupPath);
  writeFileDurably(file, JSON.stringify(manifest, null, 2) + '\n');
  return file;
}

export type ManifestRead = { ok: true; manifest: BackupManifest } | { ok: false; reason: string };

/** Reads and checks the manifest of backupPath without throwing: list shows the reason next to the file. */
export function readManifest(backupPath: string): ManifestRead {
  const file = manifestPathFor(backupPath);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, reason: code === 'ENOENT' ? 'no manifest' : `manifest unreadable (${code ?? String(err)})` };
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'manifest is not valid JSON' };
  }
  const problem = manifestProblem(data);
  return problem ? { ok: false, reason: problem } : { ok: true, manifest: data as BackupManifest };
}

/** Like readManifest, but a missing or damaged manifest is an error with a hint. */
export function requireManifest(backupPath: string): BackupManifest {
  const read = readManifest(backupPath);
  if (read.ok) return read.manifest;
  throw messages.manifestInvalid(backupPath, read.reason, path.basename(manifestPathFor(backupPath)));
}

function manifestProblem(data: unknown): string | undefined {
  if (typeof data !== 'object' || data === null) return 'manifest is not an object';
  const m = data as Partial<BackupManifest>;
  if (m.format !== 'nu-agent-backup') return 'not a nu-agent backup manifest';
  if (m.formatVersion !== 1) return `unsupported manifest version ${String(m.formatVersion)}`;
  if (typeof m.sizeBytes !== 'number' || m.sizeBytes < 0) return 'manifest lacks the file size';
  if (typeof m.hash?.algorithm !== 'string' || typeof m.hash?.value !== 'string') return 'manifest lacks the hash';
  if (typeof m.tables !== 'object' || m.tables === null) return 'manifest lacks the table figures';
  // Each table needs both figures: without its hash, a comparison would fall back to the row count alone.
  if (Object.values(m.tables).some((t) => typeof t?.rows !== 'number' || typeof t?.hash !== 'string'))
    return 'manifest lacks the table figures';
  if (typeof m.createdAt !== 'string' || Number.isNaN(Date.parse(m.createdAt))) return 'manifest lacks a valid time';
  if (typeof m.fileName !== 'string') return 'manifest lacks the file name';
  return undefined;
}
