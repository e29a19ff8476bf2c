import { messageOf } from '../errors.js';
import { formatKeepRules } from '../backup/keep-rules.js';
import { hasRule } from '../backup/retention.js';
import { maskUrl } from '../notify/url.js';
import { formatBytes } from '../format/size.js';
import { formatSpan, formatTime } from '../format/time.js';
import type { AutoBackup } from './auto-backup.js';
import { retentionPolicyOf } from './auto-backup.js';
import { catalogFor, summarizeReverify } from './reverify-pass.js';
import type { ReverifySummary } from './reverify-pass.js';
import { forecastSpace } from './space-forecast.js';
import type { SpaceForecast } from './space-forecast.js';
import type { BackupDirSummary, PruneCandidate } from './retention-port.js';
import { LOCAL_TIME_ZONE, localTimeZone, longestInterval } from './schedule.js';
import { SETTINGS } from './settings.js';
import type { AutoBackupSettings } from './settings.js';
import { remoteOutcome } from './state.js';
import type { AutoBackupState, RemoteOutcome } from './state.js';

// `auto-backup status`: every setting, the schedule, the last run and its result, what the backup directory
// holds and what the next prune would remove. A long time without a successful backup is called out in words
// (the "dead man's switch" users of other tools asked for): an absent failure must not look like a success.
// With a `remote` place, the same goes for the copies sent there: a local success says nothing about the remote.

/** Where the scheduler stands, as the asker knows it. */
export type SchedulerPlace = { kind: 'here'; pid: number; active: boolean } | { kind: 'none' }; // no nu-agent is running; the CLI opened the database itself

export interface StatusReport {
  settings: AutoBackupSettings;
  /** The zone the schedule really uses ("local" resolved). */
  zone: string;
  problems: string[];
  scheduler: SchedulerPlace;
  state: AutoBackupState;
  now: Date;
  /** When the last success is older than twice the longest gap of the schedule. */
  overdue?: { sinceMs: number; expectedEveryMs: number } | undefined;
  /** How the last upload to the remote place went (`interrupted`: the process stopped during it). */
  remote?: RemoteOutcome | undefined;
  /** When the last successful upload is older than twice the longest gap of the schedule (`remote` set). */
  remoteOverdue?: { sinceMs: number; expectedEveryMs: number } | undefined;
  backups?: BackupDirSummary | { error: string } | undefined;
  nextPrune?: PruneCandidate[] | { error: string } | undefined;
  reverify?: ReverifySummary | { error: string } | undefined;
  /** Whether the next scheduled backup fits in the free space (enabled, with backups to measure from). */
  space?: SpaceForecast | undefined;
}

export async function buildStatus(auto: AutoBackup, scheduler: SchedulerPlace): Promise<StatusReport> {
  const { settings, state, problems } = await auto.load();
  const now = auto.now();
  const zone = settings.timeZone === LOCAL_TIME_ZONE ? localTimeZone() : settings.timeZone;
  const report: StatusReport = { settings, zone, problems, scheduler, state, now };
  report.overdue = overdue(settings, state, now);
  report.remote = remoteOutcome(state, auto.isRunning);
  report.remoteOverdue = remoteOverdue(settings, state, now);
  const retention = auto.retention;
  if (retention) {
    const policy = retentionPolicyOf(settings);
    report.backups = await retention.summary(settings.directory).catch((err) => ({ error: messageOf(err) }));
    report.nextPrune = await retention
      .plan(settings.directory, policy, now)
      .catch((err) => ({ error: messageOf(err) }));
  }
  try {
    const entries = catalogFor(auto.paths, settings.directory);
    report.reverify = summarizeReverify(entries, settings);
    if (settings.enabled && state.nextRunAt)
      report.space = forecastSpace(entries, auto.paths.database, settings.directory, state.nextRunAt);
  } catch (err) {
    report.reverify = { error: messageOf(err) };
  }
  return report;
}

/** Enabled, and the last success is older than twice the longest gap of the schedule. */
export function overdue(
  settings: AutoBackupSettings,
  state: AutoBackupState,
  now: Date,
): { sinceMs: number; expectedEveryMs: number } | undefined {
  if (!settings.enabled || !state.lastSuccessAt) return undefined;
  const every = longestInterval(settings.cron, settings.timeZone, now);
  const since = now.getTime() - state.lastSuccessAt.getTime();
  return every !== undefined && since > 2 * every ? { sinceMs: since, expectedEveryMs: every } : undefined;
}

