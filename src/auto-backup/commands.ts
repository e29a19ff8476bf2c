import path from 'node:path';
import { messageOf, messages } from '../errors.js';
import { expandHome } from '../paths.js';
import { formatBytes } from '../repl/format.js';
import type { BackupEvent } from '../backup/types.js';
import type { AutoBackup, AutoRunResult, AutoTrigger } from './auto-backup.js';
import { SETTINGS, SETTING_NAMES, settingByAlias } from './settings.js';
import type { SettingName } from './settings.js';
import { buildStatus, formatInZone, formatStatus, statusJson } from './status.js';
import type { SchedulerPlace } from './status.js';
import { LOCAL_TIME_ZONE, localTimeZone } from './schedule.js';

// The words after `/backup auto` and `nu-agent auto-backup`, interpreted once: the REPL command, the control
// socket (on behalf of a CLI in another process) and the CLI without a running nu-agent all call
// runAutoCommand, so the three cannot drift apart.

export const AUTO_USAGE =
  'auto status|enable|disable|run|cron <expr>|retention <days>|keep <n>|dir <path>|timezone <zone>|' +
  'pause-timeout <s>|resume-timeout <s>';

/** Exit code for a run that was skipped because another backup was running (EX_TEMPFAIL: try again later). */
export const EXIT_SKIPPED = 75;

export interface AutoCommandContext {
  auto: AutoBackup;
  scheduler: SchedulerPlace;
  /** Where a relative directory is resolved from (the user's working directory, also across the socket). */
  cwd: string;
  trigger: AutoTrigger;
  onEvent?: ((event: BackupEvent) => void) | undefined;
  signal?: AbortSignal | undefined;
}

export interface AutoCommandResult {
  lines: string[];
  data?: unknown;
  /** Set when the command did not do what was asked; the lines then say why. */
  error?: Error | undefined;
  exitCode: number;
}

export async function runAutoCommand(args: string[], ctx: AutoCommandContext): Promise<AutoCommandResult> {
  const [word = 'status', ...rest] = args;
  switch (word.toLowerCase()) {
    case 'status': {
      if (rest.length > 0) throw messages.usage(`/backup auto status`);
      const report = await buildStatus(ctx.auto, ctx.scheduler);
      return { lines: formatStatus(report), data: statusJson(report), exitCode: 0 };
    }
    case 'run':
      if (rest.length > 0) throw messages.usage(`/backup auto run`);
      return runNow(ctx);
    case 'enable':
    case 'disable':
      if (rest.length > 0) throw messages.usage(`/backup auto ${word}`);
      return change(ctx, 'enabled', word === 'enable' ? 'true' : 'false');
    case 'set':
      if (rest.length < 2) throw messages.usage(`/backup auto set <setting> <value>`);
      return change(ctx, settingByAlias(rest[0]!), rest.slice(1).join(' '));
    default: {
      const name = SETTING_NAMES.find((n) => SETTINGS[n].alias === word.toLowerCase());
      if (!name) throw messages.usage(`/backup ${AUTO_USAGE}`);
      if (rest.length === 0) throw messages.usage(`/backup auto ${SETTINGS[name].alias} <value>`);
      return change(ctx, name, rest.join(' '));
    }
  }
}

async function change(ctx: AutoCommandContext, name: SettingName, raw: string): Promise<AutoCommandResult> {
  // An empty directory is refused by the setting's parser, not resolved to the working directory.
  const value = name === 'directory' && raw.trim() !== '' ? path.resolve(ctx.cwd, expandHome(raw.trim())) : raw;
  const { settings, shown } = await ctx.auto.set(name, value);
  const lines: string[] = [];
  if (name === 'enabled') lines.push(`Auto-backup ${settings.enabled ? 'enabled' : 'disabled'}.`);
  else lines.push(`Auto-backup ${SETTINGS[name].alias} set to ${shown}.`);
  if (settings.enabled && (name === 'enabled' || name === 'cron' || name === 'timeZone')) {
    const next = ctx.auto.nextRun(settings);
    const zone = settings.timeZone === LOCAL_TIME_ZONE ? localTimeZone() : settings.timeZone;
    lines.push(`Next run: ${next ? formatInZone(next, zone) : 'never'} (${settings.cron}, ${zone}).`);
    if (ctx.scheduler.kind === 'none') {
      lines.push(
        'Scheduled backups run while nu-agent is open. To back up on this schedule without it, add to your ' +
          `crontab: ${settings.cron} nu-agent auto-backup run`,
      );
    }
  }
  return { lines, data: { setting: SETTINGS[name].alias, value: shown }, exitCode: 0 };
}

async function runNow(ctx: AutoCommandContext): Promise<AutoCommandResult> {
  const result = await ctx.auto.run({ trigger: ctx.trigger, onEvent: ctx.onEvent, signal: ctx.signal });
  return describeRun(result);
}

export function describeRun(result: AutoRunResult): AutoCommandResult {
  const lines: string[] = [];
  const warnRecord = () => {
    if (result.recordError) lines.push(`WARNING: the result could not be recorded: ${messageOf(result.recordError)}`);
  };
  switch (result.status) {
    case 'success': {
      lines.push(
        `Automatic backup created: ${result.path} (${formatBytes(result.sizeBytes)}, ${result.durationMs} ms)`,
      );
      if (result.pruneError) lines.push(`WARNING: pruning old backups failed: ${messageOf(result.pruneError)}`);
      else if (result.pruned.length === 0) lines.push('Retention: no old backups to remove.');
      else {
        lines.push(`Retention: removed ${result.pruned.length} old backup${result.pruned.length === 1 ? '' : 's'}:`);
        for (const p of result.pruned) lines.push(`  ${p.path} (${p.reason})`);
      }
      warnRecord();
      const data = {
        status: 'success',
        path: result.path,
        sizeBytes: result.sizeBytes,
        durationMs: result.durationMs,
        pruned: result.pruned.map((p) => p.path),
        pruneError: result.pruneError ? messageOf(result.pruneError) : null,
      };
      return { lines, data, exitCode: 0 };
    }
    case 'failed':
      warnRecord();
      return {
        lines,
        error: result.error,
        data: { status: 'failed', error: messageOf(result.error) },
        exitCode: 1,
      };
    case 'skipped':
      warnRecord();
      return {
        lines,
        error: messages.autoBackupSkipped(result.reason),
        data: { status: 'skipped', reason: result.reason },
        exitCode: EXIT_SKIPPED,
      };
  }
}
