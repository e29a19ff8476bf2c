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
