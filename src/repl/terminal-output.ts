import type { Output } from '../app.js';
import { formatError } from '../report.js';
import { WaitIndicator } from './wait-indicator.js';

// The Output of the REPL and the CLI: normal lines on stdout; errors and debug lines on stderr, so a script that
// pipes stdout keeps only what it asked for. Colours only on a terminal. While the REPL waits at its prompt,
// a line printed by something in the background (a worker, the scheduler) would land in the middle of what the
// user is typing: the REPL installs a prompt guard that clears the prompt first and redraws it afterwards.

export interface PromptGuard {
  /** Clears the prompt line (and what was typed) from the screen. */
  hide(): void;
  /** Draws it again, keeping what was typed. */
  show(): void;
}

/** A line drawn in place below everything else (a progress bar): cleared before a line is printed, redrawn after. */
export type StatusLine = PromptGuard;

export interface TerminalOutputOptions {
  /** Prompts, colours and in-place progress. Defaults to stdout being a terminal. */
  isTTY?: boolean;
  /** Debug lines show while this returns true (the App's debug flag). */
  isDebug?: () => boolean;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

const RED = ['\x1b[31m', '\x1b[39m'] as const;
const GRAY = ['\x1b[90m', '\x1b[39m'] as const;

export class TerminalOutput implements Output {
  readonly isTTY: boolean;
  private readonly isDebug: () => boolean;
  private readonly stdout: NodeJS.WritableStream;
  private readonly stderr: NodeJS.WritableStream;
  private guard: PromptGuard | undefined;
  /** On a terminal a spinner line on stdout; elsewhere plain lines on stderr (stdout stays the result). */
  readonly waits: WaitIndicator;
  private status: StatusLine | undefined;

  constructor(options: TerminalOutputOptions = {}) {
    this.stdout = options.stdout ?? process.stdout;
    this.stderr = options.stderr ?? process.stderr;
    this.isTTY = options.isTTY ?? Boolean((this.stdout as NodeJS.WriteStream).isTTY);
    this.isDebug = options.isDebug ?? (() => false);
    this.waits = new WaitIndicator({ stream: this.isTTY ? this.stdout : this.stderr, tty: this.isTTY });
  }

  line(text: string): void {
    this.emit(this.stdout, [text]);
  }

  error(err: unknown): void {
    this.emit(this.stderr, formatError(err, this.isDebug()), RED);
  }

  debug(text: string): void {
    if (this.isDebug()) this.emit(this.stderr, [`[debug] ${text}`], GRAY);
  }

  /** Part of a line (a streamed reply). */
  write(text: string): void {
    this.waits.hide();
    this.stdout.write(text);
    this.waits.show();
  }

  /** Set by the REPL while it waits for input; undefined while a command runs. */
  setPromptGuard(guard: PromptGuard | undefined): void {
    this.guard = guard;
  }

  /** Set by a progress bar while it is drawn (only on a terminal), so that no line lands on it. */
  setStatusLine(line: StatusLine | undefined): void {
    this.status = this.isTTY ? line : undefined;
  }

  private emit(stream: NodeJS.WritableStream, lines: string[], colour?: readonly [string, string]): void {
    const paint = (l: string) => (colour && this.isTTY ? `${colour[0]}${l}${colour[1]}` : l);
    const { guard, status } = this;
    this.waits.hide();
    guard?.hide();
    status?.hide();
    stream.write(lines.map(paint).join('\n') + '\n');
    status?.show();
    guard?.show();
    this.waits.show();
  }
}
