import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { WaitIndicator } from '../src/repl/wait-indicator.js';

// The wait line itself: on a terminal a spinner line that is cleared when the wait ends and whenever something
// else is printed; elsewhere plain lines, no escape sequences. A clock seam stands in for time passing; the
// test waits for output, never for a time.

function screen() {
  const stream = new PassThrough();
  let written = '';
  const waiters: (() => void)[] = [];
  stream.on('data', (chunk: Buffer) => {
    written += chunk.toString();
    for (const wake of waiters.splice(0)) wake();
  });
  return {
    stream,
    written: () => written,
    async until(text: string) {
      while (!written.includes(text)) await new Promise<void>((resolve) => waiters.push(resolve));
    },
  };
}

describe('wait indicator', () => {
  it('on a terminal: draws what it waits for and for how long, clears it for other output and at the end', async () => {
    const out = screen();
    let now = 0;
    const waits = new WaitIndicator({ stream: out.stream, tty: true, now: () => now });
    const wait = waits.begin('the background workers to stop');
    now = 1_500;
    await out.until('Waiting for the background workers to stop (1.5 s)');
    waits.hide();
    out.stream.write('a line from elsewhere\n');
    waits.show();
    wait.end();
    await new Promise((resolve) => setImmediate(resolve));
    const text = out.written();
    // Cleared before the other line, and the screen ends with a cleared line.
    expect(text).toContain('(1.5 s)\r\x1b[2Ka line from elsewhere\n');
    expect(text.endsWith('\r\x1b[2K')).toBe(true);
  });

  it('says nothing about a wait shorter than the delay', async () => {
    const out = screen();
    let now = 0;
    const waits = new WaitIndicator({ stream: out.stream, tty: false, now: () => now });
    waits.begin('something quick').end();
    const slow = waits.begin('something slow');
    now = 600;
    await out.until('Waiting for something slow…\n');
    slow.end();
    expect(out.written()).toBe('Waiting for something slow…\n');
  });

  it('piped: one plain line, then a "still waiting" line with the time at each repeat, no escapes', async () => {
    const out = screen();
    let now = 0;
    const waits = new WaitIndicator({ stream: out.stream, tty: false, now: () => now, repeatMs: 10_000 });
    const wait = waits.begin(() => `the database (${now > 5000 ? 'still' : 'first'})`);
    now = 600;
    await out.until('Waiting for the database (first)…\n');
    now = 11_000;
    await out.until('Still waiting for the database (still) (11 s)…\n');
    wait.end();
    expect(out.written()).not.toContain('\x1b');
  });
});
