import type { BackupService, Output } from '../app.js';
import type { BackupEvent } from '../backup/types.js';
import { messageOf } from '../errors.js';
import type { DataPaths } from '../paths.js';
import type { MemoryStore } from '../store/memory-store.js';
import { AutoBackup } from './auto-backup.js';
import type { AutoTrigger } from './auto-backup.js';
import { runAutoCommand } from './commands.js';
import type { AutoCommandResult } from './commands.js';
import { appConfigStore } from './config-store.js';
import { controlSocketPath } from './control-protocol.js';
import { ControlServer } from './control-server.js';
import { retentionFor } from './retention-adapter.js';
import type { RetentionPort } from './retention-port.js';
import { AutoBackupScheduler } from './scheduler.js';
import type { SchedulerPlace } from './status.js';
import { formatSpan, overdue } from './status.js';

// The auto-backup as a part of the running application: the AutoBackup itself, and, in the process that holds
// the database for a while (the REPL), the scheduler and the control socket. create-app adopts it like any
// other part, so shutdown stops the schedule, cancels a run in progress and removes the socket.

export interface AutoBackupRuntime {
  readonly auto: AutoBackup;
  readonly scheduler: AutoBackupScheduler | undefined;
  readonly control: ControlServer | undefined;
  /** Where the scheduler is, as status shows it. */
  place(): SchedulerPlace;
  /** `/backup auto …` and the control socket come here. */
  command(
    args: string[],
    context: { cwd: string; trigger: AutoTrigger; onEvent?: (e: BackupEvent) => void; signal?: AbortSignal },
  ): Promise<AutoCommandResult>;
  /** Lines to show before the next prompt (a failed automatic backup, a long time without one); once each. */
  takeNotices(): string[];
}

export interface AutoBackupRuntimeDeps {
  paths: DataPaths;
  store: Pick<MemoryStore, 'all' | 'transaction'>;
  backups: BackupService;
  out: Output;
  version: string;
  /** The REPL: schedule and listen on the control socket. One-shot CLI commands do neither. */
  background: boolean;
  now?: () => Date;
  retention?: RetentionPort;
}

export async function startAutoBackup(deps: AutoBackupRuntimeDeps): Promise<{
  api: AutoBackupRuntime;
  stop(): Promise<void>;
}> {
  const auto = new AutoBackup({
    config: appConfigStore(deps.store),
    backups: deps.backups,
    paths: deps.paths,
    retention: deps.retention ?? retentionFor(deps.paths),
    now: deps.now,
  });
  const log = (text: string) => deps.out.debug(text);
  let scheduler: AutoBackupScheduler | undefined;
  let control: ControlServer | undefined;

  const place = (): SchedulerPlace =>
    deps.background ? { kind: 'here', pid: process.pid, active: scheduler?.active ?? false } : { kind: 'none' };
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
  };

  if (deps.background) {
    await noticeFromLastTime(auto);
    scheduler = new AutoBackupScheduler(auto, { log });
    await scheduler.start();
    try {
      control = new ControlServer({
        socketPath: controlSocketPath(deps.paths),
        hello: { pid: process.pid, version: deps.version, database: deps.paths.database },
        handle: (args, context) => api.command(args, { ...context, trigger: 'external' }),
        log,
      });
      const listening = await control.listen();
      if (!listening.listening) {
        log(`control socket: not listening: ${listening.reason}`);
        control = undefined;
      }
    } catch (err) {
      // Without the socket, `nu-agent auto-backup` from outside cannot reach us; everything else still works.
      deps.out.line(
        `Note: the control socket could not be opened (${messageOf(err)}); auto-backup from outside will not reach this nu-agent.`,
      );
      control = undefined;
    }
  }

  return {
    api,
    async stop() {
      await control?.close();
      await scheduler?.stop();
      await auto.idle();
    },
  };
}

/** At start-up: the last automatic backup failed, or none succeeded for a long time. */
async function noticeFromLastTime(auto: AutoBackup): Promise<void> {
  const { settings, state } = await auto.load();
  if (!settings.enabled) return;
  if (state.lastStatus === 'failed' && state.lastRunAt) {
    auto.addNotice(
      `The last automatic backup (${state.lastRunAt.toLocaleString()}) failed: ${state.lastError ?? 'unknown error'}. ` +
        'See /backup auto status.',
    );
  }
  const late = overdue(settings, state, auto.now());
  if (late)
    auto.addNotice(`No automatic backup has succeeded for ${formatSpan(late.sinceMs)}. See /backup auto status.`);
}
