import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { createBackupService } from '../src/backup/backup-service.js';
import { catalogBackups } from '../src/backup/catalog.js';
import { manifestPathFor } from '../src/backup/types.js';
import { isNuError } from '../src/errors.js';
import { resolveDataPaths } from '../src/paths.js';
import { runBackupRestore } from '../src/repl/commands/backup-restore.js';
import { formatError } from '../src/report.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { recordingWorkers } from './helpers/backup-app.js';
import type { RecordingWorkers } from './helpers/backup-app.js';
import { addConversations, figuresOf, historyOf } from './helpers/hand-made-backup.js';
import { tempDir } from './helpers/temp-dir.js';
import { RecordingOutput } from './helpers/recording-output.js';

// `/backup restore` from the argument words to the end: verify, the question, the safety backup, the supervisor.
// An App built by hand from the real parts (a real memory file, the real BackupService with its copy threads);
// the person at the terminal is the one seam (Session.ask), answering what each test decides.

const stores: MemoryStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close().catch(() => undefined);
});

interface Setup {
  app: App;
  out: RecordingOutput;
  workers: RecordingWorkers;
  store: MemoryStore;
  backup: string;
  atBackup: string[];
  current: string[];
  questions: string[];
}

// One database and one backup of it, made once by the real service; each test works on its own copies.
let made: { dir: string; live: string; backup: string; atBackup: string[] };

beforeAll(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nuagent-restore-flow-made-'));
  const live = path.join(dir, 'memory.db');
  await addConversations(live, 3, 'before');
  const store = await MemoryStore.open(live);
  const paths = resolveDataPaths({ NUAGENT_HOME: path.join(dir, 'home') }, live);
  const backup = path.join(dir, 'b.db');
  const outcome = await createBackupService({ store, workers: recordingWorkers(), paths, version: 'test' }).run({
    trigger: 'manual',
    destination: backup,
  });
  const atBackup = await historyOf(store);
  await store.close();
  if (!outcome.ok) throw outcome.error;
  made = { dir, live, backup, atBackup };
  return () => fs.rmSync(dir, { recursive: true, force: true });
});

async function setUp(answer: string | undefined | 'nobody'): Promise<Setup> {
  const dir = tempDir('nuagent-restore-flow-');
  const paths = resolveDataPaths({ NUAGENT_HOME: path.join(dir, 'home') }, path.join(dir, 'memory.db'));
  fs.copyFileSync(made.live, paths.database);
  const backup = path.join(dir, 'kept', 'b.db');
  fs.mkdirSync(path.dirname(backup));
  fs.copyFileSync(made.backup, backup);
  fs.copyFileSync(manifestPathFor(made.backup), manifestPathFor(backup));
  const store = await MemoryStore.open(paths.database);
  stores.push(store);
  const workers = recordingWorkers();
  const backups = createBackupService({ store, workers, paths, version: '0.0.0-test' });
  const atBackup = made.atBackup;
  await store.run(`INSERT INTO conversations (title) VALUES ('after the backup')`);
  await store.run(`INSERT INTO messages (conversation_id, role, content) VALUES (1, 'user', 'said after the backup')`);
  const current = await historyOf(store);

  const out = new RecordingOutput();
  const questions: string[] = [];
  const app = {
    version: '0.0.0-test',
    paths,
    store,
    workers,
    backups,
    out,
    session: {
      conversationId: 1,
      ask:
        answer === 'nobody'
          ? undefined
          : async (question: string) => {
              questions.push(question);
              return answer;
            },
    },
    debug: false,
  } as unknown as App;
  return { app, out, workers, store, backup, atBackup, current, questions };
}

const signal = () => new AbortController().signal;
const safetyBackups = (app: App) =>
  catalogBackups([app.paths.defaultBackupDir]).filter((e) =>
    path.basename(e.path).startsWith('memory-before-restore-'),
  );

describe('/backup restore', () => {
  it('verifies, asks, keeps a safety backup of the current memory, then restores exactly the backup', async () => {
    const s = await setUp('y');
    const result = await runBackupRestore([s.backup], s.app, signal());

    expect(result.restored).toBe(true);
    expect(s.questions).toHaveLength(1);
    expect(s.questions[0]).toMatch(/^Replace the current memory with this backup \(created .*, 3 conversations\)\?/);
    expect(await historyOf(s.store)).toEqual(s.atBackup);
    expect(s.app.session.conversationId).toBeUndefined();
    expect(s.out.lines).toContain('Verdict: OK, the backup is intact and matches its manifest.');

    // The safety backup is a verified backup of the memory as it was just before, in the backup directory.
    const [safety] = safetyBackups(s.app);
    expect(safety?.state).toBe('ok');
    expect((await figuresOf(safety!.path)).messages?.rows).toBe(s.current.length);
    expect(s.out.lines).toContain(`The memory before the restore is kept in ${safety!.path}.`);
  });

  it('changes nothing when the answer is no', async () => {
    const s = await setUp('n');
    const result = await runBackupRestore([s.backup], s.app, signal());
    expect(result.restored).toBe(false);
    expect(s.out.lines).toContain('Restore cancelled; nothing was changed.');
    expect(await historyOf(s.store)).toEqual(s.current);
    expect(s.workers.calls).toEqual([]);
    expect(safetyBackups(s.app)).toEqual([]);
  });

  it('refuses with a hint when nobody can answer and --yes was not given', async () => {
    const s = await setUp('nobody');
    const refused = await runBackupRestore([s.backup], s.app, signal()).catch((err: unknown) => err);
    expect(isNuError(refused) && refused.code).toBe('RESTORE_NEEDS_CONFIRMATION');
    expect(formatError(refused)[1]).toMatch(/^Try: Add --yes/);
    expect(await historyOf(s.store)).toEqual(s.current);
    expect(s.workers.calls).toEqual([]);
  });

  it('refuses a backup that fails verification before asking anything', async () => {
    const s = await setUp('y');
    const bytes = fs.readFileSync(s.backup);
    const at = Math.floor(bytes.length / 2);
    bytes[at] = bytes[at]! ^ 0x10;
    fs.writeFileSync(s.backup, bytes);
    const err = await runBackupRestore([s.backup], s.app, signal()).catch((e: unknown) => e);
    expect(isNuError(err) && err.code).toBe('BACKUP_VERIFY_FAILED');
    expect(String(err)).toMatch(/nothing was changed/);
    expect(s.questions).toEqual([]);
    expect(s.workers.calls).toEqual([]);
    expect(await historyOf(s.store)).toEqual(s.current);
  });

  it('restores nothing when the safety backup cannot be made', async () => {
    const s = await setUp('y');
    fs.mkdirSync(s.app.paths.home, { recursive: true });
    fs.writeFileSync(s.app.paths.defaultBackupDir, 'a file where the backup directory should be');
    const err = await runBackupRestore([s.backup], s.app, signal()).catch((e: unknown) => e);
    expect(isNuError(err) && err.code).toBe('RESTORE_SAFETY_BACKUP_FAILED');
    expect(await historyOf(s.store)).toEqual(s.current);
  });
});
