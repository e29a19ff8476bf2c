import cliProgress from 'cli-progress';
import type { Output } from '../app.js';
import { formatBytes } from '../format/size.js';
import { formatClock, formatDuration } from '../format/time.js';
import type { StatusLine } from '../repl/terminal-output.js';
import type { BackupEvent } from '../backup/types.js';

// Shows a backup (or restore) as it runs: a line per step, a live bar while the copy runs, and in debug mode
// every supervisor transition. The copy runs in a worker thread, so the main thread is free to redraw while it
// runs (progress shown only after the copy would tell the user nothing).
// On a terminal: a cli-progress bar with percent, bytes, speed and time left, for copies over 1 MiB, always
// narrower than the terminal. It owns its line: other output clears it first and redraws it after (the Output's
// status line). It ends one of two ways: at 100 % it stays as a finished line; on any other end (a failed copy,
// Ctrl-C, the next step line before the last figure) it is cleared, so no frozen bar is left behind.
// Elsewhere (a pipe, a log): a few plain lines at 25, 50, 75 and 100%.

export const PROGRESS_THRESHOLD_BYTES = 1024 * 1024;

export interface ProgressDisplayOptions {
  /** Where the bar is drawn on a terminal; the Output's stdout by default. */
  stream?: NodeJS.WritableStream;
  thresholdBytes?: number;
  now?: () => number;
  /** What the debug transition lines call the run: `backup` (default) or `restore`. */
  label?: string;
  /** The run's cancel: the bar is cleared at once, whatever progress still arrives. */
  signal?: AbortSignal | undefined;
}

export interface ProgressDisplay {
  onEvent(event: BackupEvent): void;
  /** Ends a bar still drawn (a failed copy); safe to call twice. */
  stop(): void;
}

/** An Output that can keep one line of its own below what it prints (TerminalOutput). */
interface WithStatusLine {
  setStatusLine(line: StatusLine | undefined): void;
}

const hasStatusLine = (out: Output): out is Output & WithStatusLine =>
  typeof (out as Partial<WithStatusLine>).setStatusLine === 'function';

export interface BarFigures {
  copied: number;
  total: number;
  elapsedMs: number;
  /** The width the line must stay under (the terminal's columns). */
  columns: number;
}

/**
 * The bar's line, shorter than `columns` (a line as wide as the terminal wraps on some terminals): the bar
 * shrinks first, then the speed, the byte counts and the time left give way, in that order.
 */
export function barLine({ copied, total, elapsedMs, columns }: BarFigures): string {
  const fraction = total > 0 ? Math.min(1, copied / total) : 0;
  const percent = `${String(Math.floor(fraction * 100)).padStart(3)} %`;
  const seconds = elapsedMs / 1000;
  // No figure until there is something to reckon with: never "ETA NFs" or "INF".
  const rate = seconds >= 0.2 && copied > 0 ? copied / seconds : undefined;
  const eta =
    fraction >= 1 ? 'done' : rate === undefined ? 'ETA …' : `ETA ${formatDuration(((total - copied) / rate) * 1000)}`;
  const parts = [
    percent,
    `${formatBytes(copied)} / ${formatBytes(total)}`,
    rate === undefined ? '…/s' : `${formatBytes(Math.round(rate))}/s`,
    eta,
  ];
  const dropOrder = [2, 1, 3];
  const width = Math.max(20, columns - 1);
  for (;;) {
    const text = parts.filter((p) => p !== '').join(' | ');
    const room = width - text.length - 5; // two spaces, two brackets, one space
    if (room >= 10 || dropOrder.length === 0) {
      const size = Math.max(4, Math.min(30, room));
      const filled = Math.round(fraction * size);
      return `  [${'='.repeat(filled)}${' '.repeat(size - filled)}] ${text}`.slice(0, width);
    }
    parts[dropOrder.shift()!] = '';
  }
}

export function createProgressDisplay(out: Output, options: ProgressDisplayOptions = {}): ProgressDisplay {
  const threshold = options.thresholdBytes ?? PROGRESS_THRESHOLD_BYTES;
  const now = options.now ?? Date.now;
  const stream = (options.stream ?? process.stdout) as NodeJS.WriteStream;
  let bar: cliProgress.SingleBar | undefined;
  let startedAt = 0;
  let last = { copied: 0, total: 0 };
  let printedQuarter = 0;
  let finished = false;

  const columns = () => stream.columns || 80;
  const line = () => barLine({ ...last, elapsedMs: now() - startedAt, columns: columns() });
  const clear = () => stream.write('\r\x1b[2K');

  /** Ends the bar: a finished copy keeps its 100 % line; anything short of it is cleared. */
  const stopBar = () => {
    if (startedAt !== 0) finished = true;
    if (!bar) return;
    const complete = last.total > 0 && last.copied >= last.total;
    const finalLine = complete ? line() : undefined;
    if (hasStatusLine(out)) out.setStatusLine(undefined);
    bar.stop(); // clearOnComplete: it always clears its line and shows the cursor again
    bar = undefined;
    if (finalLine !== undefined) stream.write(`${finalLine}\n`);
  };

  options.signal?.addEventListener('abort', stopBar, { once: true });

  const speed = (copied: number) => {
    const seconds = (now() - startedAt) / 1000;
    return seconds > 0.05 ? `${formatBytes(Math.round(copied / seconds))}/s` : '…';
  };

  const onProgress = (copied: number, total: number) => {
    if (total <= threshold || finished || options.signal?.aborted) return;
    if (startedAt === 0) startedAt = now();
    last = { copied, total };
    if (out.isTTY) {
      if (!bar) {
        bar = new cliProgress.SingleBar({
          format: () => line(),
          hideCursor: true,
          clearOnComplete: true,
          stream,
          fps: 12,
        });
        bar.start(total, 0);
        // Lines printed while the bar runs (debug, a notice) go above it, not onto it.
        if (hasStatusLine(out)) out.setStatusLine({ hide: clear, show: () => stream.write(`\r${line()}\x1b[K`) });
      }
      bar.update(copied);
      if (copied >= total) stopBar();
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
            `${formatClock(event.at)} ${options.label ?? 'backup'}: ${event.from} → ${event.to} (${event.msInPrevious} ms in ${event.from})`,
          );
          break;
      }
    },
    stop() {
      options.signal?.removeEventListener('abort', stopBar);
      stopBar();
    },
  };
}
