import fs from 'node:fs';
import type { BackupService, Output } from '../app.js';
import type { BackupEvent } from '../backup/types.js';
import { messageOf, messages } from '../errors.js';
import type { DataPaths } from '../paths.js';
import type { MemoryStore } from '../store/memory-store.js';
import { AutoBackup } from './auto-backup.js';
import type { AutoTrigger } from './auto-backup.js';
import { runAutoCommand } from './commands.js';
import type { AutoCommandResult } from './commands.js';
import { appConfigStore } from './config-store.js';
import { controlSocketPath } from './control-protocol.js';
import { ControlServer } from './control-server.js';
import type { Handler } from './control-server.js';
import { lazyOffsitePort } from './offsite-port.js';
import { retentionFor } from './retention-adapter.js';
import type { RetentionPort } from './retention-port.js';
import type { DeliveryPolicy } from '../notify/deliver.js';
import { AutoBackupScheduler } from './scheduler.js';
import type { SchedulerPlace } from './status.js';
import { overdue, remoteOverdue } from './status.js';
import { remoteOutcome } from './state.js';
import { formatSpan, formatTime } from '../format/time.js';

// The auto-backup as a part of the running application. Every process that opens the database gets the
// AutoBackup (so `nu-agent auto-backup run` without a REPL records and prunes exactly as the scheduler does);
// the REPL alone, while it runs, also starts the background: the scheduler and the control socket. create-app
// adopts the part like any other, so shutdown stops the schedule, cancels a run in progress and removes the
// socket.

export interface AutoBackupRuntime {
  readonly auto: AutoBackup;
  readonly scheduler: AutoBackupScheduler | undefined;
  readonly control: ControlServer | undefined;
  /** Where the scheduler is, as status shows it. */
  place(): SchedulerPlace;
  /** `/backup auto …` and the control socket come here. */
  command(
    args: string[],
    context: {
      cwd: string;
      trigger: AutoTrigger;
      onEvent?: (e: BackupEvent) => void;
      signal?: AbortSignal;
      oneShot?: boolean;
    },
  ): Promise<AutoCommandResult>;
  /** Lines to show before the next prompt (a failed automatic backup, a long time without one); once each. */
  takeNotices(): string[];
  /** Set while the REPL waits at its prompt: notices are shown as they happen (above the prompt). */
  onNotice(listener: ((text: string) => void) | undefined): void;
  /** The REPL starts: schedule (with one catch-up of a missed run) and listen on the control socket. */
  startBackground(): Promise<void>;
  /** The REPL ends: stop both; a run in progress is cancelled and awaited. */
  stopBackground(): Promise<void>;
}

export interface AutoBackupAppParts {
  paths: DataPaths;
  store: Pick<MemoryStore, 'all' | 'transaction'>;
  backups: BackupService;
  out: Output;
  version: string;
}

export interface AutoBackupPartOptions {
  /** The clock seam. */
  now?: () => Date;
  /** Backup management's prune by default. */
  retention?: RetentionPort;
  /** Serves the control socket's other requests (backup, restore, sources); without it they are refused. */
  serve?: Handler | undefined;
  /** Timeouts and retries of notifications (tests shorten them). */
  notifyPolicy?: DeliveryPolicy;
}

export async function createAutoBackupPart(
  app: AutoBackupAppParts,
  options: AutoBackupPartOptions = {},
): Promise<{ api: AutoBackupRuntime; stop(): Promise<void> }> {
  const auto = new AutoBackup({
    config: appConfigStore(app.store),
    backups: app.backups,
    paths: app.paths,
    retention: options.retention ?? retentionFor(app.paths),
    offsite: lazyOffsitePort,
    now: options.now,
    notifyPolicy: options.notifyPolicy,
  });
  const log = (text: string) => app.out.debug(text);
  let scheduler: AutoBackupScheduler | undefined;
  let control: ControlServer | undefined;

  const place = (): SchedulerPlace =>
    scheduler ? { kind: 'here', pid: process.pid, active: scheduler.active } : { kind: 'none' };

  const stopBackground = async () => {
    const [c, s] = [control, scheduler];
    control = undefined;
    scheduler = undefined;
    await c?.close();
    await s?.stop();
  };

  const api: AutoBackupRuntime = {
    auto,
    get scheduler() {
      return scheduler;
    },
    get control() {
      return control;
    },
    place,
    command: (args, context) => runAutoCommand(args, { auto, scheduler: place(), ...context }),
    takeNotices: () => auto.takeNotices(),
    onNotice: (listener) => auto.setNoticeListener(listener),
    async startBackground() {
      if (scheduler) return;
      await noticeFromLastTime(auto);
      scheduler = new AutoBackupScheduler(auto, { log });
      await scheduler.start();
      control = await listen(app, api, log, options.serve);
    },
    stopBackground,
  };

  return {
    api,
    async stop() {
      await stopBackground();
      await auto.shutdown();
    },
  };
}

