import fs from 'node:fs';
import path from 'node:path';
import { expandHome } from '../paths.js';
import type { DataPaths } from '../paths.js';
import { messages } from '../errors.js';
import { parseRemoteSetting } from '../offsite/location.js';
import { LOCAL_TIME_ZONE, parseCron, parseTimeZone } from './schedule.js';
import { formatKeepRules, parseKeepRules } from '../backup/keep-rules.js';
import type { KeepRules } from '../backup/keep-rules.js';
import { maskUrl, parseNotifyUrl } from '../notify/url.js';
import { formatBytes } from '../format/size.js';

// The auto-backup settings: one appconfig key per setting, each stored as a plain string (no JSON quoting),
// each with one parser used both for what a user types and for what is read back from the database, so a
// value that could not have been set cannot be used either. Every key is named once, in SETTINGS below, so
// that no reader can look for a key under another name than the one its writer used.

export interface AutoBackupSettings {
  enabled: boolean;
  cron: string;
  /** "local" or an IANA zone name. */
  timeZone: string;
  retentionDays: number;
  minKeep: number;
  /** Absolute path. */
  directory: string;
  pauseTimeoutMs: number;
  resumeTimeoutMs: number;
  /** restic-style rules; when any is set they replace `retentionDays` (minKeep still applies). */
  keepRules: KeepRules;
  /** healthchecks-style ping URL (…/start, …, …/fail); undefined: no pings. */
  notifyPing: string | undefined;
  /** JSON webhook URL; undefined: no webhook. */
  notifyWebhook: string | undefined;
  /** Re-verify stored backups when the last pass is this many days old; 0 is off. */
  reverifyEveryDays: number;
  /** At most this many bytes of backups re-read per pass (at least one backup is always checked). */
  reverifyMaxBytes: number;
  /** At most this long per pass; a check still running then is stopped and not recorded. */
  reverifyMaxSeconds: number;
  /** `s3://BUCKET/PREFIX/` that each successful automatic backup is also sent to; '' is off (src/offsite/). */
  remote: string;
}

export type SettingName = keyof AutoBackupSettings;

interface SpecOf<Value> {
  /** The appconfig key. */
  key: string;
  /** What a user types: `/backup auto set <alias> <value>`. */
  alias: string;
  describe: string;
  default: (paths: DataPaths) => Value;
  /** From what a user typed or what is stored; throws a NuError with a hint. */
  parse: (raw: string, current: AutoBackupSettings) => Value;
  /** To the stored string. */
  store: (value: Value) => string;
  /** For status. */
  show: (value: Value) => string;
}
type SettingSpec<K extends SettingName> = SpecOf<AutoBackupSettings[K]>;

type Specs = { [K in SettingName]: SettingSpec<K> };

/** A wait the user gives in whole seconds (1 s to an hour), kept in milliseconds. */
function timeoutSpec(name: 'pause' | 'resume', describe: string, defaultMs: number): SpecOf<number> {
  return {
    key: `auto_backup.${name}_timeout_seconds`,
    alias: `${name}-timeout`,
    describe,
    default: () => defaultMs,
    parse: (raw) => parseWhole(`${name}-timeout`, raw, 1, 3600, 'seconds') * 1000,
    store: (v) => String(v / 1000),
    show: (ms) => `${ms / 1000} s`,
  };
}

/** A notification URL, off when empty; shown masked, since it may carry a secret. */
function notifyUrlSpec(name: 'ping' | 'webhook', describe: string): SpecOf<string | undefined> {
  return {
    key: `auto_backup.notify_${name}_url`,
    alias: `notify-${name}`,
    describe,
    default: () => undefined,
    parse: (raw) => parseNotifyUrl(`notify-${name}`, raw),
    store: (v) => v ?? '',
    show: (v) => (v ? maskUrl(v) : 'off'),
  };
}

function parseBoolean(name: string, raw: string): boolean {
  const text = raw.trim().toLowerCase();
  if (['true', 'on', 'yes', '1'].includes(text)) return true;
  if (['false', 'off', 'no', '0'].includes(text)) return false;
  throw messages.autoBackupSettingInvalid(name, raw, 'true or false');
}

function parseWhole(name: string, raw: string, min: number, max: number, unit: string): number {
  const text = raw.trim();
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw messages.autoBackupSettingInvalid(name, raw, `a whole number of ${unit} from ${min} to ${max}`);
  }
  return Number(text);
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1000 ** 4,
  tib: 1024 ** 4,
};

/** `2GiB`, `500MB`, `1g`, `1048576`. */
function parseSize(name: string, raw: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(raw.trim());
  const unit = SIZE_UNITS[match?.[2]?.toLowerCase() ?? 'x'];
  const bytes = match && unit ? Math.round(Number(match[1]) * unit) : NaN;
  if (!Number.isSafeInteger(bytes) || bytes < 1)
    throw messages.autoBackupSettingInvalid(name, raw, 'a size such as 2GiB or 500MB');
  return bytes;
}

