import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AutoBackup } from '../src/auto-backup/auto-backup.js';
import { runAutoCommand } from '../src/auto-backup/commands.js';
import { appConfigStore } from '../src/auto-backup/config-store.js';
import { retentionFor } from '../src/auto-backup/retention-adapter.js';
import { buildStatus, formatStatus, statusJson } from '../src/auto-backup/status.js';
import { writeManifest } from '../src/backup/manifest.js';
import { resolveDataPaths } from '../src/paths.js';
import { FakeBackupService } from './helpers/fake-backup-service.js';
import { addConversations, handMadeBackup } from './helpers/hand-made-backup.js';
import { tempDir } from './helpers/temp-dir.js';
import { openStore } from './helpers/open-store.js';

// The automatic retention with restic-style keep-rules, on real backup files: the rules replace the days, use
// the schedule's time zone, and still leave hand-made backups alone.

describe('automatic retention with keep-rules', () => {
  it('prunes by --keep-daily on the schedule’s calendar after a success, and status shows the rules', async () => {
    const home = tempDir();
    const paths = resolveDataPaths({ NUAGENT_HOME: home });
    // Backups of this very database: retention takes part only those (the manifest's sourcePath).
    const source = paths.database;
    fs.mkdirSync(path.dirname(source), { recursive: true, mode: 0o700 });
    await addConversations(source, 3);
    const dir = path.join(home, 'backups');
    fs.mkdirSync(dir);
    const make = async (name: string, iso: string, trigger: 'auto' | 'manual' = 'auto') => {
      const file = path.join(dir, name);
      const manifest = await handMadeBackup(source, file, new Date(iso));
      writeManifest(file, { ...manifest, trigger });
      return file;
    };
    // 23:30 UTC on 2 June is 3 June in Tokyo's calendar (08:30 JST).
    const late = await make('late.db', '2025-06-02T23:30:00Z');
    const jun2 = await make('jun2.db', '2025-06-02T10:00:00Z');
    const jun1 = await make('jun1.db', '2025-06-01T10:00:00Z');
    const may = await make('may.db', '2025-05-20T10:00:00Z');
    const byHand = await make('by-hand.db', '2025-05-01T10:00:00Z', 'manual');

    const store = await openStore(paths.database, { createParentDir: true });
    const auto = new AutoBackup({
      config: appConfigStore(store),
      backups: new FakeBackupService(),
      paths,
      retention: retentionFor(paths),
      now: () => new Date('2025-06-03T02:00:00Z'),
    });
    const command = (args: string[]) =>
      runAutoCommand(args, { auto, scheduler: { kind: 'none' }, cwd: '/', trigger: 'external' });
    await command(['timezone', 'Asia/Tokyo']);
    await command(['dir', dir]);
    await command(['retention', '0']);
    const set = await command(['keep-rules', '--keep-daily', '2']);
    expect(set.lines[0]).toBe('Auto-backup keep-rules set to --keep-daily 2.');

    const lines = formatStatus(await buildStatus(auto, { kind: 'none' }));
    expect(lines.find((l) => l.trim().startsWith('Retention:'))).toMatch(/--keep-daily 2, keep at least 1$/);
    expect(statusJson(await buildStatus(auto, { kind: 'none' })).keepRules).toBe('--keep-daily 2');

    const result = await auto.run({ trigger: 'auto' });
    expect(result.status).toBe('success');
    const pruned = result.status === 'success' ? result.pruned.map((p) => p.path).sort() : [];
    // Tokyo: late.db is 3 June, jun2.db 2 June; jun1 and may go; the hand-made one is never the schedule's.
    expect(pruned).toEqual([jun1, may].sort());
    expect([late, jun2, byHand].every((f) => fs.existsSync(f))).toBe(true);

    await command(['keep-rules', 'none']);
    expect((await auto.settings()).keepRules).toEqual({});
  });
});
