import path from 'node:path';
import { messageOf, messages } from '../errors.js';
import { expandHome } from '../paths.js';
import { formatBytes } from '../format/size.js';
import type { BackupEvent } from '../backup/types.js';
import type { AutoBackup, AutoRunResult, AutoTrigger } from './auto-backup.js';
import { SETTINGS, SETTING_NAMES, settingByAlias } from './settings.js';
import type { SettingName } from './settings.js';
import { buildStatus, formatStatus, statusJson } from './status.js';
import { formatTime } from '../format/time.js';
import type { SchedulerPlace } from './status.js';
import { describeReverify } from './reverify-pass.js';
import { LOCAL_TIME_ZONE, localTimeZone } from './schedule.js';

// The words after `/backup auto` and `nu-agent auto-backup`, interpreted once: the REPL command, the control
// socket (on behalf of a CLI in another process) and the CLI without a running nu-agent all call
// runAutoCommand, so the three cannot drift apart.

export const AUTO_USAGE =
  'auto status|enable|disable|run|cron <expr>|retention <days>|keep <n>|keep-rules <rules>|dir <path>|' +
  'timezone <zone>|pause-timeout <s>|resume-timeout <s>|notify ping|webhook <url|off>|notify test|' +
  'reverify off|daily|weekly|monthly|<days>|reverify max-size <size>|reverify max-time <time>|reverify now|' +
  'remote s3://BUCKET/PREFIX/|off';

const NOTIFY_USAGE = '/backup auto notify [ping <url|off> | webhook <url|off> | test]';
const REVERIFY_USAGE =
  '/backup auto reverify [off|daily|weekly|monthly|<days> | max-size <size> | max-time <time> | now]';

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
  /** This process exits after the command: wait for a due re-verification after `run`. */
  oneShot?: boolean | undefined;
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
    case 'notify':
      return notifyCommand(rest, ctx);
    case 'reverify':
      return reverifyCommand(rest, ctx);
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

async function notifyCommand(rest: string[], ctx: AutoCommandContext): Promise<AutoCommandResult> {
  const [what = '', ...value] = rest;
  switch (what.toLowerCase()) {
    case 'ping':
    case 'webhook':
      if (value.length !== 1) throw messages.usage(NOTIFY_USAGE);
      return change(ctx, what.toLowerCase() === 'ping' ? 'notifyPing' : 'notifyWebhook', value[0]!);
    case 'test':
      if (value.length > 0) throw messages.usage(NOTIFY_USAGE);
      return notifyTest(ctx);
    case '': {
      const settings = await ctx.auto.settings();
      const lines = [
        `Notify ping:    ${SETTINGS.notifyPing.show(settings.notifyPing)}`,
        `Notify webhook: ${SETTINGS.notifyWebhook.show(settings.notifyWebhook)}`,
      ];
      const data = {
        ping: SETTINGS.notifyPing.show(settings.notifyPing),
        webhook: SETTINGS.notifyWebhook.show(settings.notifyWebhook),
      };
      return { lines, data, exitCode: 0 };
    }
    default:
      throw messages.usage(NOTIFY_USAGE);
  }
}

async function notifyTest(ctx: AutoCommandContext): Promise<AutoCommandResult> {
  const targets = ctx.auto.targets(await ctx.auto.settings());
  if (!targets.pingUrl && !targets.webhookUrl) throw messages.notifyNothingConfigured();
  const outcome = await ctx.auto.notifier.test(targets, {
    event: 'test',
    status: 'success',
    database: ctx.auto.paths.database,
    summary: 'test notification (no backup was made)',
  });
  const lines = outcome.results.map((r) =>
    r.ok
      ? `${r.channel} ${r.target}: delivered (HTTP ${r.status})`
      : `${r.channel} ${r.target}: NOT delivered: ${r.error} (${r.attempts} attempt${r.attempts === 1 ? '' : 's'})`,
  );
  const failed = outcome.results.filter((r) => !r.ok);
  return {
    lines,
    data: { results: outcome.results },
    error:
      failed.length > 0
        ? messages.notifyTestFailed(failed.map((r) => `${r.channel}: ${r.error}`).join('; '))
        : undefined,
    exitCode: failed.length > 0 ? 1 : 0,
  };
}

