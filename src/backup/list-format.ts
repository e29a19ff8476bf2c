import path from 'node:path';
import { formatBytes } from '../format/size.js';
import { formatTime } from '../format/time.js';
import { printable } from '../printable.js';
import type { BackupEntry, BackupState } from './backup-entry.js';
import type { PruneResult } from './prune.js';

// What `/backup list` and `/backup prune` print, for people and (with --json) for scripts. The JSON shape is
// part of the command-line interface: fields are only ever added.

const STATUS: Record<BackupState, string> = {
  ok: 'verified',
  missing: 'MISSING',
  damaged: 'DAMAGED',
  foreign: 'foreign',
  partial: 'partial',
};

export function formatBackupList(entries: readonly BackupEntry[], directories: readonly string[]): string[] {
  const where = directories.map(printable).join(' and ');
  if (entries.length === 0) return [`No backups in ${where}.`, 'Make one with /backup (or `nu-agent backup`).'];
  const lines = [`Backups in ${where}, newest first:`];
  const rows = entries.map((e) => [
    e.createdAt ? formatTime(e.createdAt) : '-',
    e.sizeBytes === undefined ? '-' : formatBytes(e.sizeBytes),
    STATUS[e.state],
    printable(e.path),
  ]);
  const widths = [0, 1, 2].map((i) =>
    Math.max(...rows.map((r) => r[i]!.length), ['CREATED', 'SIZE', 'STATUS'][i]!.length),
  );
  const row = (cells: string[]) => `  ${cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c)).join('  ')}`;
  lines.push(row(['CREATED', 'SIZE', 'STATUS', 'FILE']));
  entries.forEach((e, i) => {
    lines.push(row(rows[i]!));
    if (e.state !== 'ok' && e.problem) lines.push(`      ${printable(e.problem)}`);
  });
  const counts = new Map<BackupState, number>();
  for (const e of entries) counts.set(e.state, (counts.get(e.state) ?? 0) + 1);
  const total = entries.filter((e) => e.state === 'ok').reduce((sum, e) => sum + (e.sizeBytes ?? 0), 0);
  const summary = [...counts].map(([state, n]) => `${n} ${STATUS[state].toLowerCase()}`).join(', ');
  lines.push(
    `${entries.length} file${entries.length === 1 ? '' : 's'} (${summary}); verified backups take ${formatBytes(total)}.`,
  );
  if (counts.has('damaged') || counts.has('missing'))
    lines.push('Run /backup verify <file> for the details; prune never removes a damaged or foreign file.');
  return lines;
}

export interface BackupJson {
  path: string;
  name: string;
  state: BackupState;
  problem: string | null;
  createdAt: string | null;
  sizeBytes: number | null;
  manifestPath: string | null;
  hash: { algorithm: string; value: string } | null;
  trigger: string | null;
}

export function backupJson(e: BackupEntry): BackupJson {
  return {
    path: e.path,
    name: path.basename(e.path),
    state: e.state,
    problem: e.problem ?? null,
    createdAt: e.createdAt ? e.createdAt.toISOString() : null,
    sizeBytes: e.sizeBytes ?? null,
    manifestPath: e.manifestPath ?? null,
    hash: e.manifest?.hash ?? null,
    trigger: e.manifest?.trigger ?? null,
  };
}

export function formatPruneResult(result: PruneResult): string[] {
  const verb = result.dryRun ? 'Would remove' : 'Removed';
  const lines: string[] = [];
  if (result.removed.length === 0 && result.failed.length === 0) {
    lines.push(result.dryRun ? 'Nothing would be removed.' : 'Nothing to remove.');
  }
  for (const { entry, reason } of result.removed) {
    const size = entry.sizeBytes === undefined ? '' : ` (${formatBytes(entry.sizeBytes)})`;
    lines.push(`${verb}: ${printable(entry.path)}${size}: ${printable(reason)}`);
  }
  for (const { entry, error } of result.failed)
    lines.push(`Not removed: ${printable(entry.path)}: ${printable(error)}`);
  for (const { entry, reason } of result.plan.keep) lines.push(`Kept: ${printable(entry.path)}: ${printable(reason)}`);
  const bytes = result.removed.reduce((sum, p) => sum + (p.entry.sizeBytes ?? 0), 0);
  const n = result.removed.length;
  if (n > 0)
    lines.push(
      `${verb} ${n} backup${n === 1 ? '' : 's'}, ${formatBytes(bytes)}${result.dryRun ? ' (dry run: nothing was deleted)' : ''}.`,
    );
  return lines;
}

export function pruneJson(result: PruneResult) {
  return {
    dryRun: result.dryRun,
    removed: result.removed.map((p) => ({ ...backupJson(p.entry), reason: p.reason })),
    failed: result.failed.map((f) => ({ ...backupJson(f.entry), error: f.error })),
    kept: result.plan.keep.map((p) => ({ ...backupJson(p.entry), reason: p.reason, rules: p.rules ?? [] })),
  };
}