/** `10m`, `90s`, `1h`, or plain seconds. */
function parseSeconds(name: string, raw: string, max: number): number {
  const match = /^(\d+)\s*(s|m|min|h)?$/i.exec(raw.trim());
  const factor = { s: 1, m: 60, min: 60, h: 3600 }[match?.[2]?.toLowerCase() ?? 's'] ?? NaN;
  const value = match ? Number(match[1]) * factor : NaN;
  if (!Number.isSafeInteger(value) || value < 1 || value > max)
    throw messages.autoBackupSettingInvalid(name, raw, `a time such as 10m, 90s or 1h (at most ${max / 3600} h)`);
  return value;
}

const EVERY: Record<string, number> = { off: 0, never: 0, daily: 1, weekly: 7, monthly: 30 };

/** off, daily, weekly, monthly, or a number of days (`14` or `14d`). */
function parseEvery(name: string, raw: string): number {
  const text = raw.trim().toLowerCase();
  if (text in EVERY) return EVERY[text]!;
  const days = /^(\d+)d?$/.exec(text);
  if (days && Number(days[1]) <= 3650) return Number(days[1]);
  throw messages.autoBackupSettingInvalid(name, raw, 'off, daily, weekly, monthly or a number of days');
}

function showEvery(days: number): string {
  const named = Object.entries(EVERY).find(([word, d]) => d === days && word !== 'never');
  return named ? named[0] : `every ${days} days`;
}

/** An absolute directory that is, or can become, a writable directory; never the inside of a file. */
export function parseBackupDirectory(raw: string, cwd = process.cwd()): string {
  const text = raw.trim();
  if (text === '') throw messages.autoBackupDirInvalid(raw, 'the path is empty');
  const dir = path.resolve(cwd, expandHome(text));
  let probe = dir;
  for (;;) {
    let stat: fs.Stats | undefined;
    try {
      stat = fs.statSync(probe);
    } catch {
      stat = undefined;
    }
    if (stat) {
      if (!stat.isDirectory()) throw messages.autoBackupDirInvalid(dir, `${probe} is not a directory`);
      try {
        fs.accessSync(probe, fs.constants.W_OK | fs.constants.X_OK);
      } catch {
        throw messages.autoBackupDirInvalid(dir, `${probe} is not writable`);
      }
      return dir;
    }
    const parent = path.dirname(probe);
    if (parent === probe) return dir;
    probe = parent;
  }
}

export const SETTINGS: Specs = {
  enabled: {
    key: 'auto_backup.enabled',
    alias: 'enabled',
    describe: 'run backups on the schedule while nu-agent runs',
    default: () => false,
    parse: (raw) => parseBoolean('enabled', raw),
    store: (v) => String(v),
    show: (v) => (v ? 'yes' : 'no'),
  },
  cron: {
    key: 'auto_backup.cron',
    alias: 'cron',
    describe: 'when to back up (cron: minute hour day month weekday)',
    default: () => '0 2 * * *',
    parse: (raw, current) => parseCron(raw, current.timeZone),
    store: (v) => v,
    show: (v) => v,
  },
  timeZone: {
    key: 'auto_backup.timezone',
    alias: 'timezone',
    describe: 'time zone of the schedule ("local" or a name such as Europe/Berlin)',
    default: () => LOCAL_TIME_ZONE,
    parse: (raw) => parseTimeZone(raw),
    store: (v) => v,
    show: (v) => v,
  },
  retentionDays: {
    key: 'auto_backup.retention_days',
    alias: 'retention',
    describe: 'delete automatic backups older than this many days',
    default: () => 7,
    parse: (raw) => parseWhole('retention', raw, 0, 36500, 'days'),
    store: (v) => String(v),
    show: (v) => `${v} day${v === 1 ? '' : 's'}`,
  },
  minKeep: {
    key: 'auto_backup.min_keep',
    alias: 'keep',
    describe: 'always keep at least this many of the newest backups',
    default: () => 1,
    parse: (raw) => parseWhole('keep', raw, 1, 100000, 'backups'),
    store: (v) => String(v),
    show: (v) => String(v),
  },
  directory: {
    key: 'auto_backup.directory',
    alias: 'dir',
    describe: 'where automatic backups go',
    default: (paths) => paths.defaultBackupDir,
    parse: (raw) => parseBackupDirectory(raw),
    store: (v) => v,
    show: (v) => v,
  },
  pauseTimeoutMs: timeoutSpec('pause', 'seconds to wait for the workers to pause', 30_000),
  resumeTimeoutMs: timeoutSpec('resume', 'seconds to wait for the workers to resume and answer', 60_000),
  keepRules: {
    key: 'auto_backup.keep_rules',
    alias: 'keep-rules',
    describe: 'restic-style rules (--keep-daily 7 --keep-weekly 4 --keep-within 30d); they replace retention',
    default: () => ({}),
    parse: (raw) => parseKeepRules(raw),
    store: (v) => formatKeepRules(v),
    show: (v) => formatKeepRules(v),
  },
  notifyPing: notifyUrlSpec(
    'ping',
    'healthchecks-style URL pinged at each start (/start), success and failure (/fail)',
  ),
  notifyWebhook: notifyUrlSpec('webhook', 'URL that receives each result as JSON (POST)'),
  reverifyEveryDays: {
    key: 'auto_backup.reverify_every_days',
    alias: 'reverify-every',
    describe: 're-verify stored backups: off, daily, weekly, monthly or a number of days',
    default: () => 0,
    parse: (raw) => parseEvery('reverify', raw),
    store: (v) => String(v),
    show: showEvery,
  },
  reverifyMaxBytes: {
    key: 'auto_backup.reverify_max_bytes',
    alias: 'reverify-max-size',
    describe: 'at most this much re-read per re-verification (e.g. 2GiB)',
    default: () => 2 * 1024 ** 3,
    parse: (raw) => parseSize('reverify max-size', raw),
    store: (v) => String(v),
    show: (v) => formatBytes(v),
  },
  reverifyMaxSeconds: {
    key: 'auto_backup.reverify_max_seconds',
    alias: 'reverify-max-time',
    describe: 'at most this long per re-verification (e.g. 10m)',
    default: () => 600,
    parse: (raw) => parseSeconds('reverify max-time', raw, 24 * 3600),
    store: (v) => String(v),
    show: (v) => (v % 60 === 0 ? `${v / 60} min` : `${v} s`),
  },
  remote: {
    key: 'auto_backup.remote',
    alias: 'remote',
    describe: 'also send each automatic backup to s3://BUCKET/PREFIX/ (encrypted; off to stop)',
    default: () => '',
    parse: (raw) => parseRemoteSetting(raw),
    store: (v) => v,
    show: (v) => v || 'off',
  },
};