async function reverifyCommand(rest: string[], ctx: AutoCommandContext): Promise<AutoCommandResult> {
  const [what = '', ...value] = rest;
  switch (what.toLowerCase()) {
    case 'now': {
      if (value.length > 0) throw messages.usage(REVERIFY_USAGE);
      const run = await ctx.auto.reverify({ signal: ctx.signal });
      const data = run.status === 'done' ? { status: 'done', directory: run.directory, ...run.result } : run;
      const damaged = run.status === 'done' ? run.result.checked.filter((c) => !c.ok).length : 0;
      return {
        lines: describeReverify(run),
        data,
        error: damaged > 0 ? messages.reverifyFoundDamage(damaged) : undefined,
        exitCode: damaged > 0 ? 1 : run.status === 'skipped' ? EXIT_SKIPPED : 0,
      };
    }
    case 'max-size':
    case 'max-time':
      if (value.length !== 1) throw messages.usage(REVERIFY_USAGE);
      return change(ctx, what.toLowerCase() === 'max-size' ? 'reverifyMaxBytes' : 'reverifyMaxSeconds', value[0]!);
    case '':
      throw messages.usage(REVERIFY_USAGE);
    default:
      if (value.length > 0) throw messages.usage(REVERIFY_USAGE);
      return change(ctx, 'reverifyEveryDays', what);
  }
}

async function change(ctx: AutoCommandContext, name: SettingName, raw: string): Promise<AutoCommandResult> {
  // An empty directory is refused by the setting's parser, not resolved to the working directory.
  const value = name === 'directory' && raw.trim() !== '' ? path.resolve(ctx.cwd, expandHome(raw.trim())) : raw;
  const { settings, shown } = await ctx.auto.set(name, value);
  const lines: string[] = [];
  if (name === 'enabled') lines.push(`Auto-backup ${settings.enabled ? 'enabled' : 'disabled'}.`);
  else lines.push(`Auto-backup ${SETTINGS[name].alias} set to ${shown}.`);
  if (name === 'reverifyEveryDays' && settings.reverifyEveryDays > 0)
    lines.push(
      'Stored backups are re-verified after an automatic backup once the last pass is that old ' +
        '(/backup auto reverify now runs one now).',
    );
  if (settings.enabled && (name === 'enabled' || name === 'cron' || name === 'timeZone')) {
    const next = ctx.auto.nextRun(settings);
    const zone = settings.timeZone === LOCAL_TIME_ZONE ? localTimeZone() : settings.timeZone;
    lines.push(`Next run: ${next ? formatTime(next) : 'never'} (${settings.cron}, ${zone}).`);
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
  const result = await ctx.auto.run({
    trigger: ctx.trigger,
    onEvent: ctx.onEvent,
    signal: ctx.signal,
    waitForReverify: ctx.oneShot,
  });
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
      if (result.remote) {
        lines.push(`Sent offsite: ${result.remote.url}`);
        for (const p of result.remote.pruned) lines.push(`  remote retention removed ${p}`);
        for (const f of result.remote.pruneFailures) lines.push(`WARNING: remote retention did not remove ${f}`);
      }
      warnRecord();
      const data = {
        status: 'success',
        path: result.path,
        sizeBytes: result.sizeBytes,
        durationMs: result.durationMs,
        pruned: result.pruned.map((p) => p.path),
        pruneError: result.pruneError ? messageOf(result.pruneError) : null,
        remote: result.remote ?? null,
        remoteError: result.remoteError ? messageOf(result.remoteError) : null,
      };
      // The local backup is made, but the copy that was asked to leave the machine did not: a script must see it.
      if (result.remoteError) return { lines, data, error: result.remoteError, exitCode: 1 };
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
