import fs from 'node:fs';
import path from 'node:path';
import { messages } from '../errors.js';
import type { BackupVerification, VerifyTask } from '../../workers/copy-engine/verify-backup.js';
import { CopyEngine } from './copy-engine.js';
import { readManifest } from './manifest.js';
import { manifestPathFor } from './types.js';
import type { BackupManifest } from './types.js';
import { formatBytes } from '../format/size.js';
import { formatTime } from '../format/time.js';

// `/backup verify <file>` and the first step of a restore: the backup against its own manifest, so it works on a
// backup copied to another machine (the manifest travels with it). The whole-file read and the DuckDB open run
// in a copy-engine thread (workers/copy-engine/verify-backup.ts) so the REPL stays responsive.

export interface VerifyOutcome {
  ok: boolean;
  file: string;
  manifest?: BackupManifest | undefined;
  /** Why the manifest could not be used; the contents were not checked then. */
  manifestProblem?: string | undefined;
  verification?: BackupVerification | undefined;
  /** Things worth saying that do not fail the verdict. */
  notes: string[];
}

/** Runs one verification task; a seam so tests can run it elsewhere. */
export type RunVerifyTask = (task: VerifyTask, signal?: AbortSignal) => Promise<BackupVerification>;

/** In a copy-engine thread (the same piscina tasks a backup verifies its fresh copy with). */
export const runVerifyTaskInThread: RunVerifyTask = async (task, signal) => {
  const engine = CopyEngine.start();
  try {
    return await engine.verify(task.file, task.expected, signal);
  } finally {
    await engine.destroy();
  }
};

export interface VerifyOptions {
  signal?: AbortSignal | undefined;
  runTask?: RunVerifyTask | undefined;
}

/** Throws only when there is nothing to verify (no such file); every finding about the backup is in the outcome. */
export async function verifyBackup(file: string, options: VerifyOptions = {}): Promise<VerifyOutcome> {
  const resolved = path.resolve(file);
  if (!fs.existsSync(resolved)) throw messages.backupNotFound(resolved);
  const notes: string[] = [];
  const read = readManifest(resolved);
  if (!read.ok) {
    return { ok: false, file: resolved, manifestProblem: `${read.reason} (${manifestPathFor(resolved)})`, notes };
  }
  const manifest = read.manifest;
  if (manifest.fileName !== path.basename(resolved))
    notes.push(`the manifest was written for ${manifest.fileName}; the file has been renamed since`);
  const runTask = options.runTask ?? runVerifyTaskInThread;
  const verification = await runTask(
    { file: resolved, expected: { sizeBytes: manifest.sizeBytes, hash: manifest.hash, tables: manifest.tables } },
    options.signal,
  );
  return { ok: verification.ok, file: resolved, manifest, verification, notes };
}

/** The lines `/backup verify` prints: one per check, then a one-line verdict. */
export function formatVerifyOutcome(outcome: VerifyOutcome): string[] {
  const lines = [`Verifying ${outcome.file}`];
  if (outcome.manifestProblem) {
    lines.push(`  manifest  FAILED  ${outcome.manifestProblem}`);
  } else if (outcome.manifest) {
    const m = outcome.manifest;
    lines.push(
      `  manifest  ok      created ${formatTime(new Date(m.createdAt))} by nu-agent ${m.appVersion} (DuckDB ${m.duckdbVersion})`,
    );
  }
  const size = outcome.manifest?.sizeBytes;
  for (const check of outcome.verification?.checks ?? []) {
    // A size that matched reads in the units every other command uses; a mismatch keeps its exact bytes.
    const detail =
      check.name === 'size' && check.ok && size !== undefined ? `${formatBytes(size)} (${size} bytes)` : check.detail;
    lines.push(`  ${check.name.padEnd(8)}  ${check.ok ? 'ok    ' : 'FAILED'}  ${detail}`);
  }
  for (const note of outcome.notes) lines.push(`  note: ${note}`);
  lines.push(
    outcome.ok
      ? 'Verdict: OK, the backup is intact and matches its manifest.'
      : 'Verdict: FAILED, do not restore from this backup.',
  );
  return lines;
}
