import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { CLI } from './run-cli.js';

// Runs the compiled CLI in a real pseudo-terminal, as a person at a terminal runs it: util-linux `script`
// allocates the terminal, so the program sees isTTY on stdin and stdout, raw mode, echo and a window size.
// What the test writes is typed at the keyboard; what comes back is the screen's byte stream (with the echo of
// what was typed, carriage returns and escape sequences).

export interface PtyOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** The terminal's width (stty cols); 80 unless told. */
  columns?: number;
}

export interface PtyRun {
  /** Types text at the keyboard. */
  type(text: string): void;
  /** Resolves once the screen shows `text` (after `from`, an offset into `screen()`); rejects if it exits first. */
  waitFor(text: string | RegExp, from?: number): Promise<void>;
  /** Everything written to the terminal so far. */
  screen(): string;
  /** The exit code of the program (`script -e` passes it on). */
  exited: Promise<number | null>;
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function hasScript(): boolean {
  return ['/usr/bin/script', '/bin/script'].some((p) => fs.existsSync(p));
}

export function startInPty(args: string[], options: PtyOptions = {}): PtyRun {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` before these tests`);
  const columns = options.columns ?? 80;
  const command = `stty cols ${columns} rows 24; exec ${[process.execPath, CLI, ...args].map(quote).join(' ')}`;
  const child = spawn('script', ['-qefc', command, '/dev/null'], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH, HOME: options.env?.HOME ?? '/nonexistent', TERM: 'xterm', ...options.env },
  });
  let seen = '';
  const waiters = new Set<() => void>();
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    seen += s;
    for (const w of [...waiters]) w();
  });
  child.stderr.setEncoding('utf8').on('data', (s: string) => (seen += s));
  let closed = false;
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      closed = true;
      for (const w of [...waiters]) w();
      resolve(code);
    });
  });
  return {
    type: (text) => child.stdin.write(text),
    screen: () => seen,
    exited,
    waitFor: (text, from = 0) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const rest = seen.slice(from);
          if (typeof text === 'string' ? rest.includes(text) : text.test(rest)) {
            waiters.delete(check);
            resolve();
          } else if (closed) {
            waiters.delete(check);
            reject(new Error(`exited before showing ${String(text)}; the screen was:\n${seen}`));
          }
        };
        waiters.add(check);
        check();
      }),
  };
}

/**
 * The lines a terminal would show for this byte stream, as a plain-text screen: carriage returns and "column 1"
 * move to the start of the line, "erase line" and "erase to end" erase, other escape sequences are ignored.
 * Enough to tell what a user would read, line by line, where a progress bar redraws itself.
 */
export function screenLines(raw: string): string[] {
  const lines: string[][] = [[]];
  let row = 0;
  let col = 0;
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    if (ch === '\n') {
      row++;
      lines[row] ??= [];
      col = 0;
    } else if (ch === '\r') {
      col = 0;
    } else if (ch === '\x1b') {
      // eslint-disable-next-line no-control-regex
      const csi = /^\x1b\[([0-9;?]*)([A-Za-z~])/.exec(raw.slice(i));
      if (csi) {
        const [all, arg, cmd] = csi;
        if (cmd === 'G') col = Math.max(0, Number(arg || '1') - 1);
        else if ((cmd === 'K' || cmd === 'J') && (arg === '' || arg === '0')) lines[row]!.length = col;
        else if (cmd === 'K' && arg === '2') lines[row] = [];
        i += all.length - 1;
      } else {
        if (raw[i + 1] === '8') col = 0; // restore the cursor saved at the start of the line
        i += 1;
      }
    } else if (ch >= ' ') {
      const line = lines[row]!;
      while (line.length < col) line.push(' ');
      line[col++] = ch;
    }
  }
  return lines.map((l) => l.join('').trimEnd());
}