/** The order settings are listed and applied in: the zone before the cron that is checked against it. */
export const SETTING_NAMES: SettingName[] = [
  'enabled',
  'timeZone',
  'cron',
  'retentionDays',
  'minKeep',
  'directory',
  'pauseTimeoutMs',
  'resumeTimeoutMs',
  'keepRules',
  'notifyPing',
  'notifyWebhook',
  'reverifyEveryDays',
  'reverifyMaxBytes',
  'reverifyMaxSeconds',
  'remote',
];

export function settingByAlias(alias: string): SettingName {
  const name = SETTING_NAMES.find((n) => SETTINGS[n].alias === alias.toLowerCase());
  if (!name)
    throw messages.autoBackupUnknownSetting(
      alias,
      SETTING_NAMES.map((n) => SETTINGS[n].alias),
    );
  return name;
}

export function defaultSettings(paths: DataPaths): AutoBackupSettings {
  const out = {} as Record<SettingName, unknown>;
  for (const name of SETTING_NAMES) out[name] = SETTINGS[name].default(paths);
  return out as unknown as AutoBackupSettings;
}

export interface LoadedSettings {
  settings: AutoBackupSettings;
  /** Stored values that did not parse (the default is used instead), for status to show. */
  problems: string[];
}

/** Settings from the stored strings; a value that does not parse falls back to its default and is reported. */
export function settingsFromStored(stored: ReadonlyMap<string, string>, paths: DataPaths): LoadedSettings {
  const settings = defaultSettings(paths);
  const problems: string[] = [];
  for (const name of SETTING_NAMES) {
    const spec = SETTINGS[name] as SettingSpec<SettingName>;
    const raw = stored.get(spec.key);
    if (raw === undefined) continue;
    try {
      // The stored directory is absolute already; parse it without touching the disk.
      (settings as unknown as Record<SettingName, unknown>)[name] =
        name === 'directory' ? path.resolve(raw) : spec.parse(raw, settings);
    } catch (err) {
      // A URL may carry a secret: its stored text is never repeated.
      const shown = spec.key.endsWith('_url') ? '(hidden)' : JSON.stringify(raw);
      problems.push(`${spec.key} = ${shown} is not valid (${(err as Error).message}); using the default`);
    }
  }
  return { settings, problems };
}

/** Parses one value a user typed, in the context of the current settings; returns the key and string to store. */
export function prepareSetting(
  name: SettingName,
  raw: string,
  current: AutoBackupSettings,
): { key: string; stored: string; shown: string } {
  const spec = SETTINGS[name] as SettingSpec<SettingName>;
  const value = spec.parse(raw, current);
  return { key: spec.key, stored: spec.store(value), shown: spec.show(value) };
}