async function listen(
  app: AutoBackupAppParts,
  api: AutoBackupRuntime,
  log: (text: string) => void,
  serve: Handler | undefined,
): Promise<ControlServer | undefined> {
  if (!fs.existsSync(app.paths.home)) {
    // --database elsewhere and no data directory: nowhere to put the socket, and nothing to create it for.
    log(`control socket: not listening: ${app.paths.home} does not exist`);
    return undefined;
  }
  try {
    const control = new ControlServer({
      socketPath: controlSocketPath(app.paths),
      hello: { pid: process.pid, version: app.version, database: app.paths.database },
      handle: async (args, context) => {
        if (context.op === 'command') {
          // The person at the REPL learns why their chat may wait: a backup asked from another terminal.
          const from = `from another terminal${context.pid ? ` (pid ${context.pid})` : ''}`;
          const run = args[0]?.toLowerCase() === 'run';
          if (run) app.out.line(`Notice: an automatic backup was asked ${from}; it runs now.`);
          const result = await api.command(args, { ...context, trigger: 'external' });
          if (run)
            app.out.line(
              `Notice: the automatic backup asked ${from} ${result.exitCode === 0 ? 'is done' : 'did not complete'}.`,
            );
          return result;
        }
        if (serve) return serve(args, context);
        throw messages.controlNotServed(context.op);
      },
      log,
    });
    const listening = await control.listen();
    if (listening.listening) return control;
    log(`control socket: not listening: ${listening.reason}`);
  } catch (err) {
    // Without the socket, `nu-agent auto-backup` from outside cannot reach us; everything else still works.
    app.out.line(
      `Note: the control socket could not be opened (${messageOf(err)}); ` +
        '`nu-agent auto-backup` from another terminal will not reach this nu-agent.',
    );
  }
  return undefined;
}

/** At start-up: the last automatic backup (or its upload) failed, or none succeeded for a long time. */
async function noticeFromLastTime(auto: AutoBackup): Promise<void> {
  const { settings, state } = await auto.load();
  // Nothing uploads before start-up is over: a `sending` left in the record is an upload that never finished.
  const remote = settings.remote ? remoteOutcome(state, false) : undefined;
  if (remote === 'interrupted' && state.remoteStartedAt)
    auto.addNotice(
      `The upload of the last automatic backup to ${state.remotePlace ?? settings.remote} ` +
        `(started ${formatTime(state.remoteStartedAt)}) never finished: nu-agent stopped during it. ` +
        'See /backup auto status.',
    );
  if (remote === 'failed')
    auto.addNotice(
      `The upload of the last automatic backup to ${state.remotePlace ?? settings.remote} failed: ` +
        `${state.remoteError ?? 'unknown error'}. See /backup auto status.`,
    );
  if (!settings.enabled) return;
  if (state.lastStatus === 'failed' && state.lastRunAt) {
    auto.addNotice(
      `The last automatic backup (${formatTime(state.lastRunAt)}) failed: ${state.lastError ?? 'unknown error'}. ` +
        'See /backup auto status.',
    );
  }
  const late = overdue(settings, state, auto.now());
  if (late)
    auto.addNotice(`No automatic backup has succeeded for ${formatSpan(late.sinceMs)}. See /backup auto status.`);
  const remoteLate = remoteOverdue(settings, state, auto.now());
  if (remoteLate)
    auto.addNotice(
      `No automatic backup has reached ${settings.remote} for ${formatSpan(remoteLate.sinceMs)}. ` +
        'See /backup auto status.',
    );
}
