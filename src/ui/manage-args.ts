import { messages } from '../errors.js';
import { KEEP_FLAGS, addKeepRule } from '../backup/keep-rules.js';
import type { KeepRules } from '../backup/keep-rules.js';

// The arguments of `/backup list|verify|prune|restore`, read the same way in the REPL and for `nu-agent backup`
// (where commander has already checked them, the same rules apply again here, so both reject the same input).

export const USAGE = {
  list: '/backup list [DIR] [--json]',
  verify: '/backup verify <file> [--json]',
  prune:
    '/backup prune [--keep-last|--keep-hourly|--keep-daily|--keep-weekly|--keep-monthly|--keep-yearly N] ' +
    '[--keep-within DURATION] [--keep N] [--older-than DAYS] [--dry-run] [--dir DIR] [--json]',
  restore: '/backup restore <file> [--yes]',
} as const;

interface Parsed {
  positional: string[];
  flags: Set<string>;
  values: Map<string, string>;
}

function parse(args: readonly string[], usage: string, flags: string[], valued: string[]): Parsed {
  const out: Parsed = { positional: [], flags: new Set(), values: new Map() };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      out.positional.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--')) {
      out.positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg : arg.slice(0, eq);
    if (flags.includes(name) && eq === -1) out.flags.add(name);
    else if (valued.includes(name)) {
      const value = eq === -1 ? args[++i] : arg.slice(eq + 1);
      if (value === undefined || value === '') throw messages.usage(usage);
      out.values.set(name, value);
    } else throw messages.usage(usage);
  }
  return out;
}

export function parseListArgs(args: readonly string[]): { dir?: string | undefined; json: boolean } {
  const p = parse(args, USAGE.list, ['--json'], []);
  if (p.positional.length > 1) throw messages.usage(USAGE.list);
  return { dir: p.positional[0], json: p.flags.has('--json') };
}

export function parseVerifyArgs(args: readonly string[]): { file: string; json: boolean } {
  const p = parse(args, USAGE.verify, ['--json'], []);
  if (p.positional.length !== 1) throw messages.usage(USAGE.verify);
  return { file: p.positional[0]!, json: p.flags.has('--json') };
}

export interface PruneArgs extends KeepRules {
  olderThanDays?: number | undefined;
  dryRun: boolean;
  dir?: string | undefined;
  json: boolean;
}

export function parsePruneArgs(args: readonly string[]): PruneArgs {
  const p = parse(args, USAGE.prune, ['--dry-run', '--json'], ['--keep', '--older-than', '--dir', ...KEEP_FLAGS]);
  if (p.positional.length > 0) throw messages.usage(USAGE.prune);
  const keep = p.values.get('--keep');
  const days = p.values.get('--older-than');
  // restic's flags; `--keep N` is the older spelling of `--keep-last N`.
  const rules: KeepRules = {};
  for (const flag of KEEP_FLAGS) {
    const value = p.values.get(flag);
    if (value !== undefined) addKeepRule(rules, flag, value);
  }
  return {
    ...rules,
    keepLast: keep === undefined ? rules.keepLast : wholeNumber(keep, messages.pruneKeepInvalid),
    olderThanDays: days === undefined ? undefined : nonNegative(days, messages.pruneDaysInvalid),
    dryRun: p.flags.has('--dry-run'),
    dir: p.values.get('--dir'),
    json: p.flags.has('--json'),
  };
}

export function parseRestoreArgs(args: readonly string[]): { file: string; yes: boolean } {
  const p = parse(args, USAGE.restore, ['--yes'], []);
  if (p.positional.length !== 1) throw messages.usage(USAGE.restore);
  return { file: p.positional[0]!, yes: p.flags.has('--yes') };
}

function wholeNumber(text: string, error: (value: string) => Error): number {
  if (!/^\d+$/.test(text.trim())) throw error(text);
  return Number(text);
}

function nonNegative(text: string, error: (value: string) => Error): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0) throw error(text);
  return value;
}
