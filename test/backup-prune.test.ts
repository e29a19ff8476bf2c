import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { pruneBackups, removeBackup } from '../src/backup/prune.js';
import { manifestPathFor } from '../src/backup/types.js';
import { tempDir } from './helpers/temp-dir.js';
import { addConversations, handMadeBackup } from './helpers/hand-made-backup.js';

// Real backups (a real database copied, with manifests) dated by their manifests, pruned on disk.
let source: string;
const now = new Date('2025-06-30T12:00:00Z');
const daysAgo = (d: number) => new Date(now.getTime() - d * 86_400_000);

beforeAll(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nuagent-prune-src-'));
  source = path.join(dir, 'memory.db');
  await addConversations(source, 2);
  return () => fs.rmSync(dir, { recursive: true, force: true });
});

/** b0 is the newest; each next one a day older. Also a foreign DuckDB file and a damaged backup, both old. */
async function backupsDir(count: number): Promise<string> {
  const dir = tempDir();
  for (let i = 0; i < count; i++) await handMadeBackup(source, path.join(dir, `b${i}.db`), daysAgo(i + 1));
  fs.copyFileSync(source, path.join(dir, 'foreign.db'));
  await handMadeBackup(source, path.join(dir, 'damaged.db'), daysAgo(400));
  fs.truncateSync(path.join(dir, 'damaged.db'), 100);
  return dir;
}

const listing = (dir: string) => fs.readdirSync(dir).sort();

describe('pruning backups', () => {
  it('keeps the newest N, removes the others with their manifests, and never touches foreign or damaged files', async () => {
    const dir = await backupsDir(5);
    const result = pruneBackups({ directories: [dir], policy: { keepLast: 2, minKeep: 1 }, dryRun: false, now });

    expect(result.removed.map((r) => path.basename(r.entry.path)).sort()).toEqual(['b2.db', 'b3.db', 'b4.db']);
    expect(result.failed).toEqual([]);
    expect(listing(dir)).toEqual(
      [
        'b0.db',
        'b1.db',
        'damaged.db',
        'foreign.db',
        ...['b0.db', 'b1.db', 'damaged.db'].map((n) => path.basename(manifestPathFor(n))),
      ].sort(),
    );
  });

  it('refuses to delete everything: with every backup past the age limit the newest stays', async () => {
    const dir = await backupsDir(3);
    const result = pruneBackups({ directories: [dir], policy: { olderThanDays: 0, minKeep: 1 }, dryRun: false, now });

    expect(result.removed.map((r) => path.basename(r.entry.path)).sort()).toEqual(['b1.db', 'b2.db']);
    expect(fs.existsSync(path.join(dir, 'b0.db'))).toBe(true);
    expect(result.plan.keep.find((k) => k.entry.path.endsWith('b0.db'))?.reason).toMatch(/newest verified/);
  });

  it('deletes nothing in a dry run, and reports exactly what a real run then removes', async () => {
    const dir = await backupsDir(4);
    const before = listing(dir);
    const dry = pruneBackups({ directories: [dir], policy: { olderThanDays: 2.5, minKeep: 1 }, dryRun: true, now });
    expect(listing(dir)).toEqual(before);
    expect(dry.removed.map((r) => path.basename(r.entry.path)).sort()).toEqual(['b2.db', 'b3.db']);

    const real = pruneBackups({ directories: [dir], policy: { olderThanDays: 2.5, minKeep: 1 }, dryRun: false, now });
    expect(real.removed.map((r) => r.entry.path)).toEqual(dry.removed.map((r) => r.entry.path));
    expect(listing(dir).filter((n) => n.startsWith('b2') || n.startsWith('b3'))).toEqual([]);
  });

  it('does not remove a backup that changed after it was listed', async () => {
    const dir = await backupsDir(2);
    const plan = pruneBackups({ directories: [dir], policy: { keepLast: 1, minKeep: 1 }, dryRun: true, now });
    expect(plan.removed).toHaveLength(1);
    // Between listing and removing, someone appends to it: it no longer matches its manifest.
    fs.appendFileSync(path.join(dir, 'b1.db'), 'x');
    expect(removeBackup(plan.removed[0]!.entry)).toMatch(/changed since it was listed/);
    expect(fs.existsSync(path.join(dir, 'b1.db'))).toBe(true);
  });

  it('prunes only the triggers asked for (auto-backup leaves manual backups alone)', async () => {
    const dir = tempDir();
    for (const [i, trigger] of (['auto', 'manual', 'auto', 'auto'] as const).entries()) {
      const file = path.join(dir, `${trigger}${i}.db`);
      const manifest = await handMadeBackup(source, file, daysAgo(i + 1));
      fs.writeFileSync(manifestPathFor(file), JSON.stringify({ ...manifest, trigger }));
    }
    const result = pruneBackups({
      directories: [dir],
      policy: { olderThanDays: 0, minKeep: 1 },
      dryRun: false,
      now,
      triggers: ['auto'],
    });
    expect(result.removed.map((r) => path.basename(r.entry.path)).sort()).toEqual(['auto2.db', 'auto3.db']);
    expect(fs.existsSync(path.join(dir, 'manual1.db'))).toBe(true);
  });

  it('never lists or removes the live database when it sits in a scanned directory', async () => {
    const dir = await backupsDir(2);
    const live = path.join(dir, 'memory.db');
    fs.copyFileSync(source, live);
    const result = pruneBackups({
      directories: [dir],
      policy: { keepLast: 1, minKeep: 1 },
      dryRun: false,
      now,
      exclude: [live],
    });
    expect(result.plan.keep.map((k) => k.entry.path)).not.toContain(live);
    expect(fs.existsSync(live)).toBe(true);
  });
});
