import type { App } from '../../app.js';
import { createRunDisplay } from '../run-display.js';

// `/backup auto status|enable|disable|run|cron <expr>|retention <days>|keep <n>|dir <path>|timezone <zone>|
// pause-timeout <s>|resume-timeout <s>` (with `--json` for status): the /backup command hands over everything
// after the word `auto`. The words are interpreted in src/auto-backup/commands.ts, the same code that answers
// `nu-agent auto-backup` from another terminal over the control socket.

export const BACKUP_AUTO_HELP = [
  '/backup auto [status|enable|disable|run]',
  '/backup auto cron <expr>|retention <days>|keep <n>|dir <path>|timezone <zone>|pause-timeout <s>|resume-timeout <s>',
  '  scheduled backups while nu-agent runs: status shows the schedule, the last result and what prune would remove',
  '/backup auto keep-rules --keep-daily 7 --keep-weekly 4 | none   restic-style retention instead of days',
  '/backup auto notify ping|webhook <url|off> | notify test   tell a monitoring service how each run went',
  '/backup auto reverify off|daily|weekly|monthly|<days> | max-size <size> | max-time <time> | now',
];

export async function runBackupAuto(args: string[], app: App, signal: AbortSignal): Promise<void> {
  const json = args.includes('--json');
  const words = args.filter((a) => a !== '--json');
  const display = json ? undefined : createRunDisplay(app.out, { signal });
  let result;
  try {
    result = await app.autoBackup.command(words, {
      cwd: process.cwd(),
      trigger: 'auto',
      onEvent: display?.onEvent,
      signal,
    });
  } finally {
    display?.stop();
  }
  if (json) app.out.line(JSON.stringify(result.data ?? null, null, 2));
  else for (const line of result.lines) app.out.line(line);
  if (result.error) throw result.error;
}
