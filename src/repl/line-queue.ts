import type readline from 'node:readline';

// What the REPL reads: messages, not raw lines. Two rules join lines into one message:
// - Bracketed paste (a terminal): everything between the terminal's paste-start and paste-end marks is one
//   message, sent when the person presses Enter after it (as shells do), so a pasted block is never run line
//   by line before it has been read.
// - A line whose last character is `\` continues on the next line (the `\` is dropped, the line break kept),
//   at a terminal and in piped input alike. Every other line is a message of its own, so scripts written one
//   command per line keep working.

/** Starts and ends bracketed paste on a terminal (xterm's mode 2004, which every modern terminal supports). */
export const BRACKETED_PASTE_ON = '\x1b[?2004h';
export const BRACKETED_PASTE_OFF = '\x1b[?2004l';

export interface LineQueueOptions {
  /** The terminal's keypress events (readline.emitKeypressEvents), to see where a paste starts and ends. */
  keypresses?: NodeJS.EventEmitter;
  /** Called when a line continues (ends in `\`): the REPL shows a continuation prompt. */
  onContinued?: () => void;
}

/**
 * Messages from readline, handed out one at a time. At the end of input the messages already read still run
 * (a piped script); stop() drops them (the user asked to quit). next() then resolves to undefined.
 */
export class LineQueue {
  private readonly messages: string[] = [];
  /** Lines of a message not yet complete: a paste waiting for Enter, or lines ending in `\`. */
  private pending: string[] = [];
  private pasting = false;
  private inputEnded = false;
  private stopped = false;
  private wake: (() => void) | undefined;

  /** Made before the readline interface: the paste marks must be seen before readline acts on the lines. */
  constructor(private readonly options: LineQueueOptions = {}) {
    options.keypresses?.on('keypress', (_s: string | undefined, key: { name?: string } | undefined) => {
      if (key?.name === 'paste-start') this.pasting = true;
      else if (key?.name === 'paste-end') this.pasting = false;
    });
  }

  /** Reads the lines of this interface. */
  attach(rl: readline.Interface): void {
    rl.on('line', (line) => this.take(line));
    rl.on('close', () => {
      // Input ended in the middle of a message: what was read is still the message.
      if (this.pending.length > 0) this.messages.push(this.pending.splice(0).join('\n'));
      this.inputEnded = true;
      this.notify();
    });
  }

  /** Is part of a message waiting (a paste or a continued line)? */
  get hasPending(): boolean {
    return this.pending.length > 0;
  }

  /** Is a whole message waiting to be taken? */
  get ready(): boolean {
    return this.messages.length > 0;
  }

  /** Drops a message still being entered (Ctrl-C at the prompt). */
  discardPending(): void {
    this.pending = [];
  }

  stop(): void {
    this.stopped = true;
    this.notify();
  }

  async next(): Promise<string | undefined> {
    while (this.messages.length === 0 && !this.inputEnded && !this.stopped) {
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    return this.stopped ? undefined : this.messages.shift();
  }

  private take(line: string): void {
    if (this.pasting) {
      this.pending.push(line);
      return;
    }
    if (line.endsWith('\\')) {
      this.pending.push(line.slice(0, -1));
      this.options.onContinued?.();
      return;
    }
    this.messages.push([...this.pending.splice(0), line].join('\n'));
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
