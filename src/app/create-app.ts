import fs from 'node:fs';
import path from 'node:path';
import type { App, BackupService, ChatProvider, Output, RunningApp, WorkerAdmin } from '../app.js';
import { createAutoBackupPart } from '../auto-backup/runtime.js';
import { serveControlRequests } from '../auto-backup/control-requests.js';
import { chooseProvider } from '../llm/select.js';
import { resolveDataPaths } from '../paths.js';
import type { DataPaths } from '../paths.js';
import { awaitNoBackupRunning, describeHolder } from '../backup/backup-lock.js';
import { isNuError } from '../errors.js';
import { formatHint } from '../report.js';
import type { BackupLock } from '../backup/backup-lock.js';
import { TerminalOutput } from '../repl/terminal-output.js';
import { waitingFor } from '../repl/wait-indicator.js';
import type { Waits } from '../repl/wait-indicator.js';
import { getSetting, settings } from '../store/app-config.js';
import { MemoryStore } from '../store/memory-store.js';
import { createBackupService } from '../backup/backup-service.js';
import { recoverInterruptedRestore } from '../backup/restore-recovery.js';
import { sweepAllWorkDirs } from '../offsite/work-dir.js';
import { EMBEDDING_DIMENSIONS } from '../store/schema.js';
import { embedderFromEnv } from '../workers-host/embedder.js';
import type { Embedder } from '../workers-host/embedder.js';
import { WorkerManager } from '../workers-host/worker-manager.js';
import { appVersion } from './version.js';

// Builds the App every command receives, and tears it down in the right order. Each background part (workers,
// backups, …) is created by one small function below that returns its API and how to stop it; shutdown stops
// the parts in reverse order of creation, so nothing that uses the database outlives it, and closes the store
// last. Adding a part is one function and one `adopt(await createX(app))` line.

export interface CreateAppOptions {
  env?: NodeJS.ProcessEnv;
  /** --database: overrides NUAGENT_DATABASE and the default under NUAGENT_HOME. */
  database?: string | undefined;
  /** --debug: debug output for this run, whatever /debug persisted. */
  debug?: boolean | undefined;
  /** The Output, given a way to ask whether debug is on. Defaults to the terminal. */
  makeOutput?: (isDebug: () => boolean) => Output;
  /** Instead of the provider the environment chooses. */
  provider?: ChatProvider;
  version?: string;
}

/** Something started with the App: its API, and how to stop it at shutdown. */
export interface Part<T> {
  api: T;
  stop(): Promise<void>;
}

type Wiring = { -readonly [K in keyof App]: App[K] };

export async function createApp(options: CreateAppOptions = {}): Promise<RunningApp> {
  const env = options.env ?? process.env;
  const paths = resolveDataPaths(env, options.database);
  // Configuration errors come before the database is touched: a failed start creates and changes nothing.
  const provider = options.provider ?? chooseProvider(env);
  const embedder = embedderFromEnv(env, EMBEDDING_DIMENSIONS);
  const store = await openWhenNoBackupRuns(paths);

  const stops: Stop[] = [];
  let closing: Promise<void> | undefined;
  let waits: Waits | undefined;
  const shutdown = () => (closing ??= stopAll(stops, store, waits));

  try {
    // workers and backups are filled in just below, before anyone else sees the App.
    const app = {
      version: options.version ?? appVersion(),
      paths,
      store,
      provider,
      session: { conversationId: undefined },
      debug: Boolean(options.debug),
    } as Wiring;
    const isDebug = () => app.debug;
    app.out = options.makeOutput?.(isDebug) ?? new TerminalOutput({ isDebug });
    waits = app.out.waits;
    // Before any setting is read: an interrupted restore may owe this machine its settings back.
    await recoverInterruptedRestore(app);
    // The private copies an offsite upload, a verify or a restore killed mid-way left (src/offsite/work-dir.ts).
    sweepAllWorkDirs(paths);
    app.debug ||= await getSetting(store, settings.debug);
    // `awaited` says what shutdown waits for while this part stops (shown when that takes a while).
    const adopt = <T>(part: Part<T>, awaited: string): T => {
      stops.push({ stop: () => part.stop(), awaited });
      return part.api;
    };

    app.workerAdmin = adopt(await createWorkers(app, embedder), 'the background workers to stop');
    app.workers = app.workerAdmin;
    app.backups = adopt(await createBackups(app), 'the backup or restore in progress to finish');
    app.autoBackup = adopt(
      await createAutoBackupPart(app, { serve: serveControlRequests(app) }),
      'the automatic backup in progress to finish',
    );

    return Object.assign(app, { shutdown });
  } catch (err) {
    await shutdown().catch(() => undefined);
    throw err;
  }
}

