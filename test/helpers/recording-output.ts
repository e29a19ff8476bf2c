import type { Output } from '../../src/app.js';
import { formatError } from '../../src/report.js';

/** An Output that keeps what a user would read: lines and `Error:`/`Try:` lines in order, debug lines apart. */
export class RecordingOutput implements Output {
  readonly lines: string[] = [];
  readonly debugLines: string[] = [];

  constructor(
    readonly isTTY = false,
    private readonly debugOn = false,
  ) {}

  line(text: string) {
    this.lines.push(text);
  }

  error(err: unknown) {
    this.lines.push(...formatError(err));
  }

  debug(text: string) {
    if (this.debugOn) this.debugLines.push(text);
  }
}
