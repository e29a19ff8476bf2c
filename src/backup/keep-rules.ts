import { messages } from '../errors.js';
import { parseKeepWithin } from './retention-calendar.js';
import { describePolicy, hasRule } from './retention.js';
import type { RetentionPolicy } from './retention.js';

// restic's keep flags, read in one place: `/backup prune --keep-daily 7`, `nu-agent backup prune …` and the
// auto-backup's `keep-rules` setting (typed by the user and read back from appconfig) all parse them here.

/** The restic-style rules of a policy (the older `--keep N` is `keepLast`; `--older-than` stays separate). */
export type KeepRules = Pick<
  RetentionPolicy,
  'keepLast' | 'keepHourly' | 'keepDaily' | 'keepWeekly' | 'keepMonthly' | 'keepYearly' | 'keepWithin'
>;

export const KEEP_FLAGS = [
  '--keep-last',
  '--keep-hourly',
  '--keep-daily',
  '--keep-weekly',
  '--keep-monthly',
  '--keep-yearly',
  '--keep-within',
] as const;

const FIELD: Record<string, keyof KeepRules> = {
  '--keep-last': 'keepLast',
  '--keep-hourly': 'keepHourly',
  '--keep-daily': 'keepDaily',
  '--keep-weekly': 'keepWeekly',
  '--keep-monthly': 'keepMonthly',
  '--keep-yearly': 'keepYearly',
};

/** One flag and its value into `rules`; throws the flag's usage error for a bad value. */
export function addKeepRule(rules: KeepRules, flag: string, value: string): void {
  if (flag === '--keep-within') {
    const within = parseKeepWithin(value);
    if (!within) throw messages.pruneWithinInvalid(value);
    rules.keepWithin = within;
    return;
  }
  const field = FIELD[flag];
  if (!field) throw messages.pruneNoPolicy();
  const text = value.trim();
  if (!/^\d+$/.test(text) || Number(text) < 1) {
    if (flag === '--keep-last') throw messages.pruneKeepInvalid(value);
    throw messages.pruneKeepCountInvalid(flag.slice('--keep-'.length), value);
  }
  (rules as Record<string, unknown>)[field] = Number(text);
}

/**
 * The auto-backup setting's text: `--keep-daily 7 --keep-weekly 4`, also written `keep-daily=7 keep-weekly 4`
 * (a shell or the CLI need not see dashes); `none` or `off` means no restic rules.
 */
export function parseKeepRules(raw: string): KeepRules {
  const text = raw.trim();
  if (['', 'none', 'off'].includes(text.toLowerCase())) return {};
  const words = text.split(/[\s=]+/);
  const rules: KeepRules = {};
  for (let i = 0; i < words.length; i += 2) {
    const flag = `--${words[i]!.replace(/^-+/, '').toLowerCase()}`;
    const value = words[i + 1];
    if (!(KEEP_FLAGS as readonly string[]).includes(flag) || value === undefined)
      throw messages.keepRulesInvalid(raw, KEEP_FLAGS.join(', '));
    addKeepRule(rules, flag, value);
  }
  return rules;
}

export function formatKeepRules(rules: KeepRules): string {
  return hasRule(rules) ? describePolicy(rules) : 'none';
}

/** The policy `/backup prune` plans with, from its parsed flags (and never fewer than one backup kept). */
export function prunePolicyOf(args: KeepRules & { olderThanDays?: number | undefined }): RetentionPolicy {
  return {
    keepLast: args.keepLast,
    keepHourly: args.keepHourly,
    keepDaily: args.keepDaily,
    keepWeekly: args.keepWeekly,
    keepMonthly: args.keepMonthly,
    keepYearly: args.keepYearly,
    keepWithin: args.keepWithin,
    olderThanDays: args.olderThanDays,
    minKeep: 1,
  };
}