/**
 * Opens the store, but never inside another process's backup or restore window, when the file is closed and
 * free: opening it then would make that process's reopen fail. A short backup is waited for, with a line that
 * says why; the backup lock is held only until the store is open.
 */
async function openWhenNoBackupRuns(paths: DataPaths): Promise<MemoryStore> {
  const open = () =>
    MemoryStore.open(paths.database, {
      // Only the default data directory is ours to create (mode 0700); a --database elsewhere needs its directory.
      createParentDir: paths.database === path.join(paths.home, 'memory.db'),
    });
  // No directory, no database, no backup of it running; an unwritable one fails in open() with its own message.
  if (!fs.existsSync(path.dirname(paths.database))) return open();
  let lock: BackupLock | undefined;
  try {
    lock = await awaitNoBackupRunning(paths.backupLock, BACKUP_WAIT_MS, (holder, error) => {
      const who = describeHolder(holder);
      process.stderr.write(`Waiting for the backup running${who ? ` in ${who}` : ''} to finish…\n`);
      if (holder.state === 'stopped' && error.hint) {
        process.stderr.write(
          `Process ${holder.pid} is stopped, so its backup cannot finish.\n${formatHint(error.hint)}\n`,
        );
      }
    });
  } catch (err) {
    // A lock we cannot even try to take (a read-only directory) means no backup can run there either; one
    // held by another process of ours means the file must not be opened. One another user planted is no
    // nu-agent's of ours (backup-lock.ts): the memory opens, and backups say why they refuse.
    if (isNuError(err) && err.code === 'BACKUP_LOCK_FOREIGN')
      process.stderr.write(`Warning: ${err.message}.\n${err.hint ? `${formatHint(err.hint)}\n` : ''}`);
    else if (isNuError(err)) throw err;
  }
  try {
    return await open();
  } finally {
    await lock?.release();
  }
}

const BACKUP_WAIT_MS = 120_000;

interface Stop {
  stop(): Promise<void>;
  awaited: string;
}

async function stopAll(stops: Stop[], store: MemoryStore, waits: Waits | undefined): Promise<void> {
  let first: unknown;
  for (const { stop, awaited } of stops.reverse()) {
    try {
      await waitingFor(waits, awaited, stop);
    } catch (err) {
      first ??= err;
    }
  }
  try {
    await waitingFor(waits, 'the database to close (recent changes are written into the file)', () => store.close());
  } catch (err) {
    first ??= err;
  }
  if (first !== undefined) throw first;
}

// The background workers: created here with their embedder, started by the REPL for as long as it
// runs. Stopped at shutdown before the store closes: they hold only the memory port, never a handle.
async function createWorkers(app: App, embedder: Embedder): Promise<Part<WorkerAdmin>> {
  const manager = new WorkerManager({
    store: app.store,
    provider: () => app.provider,
    activeConversation: () => app.session.conversationId,
    embedder,
  });
  return { api: manager, stop: () => manager.stopAll() };
}

// The backup supervisor. Start-up removes what a backup killed mid-copy left; shutdown waits for a run
// in progress (the REPL cancels it first), so the store never closes under a backup.
async function createBackups(app: App): Promise<Part<BackupService>> {
  const service = createBackupService(app);
  return { api: service, stop: () => service.stop() };
}