/** Enabled with a remote place, and the last successful upload is older than twice the schedule's longest gap. */
export function remoteOverdue(
  settings: AutoBackupSettings,
  state: AutoBackupState,
  now: Date,
): { sinceMs: number; expectedEveryMs: number } | undefined {
  if (!settings.remote || !state.remoteLastSentAt) return undefined;
  return overdue(settings, { ...state, lastSuccessAt: state.remoteLastSentAt }, now);
}

function when(date: Date, report: StatusReport): string {
  const diff = date.getTime() - report.now.getTime();
  return `${formatTime(date)} (${diff >= 0 ? `in ${formatSpan(diff)}` : `${formatSpan(diff)} ago`})`;
}

/**
 * Just enabled: no run has been tried and the first is still ahead. Nothing has gone wrong yet, so this is no
 * warning; status says when the first run is due instead.
 */
function firstRunAhead({ settings, state, now }: StatusReport): Date | undefined {
  if (!settings.enabled || state.lastSuccessAt || state.lastRunAt || !state.nextRunAt) return undefined;
  return state.nextRunAt.getTime() > now.getTime() ? state.nextRunAt : undefined;
}

const row = (label: string, value: string) => `  ${(label + ':').padEnd(22)}${value}`;

export function formatStatus(report: StatusReport): string[] {
  const { settings, state } = report;
  const lines: string[] = [];
  lines.push(`Auto-backup: ${settings.enabled ? 'enabled' : 'disabled'}`);

  const warnings: string[] = [];
  if (report.overdue) {
    warnings.push(
      `no successful automatic backup for ${formatSpan(report.overdue.sinceMs)}; the schedule expects one every ` +
        `${formatSpan(report.overdue.expectedEveryMs)}`,
    );
  }
  if (settings.enabled && !state.lastSuccessAt && !firstRunAhead(report))
    warnings.push('no automatic backup has succeeded yet');
  if (state.consecutiveFailures > 0) {
    warnings.push(
      `the last ${state.consecutiveFailures === 1 ? 'automatic backup' : `${state.consecutiveFailures} automatic backups`} failed`,
    );
  }
  warnings.push(...remoteWarnings(report));
  if (state.notifyLastFailure) warnings.push(`a notification could not be delivered: ${state.notifyLastFailure}`);
  if (report.reverify && !('error' in report.reverify) && report.reverify.damaged.length > 0) {
    const n = report.reverify.damaged.length;
    warnings.push(`re-verification found ${n} damaged backup${n === 1 ? '' : 's'} (kept, never counted as verified)`);
  }
  if (report.space && !report.space.fits) {
    warnings.push(
      `the next backup (about ${formatBytes(report.space.predictedBytes)}) would not fit: ` +
        `${formatBytes(report.space.freeBytes)} free in ${settings.directory}`,
    );
  }
  for (const w of warnings) lines.push(`  WARNING: ${w}`);

  lines.push(
    row(
      'Schedule',
      `${settings.cron} (${settings.timeZone === LOCAL_TIME_ZONE ? `local: ${report.zone}` : report.zone})`,
    ),
  );
  lines.push(row('Next run', settings.enabled && state.nextRunAt ? when(state.nextRunAt, report) : 'none (disabled)'));
  lines.push(row('Scheduler', schedulerText(report)));
  lines.push(row('Directory', settings.directory));
  if (settings.remote) {
    lines.push(row('Remote', `${settings.remote} (same retention, automatic backups only)`));
    lines.push(row('Last upload', lastUploadText(report)));
    lines.push(row('Last upload ok', state.remoteLastSentAt ? when(state.remoteLastSentAt, report) : 'never'));
  }
  lines.push(
    row(
      'Retention',
      hasRule(settings.keepRules)
        ? `${formatKeepRules(settings.keepRules)}, keep at least ${settings.minKeep}`
        : `${SETTINGS.retentionDays.show(settings.retentionDays)}, keep at least ${settings.minKeep}`,
    ),
  );
  lines.push(
    row(
      'Timeouts',
      `pause ${SETTINGS.pauseTimeoutMs.show(settings.pauseTimeoutMs)}, resume ${SETTINGS.resumeTimeoutMs.show(settings.resumeTimeoutMs)}`,
    ),
  );
  for (const p of report.problems) lines.push(`  NOTE: ${p}`);

  if (state.lastRunAt && state.lastStatus) {
    const detail = state.lastStatus === 'success' ? '' : `: ${state.lastError ?? 'no reason recorded'}`;
    lines.push(row('Last run', `${when(state.lastRunAt, report)}, ${state.lastStatus}${detail}`));
  } else {
    lines.push(row('Last run', 'never'));
  }
  const first = firstRunAhead(report);
  lines.push(
    row(
      'Last success',
      state.lastSuccessAt
        ? when(state.lastSuccessAt, report)
        : first
          ? `none yet: the first run is due ${when(first, report)}`
          : 'never',
    ),
  );
  if (state.lastBackupPath) lines.push(row('Last backup', state.lastBackupPath));
  lines.push(row('Consecutive failures', String(state.consecutiveFailures)));

  const backups = report.backups;
  if (!backups) lines.push(row('Backups', 'unknown (backup management is not available)'));
  else if ('error' in backups) lines.push(row('Backups', `cannot read the directory: ${backups.error}`));
  else lines.push(row('Backups', `${backups.count}, ${formatBytes(backups.totalBytes)} in total`));

  lines.push(row('Notify', notifyText(report)));
  lines.push(row('Re-verify', reverifyText(report)));
  if (report.space) {
    const s = report.space;
    lines.push(
      row(
        'Free space',
        `${formatBytes(s.freeBytes)} free; next backup about ${formatBytes(s.predictedBytes)} ` +
          `(growing ${formatBytes(s.growthBytesPerDay)}/day over ${s.basedOn} backup${s.basedOn === 1 ? '' : 's'})`,
      ),
    );
  }

  const prune = report.nextPrune;
  if (!prune) lines.push(row('Next prune removes', 'unknown'));
  else if ('error' in prune) lines.push(row('Next prune removes', `cannot tell: ${prune.error}`));
  else if (prune.length === 0) lines.push(row('Next prune removes', 'nothing'));
  else {
    const bytes = prune.reduce((sum, c) => sum + c.sizeBytes, 0);
    lines.push(
      row('Next prune removes', `${prune.length} backup${prune.length === 1 ? '' : 's'}, ${formatBytes(bytes)}`),
    );
    for (const c of prune) lines.push(`    ${c.path} (${c.reason})`);
  }
  return lines;
}

