import type { BackupEvent } from '../backup/types.js';
import { formatBytes } from '../repl/format.js';

// How `/backup auto run` and `nu-agent auto-backup run` show a backup in progress when the lines may go to a
// log file (cron, systemd): the step lines as they come, a plain progress line at each quarter of a copy over
// 1 MiB, and (with debug on) every state transition of the supervisor with its time.

const QUARTERS = [25, 50, 75, 100];

export function eventPrinter(line: (text: string) => void, debug: (text: string) => void): (e: BackupEvent) => void {
  let shown = 0;
  return (event) => {
    switch (event.type) {
      case 'step':
        shown = 0;
        return line(event.text);
      case 'transition':
        return debug(
          `${event.at.toISOString()} ${event.from} -> ${event.to} (${event.msInPrevious} ms in ${event.from})`,
        );
      case 'progress': {
        if (event.totalBytes < 1024 * 1024) return;
        const percent = Math.floor((event.copiedBytes / event.totalBytes) * 100);
        const next = QUARTERS.find((q) => q > shown && percent >= q);
        if (next === undefined) return;
        shown = QUARTERS.filter((q) => percent >= q).pop() ?? next;
        return line(`  ${shown}% (${formatBytes(event.copiedBytes)} of ${formatBytes(event.totalBytes)})`);
      }
    }
  };
}
