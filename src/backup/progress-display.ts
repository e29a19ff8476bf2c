import cliProgress from 'cli-progress';
import type { Output } from '../app.js';
import { formatBytes } from '../repl/format.js';
import type { BackupEvent } from './types.js';

// Shows a backup (or restore) as it runs: the step lines the seed printed, a live bar while the copy runs, and
// in debug mode every supervisor transition. The seed queued its progress lines and showed them all after the
// copy (reference notes F11); here the copy runs in a worker thread, so the main thread redraws smoothly.
// On a terminal: a cli-progress bar with percent, bytes, speed and time left, for copies over 1 MiB. Elsewhere
// (a pipe, a log): a few plain lines at 25, 50, 75 and 100%.

export const PROGRESS_THRESHOLD_BYTES = 1024 * 1024;

export interface ProgressDisplayOptions {
  /** Where the bar is drawn on a terminal; the Output's stdout by default. */
  stream?: NodeJS.WritableStream;
  thresholdBytes?: number;
  now?: () => number;
  /** What the debug transition lines call the run: `backup` (default) or `restore`. */
  label?: string;
}

export interface ProgressDisplay {
  onEvent(event: BackupEvent): void;
  /** Ends a bar still drawn (a failed copy); safe to call twice. */
  stop(): void;
}

export function createProgressDisplay(out: Output, options: ProgressDisplayOptions = {}): ProgressDisplay {
  const threshold = options.thresholdBytes ?? PROGRESS_THRESHOLD_BYTES;
  const now = options.now ?? Date.now;
  let bar: cliProgress.SingleBar | undefined;
  let startedAt = 0;
  let printedQuarter = 0;
  let finished = false;

  const stopBar = () => {
    bar?.stop();
    bar = undefined;
  };

  const speed = (copied: number) => {
    const seconds = (now() - startedAt) / 1000;
    return seconds > 0.05 ? `${formatBytes(Math.round(copied / seconds))}/s` : '…';
  };

  const onProgress = (copied: number, total: number) => {
    if (total <= threshold || finished) return;
    if (startedAt === 0) startedAt = now();
    if (out.isTTY) {
      if (!bar) {
        bar = new cliProgress.SingleBar({
          format: '  [{bar}] {percentage}% | {copied} / {size} | {speed} | ETA {eta_formatted}',
          barsize: 30,
          hideCursor: true,
          stream: options.stream ?? process.stdout,
          fps: 12,
          etaBuffer: 20,
        });
        bar.start(total, 0, { copied: formatBytes(0), size: formatBytes(total), speed: '…' });
      }
      bar.update(copied, { copied: formatBytes(copied), size: formatBytes(total), speed: speed(copied) });
      if (copied >= total) {
        finished = true;
        stopBar();
      }
      return;
    }
    const quarter = Math.floor((copied / total) * 4);
    if (quarter > printedQuarter) {
      printedQuarter = quarter;
      out.line(`  Progress: ${quarter * 25}% (${formatBytes(copied)} / ${formatBytes(total)}, ${speed(copied)})`);
      if (quarter >= 4) finished = true;
    }
  };

  return {
    onEvent(event) {
      switch (event.type) {
        case 'step':
          stopBar();
          out.line(event.text);
          break;
        case 'progress':
          onProgress(event.copiedBytes, event.totalBytes);
          break;
        case 'transition':
          out.debug(
            `${clock(event.at)} ${options.label ?? 'backup'}: ${event.from} → ${event.to} (${event.msInPrevious} ms in ${event.from})`,
          );
          break;
      }
    },
    stop: stopBar,
  };
}

/** 14:03:07.123 in local time. */
function clock(at: Date): string {
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}.${pad(at.getMilliseconds(), 3)}`;
}