/** Only while a remote place is set: once it is turned off, an old upload's failure is history, not news. */
function remoteWarnings(report: StatusReport): string[] {
  const { state } = report;
  if (!report.settings.remote) return [];
  const place = state.remotePlace ?? report.settings.remote;
  const out: string[] = [];
  if (report.remote === 'failed')
    out.push(`the last offsite upload to ${place} failed: ${state.remoteError ?? 'unknown error'}`);
  if (report.remote === 'interrupted')
    out.push(
      `the offsite upload to ${place} started ${state.remoteStartedAt ? formatTime(state.remoteStartedAt) : 'earlier'} never finished ` +
        '(nu-agent stopped during it); run /backup auto run (or nu-agent auto-backup run) to send a new backup',
    );
  if (report.remoteOverdue)
    out.push(
      `no successful offsite upload to ${report.settings.remote} for ${formatSpan(report.remoteOverdue.sinceMs)}; ` +
        `the schedule expects one every ${formatSpan(report.remoteOverdue.expectedEveryMs)}`,
    );
  return out;
}

function lastUploadText(report: StatusReport): string {
  const { state } = report;
  const started = state.remoteStartedAt ? when(state.remoteStartedAt, report) : 'at an unknown time';
  const ended = state.remoteEndedAt ? when(state.remoteEndedAt, report) : 'at an unknown time';
  switch (report.remote) {
    case undefined:
      return 'none yet';
    case 'sending':
      return `started ${started}, in progress`;
    case 'interrupted':
      return `started ${started}, never finished (nu-agent stopped during the upload)`;
    case 'sent':
      return `${ended}, sent: ${state.remoteUrl ?? 'unknown'}`;
    case 'failed':
      return `${ended}, FAILED: ${state.remoteError ?? 'no reason recorded'}`;
  }
}

function notifyText(report: StatusReport): string {
  const { settings, state } = report;
  const urls = [
    settings.notifyPing ? `ping ${maskUrl(settings.notifyPing)}` : undefined,
    settings.notifyWebhook ? `webhook ${maskUrl(settings.notifyWebhook)}` : undefined,
  ].filter(Boolean);
  if (urls.length === 0) return 'off (nothing is sent)';
  const last = state.notifyLastAt
    ? `; last sent ${when(state.notifyLastAt, report)}${state.notifyLastFailure ? ', NOT delivered' : ', delivered'}`
    : '';
  return `${urls.join(', ')}${last}`;
}

