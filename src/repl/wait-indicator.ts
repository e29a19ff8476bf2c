// Every wait longer than about half a second says what it waits for and for how long, so a quiet screen never
// looks like a hang. On a terminal: one spinner line, redrawn in place and cleared when the wait ends (the
// Output clears it before printing anything else and draws it again after). Elsewhere (a pipe, a log): a plain
// line on stderr when the wait has lasted DELAY_MS, and a "still waiting" line every REPEAT_MS, no animation.
// Several waits may be open at once (a cancel waiting on a step); the one begun last is shown.
// The progress bar of a copy draws its own line: whoever shows a bar ends its wait first (run-display.ts).

/** What is awaited, in words that follow "Waiting for": `the model to answer`. Computed again at each draw. */
export type WaitText = string | (() => string);

export interface WaitHandle {
  /** The wait is over; its line is cleared (terminal) and nothing more is said about it. Safe to call twice. */
  end(): void;
}

export interface Waits {
  begin(what: WaitText): WaitHandle;
}

export const DELAY_MS = 500;
export const REPEAT_MS = 10_000;
const FRAME_MS = 100;
const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export interface WaitIndicatorOptions {
  /** The terminal (for the spinner) or stderr (for plain lines). */
  stream: NodeJS.WritableStream;
  /** Spinner in place when true; plain lines when false. */
  tty: boolean;
  delayMs?: number;
  repeatMs?: number;
  now?: () => number;
}

interface Open {
  what: WaitText;
  since: number;
  /** Plain mode: when the last line about it was printed (0 = none yet). */
  saidAt: number;
}

export class WaitIndicator implements Waits {
  private readonly open: Open[] = [];
  private timer: NodeJS.Timeout | undefined;
  private drawn = false;
  private hidden = 0;
  private frame = 0;
  private readonly delayMs: number;
  private readonly repeatMs: number;
  private readonly now: () => number;

  constructor(private readonly options: WaitIndicatorOptions) {
    this.delayMs = options.delayMs ?? DELAY_MS;
    this.repeatMs = options.repeatMs ?? REPEAT_MS;
    this.now = options.now ?? Date.now;
  }

  begin(what: WaitText): WaitHandle {
    const entry: Open = { what, since: this.now(), saidAt: 0 };
    this.open.push(entry);
    this.timer ??= setInterval(() => this.tick(), this.options.tty ? FRAME_MS : Math.min(this.delayMs, 250));
    this.timer.unref();
    return { end: () => this.end(entry) };
  }

  /** Clears the spinner line before someone else writes; pair with show(). */
  hide(): void {
    this.hidden++;
    this.erase();
  }

  show(): void {
    this.hidden = Math.max(0, this.hidden - 1);
    if (this.hidden === 0) this.draw();
  }

  private end(entry: Open): void {
    const at = this.open.indexOf(entry);
    if (at < 0) return;
    this.open.splice(at, 1);
    if (this.open.length === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
      this.erase();
    } else {
      this.draw();
    }
  }

  private tick(): void {
    this.frame = (this.frame + 1) % FRAMES.length;
    if (this.options.tty) this.draw();
    else this.say();
  }

  private current(): Open | undefined {
    const top = this.open[this.open.length - 1];
    return top && this.now() - top.since >= this.delayMs ? top : undefined;
  }

  private draw(): void {
    const top = this.current();
    if (!this.options.tty || this.hidden > 0 || !top) return;
    const columns = (this.options.stream as NodeJS.WriteStream).columns || 80;
    const head = `${FRAMES[this.frame]} Waiting for `;
    const tail = ` (${seconds(this.now() - top.since)})`;
    // One line, never wrapped (a wrapped line cannot be cleared in place); what is awaited gives way, the time not.
    const room = Math.max(1, columns - 1 - head.length - tail.length);
    const what = textOf(top.what);
    const shown = what.length > room ? `${what.slice(0, room - 1)}…` : what;
    this.options.stream.write(`\r\x1b[2K${head}${shown}${tail}`);
    this.drawn = true;
  }

  private erase(): void {
    if (!this.drawn) return;
    this.options.stream.write('\r\x1b[2K');
    this.drawn = false;
  }

  /** Plain mode: one line when the wait passes the delay, then one every repeatMs. */
  private say(): void {
    const now = this.now();
    for (const entry of this.open) {
      const waited = now - entry.since;
      if (waited < this.delayMs) continue;
      if (entry.saidAt === 0) this.options.stream.write(`Waiting for ${textOf(entry.what)}…\n`);
      else if (now - entry.saidAt >= this.repeatMs)
        this.options.stream.write(`Still waiting for ${textOf(entry.what)} (${seconds(waited)})…\n`);
      else continue;
      entry.saidAt = now;
    }
  }
}

/** A Waits that shows nothing (an Output without a screen: JSON, the control socket, tests). */
export const NO_WAITS: Waits = { begin: () => ({ end() {} }) };

/** Runs fn while a wait for `what` is open. */
export async function waitingFor<T>(waits: Waits | undefined, what: WaitText, fn: () => Promise<T>): Promise<T> {
  const handle = (waits ?? NO_WAITS).begin(what);
  try {
    return await fn();
  } finally {
    handle.end();
  }
}

function textOf(what: WaitText): string {
  return typeof what === 'function' ? what() : what;
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}