function reverifyText(report: StatusReport): string {
  const { settings } = report;
  const r = report.reverify;
  const every = SETTINGS.reverifyEveryDays.show(settings.reverifyEveryDays);
  if (!r) return every;
  if ('error' in r) return `${every}; cannot read the directory: ${r.error}`;
  const last = r.lastAt
    ? `last re-verified ${formatSpan(report.now.getTime() - r.lastAt.getTime())} ago`
    : 'never re-verified';
  const bounds =
    settings.reverifyEveryDays === 0
      ? ''
      : ` (at most ${SETTINGS.reverifyMaxBytes.show(settings.reverifyMaxBytes)} or ` +
        `${SETTINGS.reverifyMaxSeconds.show(settings.reverifyMaxSeconds)} per pass)`;
  return `${every}${bounds}: ${r.backups} backup${r.backups === 1 ? '' : 's'}, ${last}, ${r.damaged.length} damaged`;
}

function schedulerText(report: StatusReport): string {
  const place = report.scheduler;
  if (place.kind === 'here') {
    if (!report.settings.enabled) return `idle in nu-agent (pid ${place.pid}); enable to schedule`;
    return place.active ? `running in nu-agent (pid ${place.pid})` : `not scheduled in nu-agent (pid ${place.pid})`;
  }
  return (
    'no nu-agent is running: scheduled backups run only while it is open. Without it, let cron run ' +
    `"${report.settings.cron} nu-agent auto-backup run"`
  );
}

/** The report as plain JSON for `--json` and the control socket. */
export function statusJson(report: StatusReport): Record<string, unknown> {
  const iso = (d: Date | undefined) => d?.toISOString() ?? null;
  return {
    enabled: report.settings.enabled,
    cron: report.settings.cron,
    timeZone: report.settings.timeZone,
    zone: report.zone,
    retentionDays: report.settings.retentionDays,
    minKeep: report.settings.minKeep,
    keepRules: hasRule(report.settings.keepRules) ? formatKeepRules(report.settings.keepRules) : null,
    directory: report.settings.directory,
    remote: report.settings.remote || null,
    pauseTimeoutMs: report.settings.pauseTimeoutMs,
    resumeTimeoutMs: report.settings.resumeTimeoutMs,
    problems: report.problems,
    scheduler: report.scheduler,
    nextRunAt: iso(report.state.nextRunAt),
    lastRunAt: iso(report.state.lastRunAt),
    lastStatus: report.state.lastStatus ?? null,
    lastError: report.state.lastError ?? null,
    lastBackupPath: report.state.lastBackupPath ?? null,
    lastSuccessAt: iso(report.state.lastSuccessAt),
    consecutiveFailures: report.state.consecutiveFailures,
    overdue: report.overdue ?? null,
    remoteUpload: remoteJson(report),
    backups: report.backups ?? null,
    nextPrune: report.nextPrune ?? null,
    notify: {
      ping: report.settings.notifyPing ? maskUrl(report.settings.notifyPing) : null,
      webhook: report.settings.notifyWebhook ? maskUrl(report.settings.notifyWebhook) : null,
      lastAt: iso(report.state.notifyLastAt),
      lastFailure: report.state.notifyLastFailure ?? null,
    },
    reverify: reverifyJson(report),
    space: report.space ?? null,
  };
}

function remoteJson(report: StatusReport): Record<string, unknown> | null {
  const s = report.state;
  if (!report.settings.remote && !report.remote && !s.remoteLastSentAt) return null;
  const iso = (d: Date | undefined) => d?.toISOString() ?? null;
  return {
    status: report.remote ?? null,
    place: s.remotePlace ?? null,
    startedAt: iso(s.remoteStartedAt),
    endedAt: iso(s.remoteEndedAt),
    url: s.remoteUrl ?? null,
    objectKey: s.remoteObjectKey ?? null,
    error: s.remoteError ?? null,
    lastSentAt: iso(s.remoteLastSentAt),
    lastSentUrl: s.remoteLastSentUrl ?? null,
    overdue: report.remoteOverdue ?? null,
  };
}

function reverifyJson(report: StatusReport): Record<string, unknown> {
  const s = report.settings;
  const r = report.reverify;
  const base = { everyDays: s.reverifyEveryDays, maxBytes: s.reverifyMaxBytes, maxSeconds: s.reverifyMaxSeconds };
  if (!r) return base;
  if ('error' in r) return { ...base, error: r.error };
  return {
    ...base,
    backups: r.backups,
    lastAt: r.lastAt?.toISOString() ?? null,
    oldestVerificationAt: r.oldestAt?.toISOString() ?? null,
    dueAt: r.dueAt?.toISOString() ?? null,
    damaged: r.damaged,
  };
}
