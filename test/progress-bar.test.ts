import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { barLine, createProgressDisplay } from '../src/ui/progress-display.js';
import { TerminalOutput } from '../src/repl/terminal-output.js';
import { generateDatabase } from '../bench/generate-db.js';
import { screenLines, startInPty } from './helpers/pty.js';
import { tempDir } from './helpers/temp-dir.js';

// The copy's progress bar on a terminal: it fits the terminal, never shows a nonsense time left, reaches 100 %
// or is cleared, stops at Ctrl-C, and owns its line (nothing else is printed onto it).

const MiB = 2 ** 20;
// eslint-disable-next-line no-control-regex
const plain = (s: string) => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');

/** A terminal-like stream: what the bar writes, with a width. */
function fakeTerminal(columns: number) {
  const stream = Object.assign(new PassThrough(), { isTTY: true, columns });
  let written = '';
  stream.on('data', (d: Buffer) => (written += d.toString()));
  return { stream, written: () => written };
}

describe('the bar line', () => {
  it('shows no time left until there is a rate to reckon with, and fits 80 and 40 columns', () => {
    const start = barLine({ copied: 0, total: 300 * MiB, elapsedMs: 0, columns: 80 });
    expect(start).toContain('ETA …');
    expect(start).not.toMatch(/NF|LL|NaN|Infinity/);
    const middle = barLine({ copied: 100 * MiB, total: 300 * MiB, elapsedMs: 2000, columns: 80 });
    expect(middle).toMatch(/ 33 % \| 100\.0 MiB \/ 300\.0 MiB \| 50\.0 MiB\/s \| ETA 4 s$/);
    expect(middle.length).toBeLessThan(80);
    const narrow = barLine({ copied: 100 * MiB, total: 300 * MiB, elapsedMs: 2000, columns: 40 });
    expect(narrow.length).toBeLessThan(40);
    expect(narrow).toContain('33 %');
    expect(narrow).toContain('ETA 4 s');
  });
});

describe('the progress display on a terminal', () => {
  const figures = { type: 'progress' as const, totalBytes: 300 * MiB };

  it('clears a bar the next step line interrupts short of 100 %, and ignores figures arriving after it', () => {
    const term = fakeTerminal(80);
    const out = new TerminalOutput({ isTTY: true, stdout: term.stream, stderr: term.stream });
    const display = createProgressDisplay(out, { stream: term.stream });
    display.onEvent({ ...figures, copiedBytes: 0 });
    display.onEvent({ ...figures, copiedBytes: 231 * MiB });
    display.onEvent({ type: 'step', text: 'Verifying backup...' });
    display.onEvent({ ...figures, copiedBytes: 290 * MiB });
    display.stop();
    const lines = screenLines(term.written());
    expect(lines.filter((l) => l.includes('%'))).toEqual([]);
    expect(lines).toContain('Verifying backup...');
  });

  it('keeps a finished bar as a 100 % line', () => {
    const term = fakeTerminal(80);
    const out = new TerminalOutput({ isTTY: true, stdout: term.stream, stderr: term.stream });
    const display = createProgressDisplay(out, { stream: term.stream });
    display.onEvent({ ...figures, copiedBytes: 0 });
    display.onEvent({ ...figures, copiedBytes: 300 * MiB });
    display.onEvent({ type: 'step', text: 'Verifying backup...' });
    const lines = screenLines(term.written());
    expect(lines.find((l) => l.includes('%'))).toMatch(/100 % \| 300\.0 MiB \/ 300\.0 MiB .*\| done$/);
  });

  it('clears the bar at Ctrl-C, whatever progress still arrives from the copy', () => {
    const term = fakeTerminal(80);
    const out = new TerminalOutput({ isTTY: true, stdout: term.stream, stderr: term.stream });
    const controller = new AbortController();
    const display = createProgressDisplay(out, { stream: term.stream, signal: controller.signal });
    display.onEvent({ ...figures, copiedBytes: 30 * MiB });
    controller.abort();
    const cleared = term.written().length;
    display.onEvent({ ...figures, copiedBytes: 288 * MiB });
    display.stop();
    expect(term.written().slice(cleared)).not.toContain('%');
    expect(screenLines(term.written()).filter((l) => l.includes('%'))).toEqual([]);
  });

  it('puts a debug line above the bar, never onto its line', () => {
    const term = fakeTerminal(80);
    const out = new TerminalOutput({ isTTY: true, isDebug: () => true, stdout: term.stream, stderr: term.stream });
    const display = createProgressDisplay(out, { stream: term.stream });
    display.onEvent({ ...figures, copiedBytes: 30 * MiB });
    out.debug('a worker said something');
    display.onEvent({ ...figures, copiedBytes: 300 * MiB });
    display.stop();
    const debugLine = screenLines(term.written()).find((l) => l.includes('a worker said something'));
    expect(debugLine).toBe('[debug] a worker said something');
  });
});

describe('a backup at an 80-column terminal', { timeout: 120_000 }, () => {
  it('draws a bar that fits, ends at 100 %, and shows what was typed meanwhile only at the next prompt', async () => {
    const root = tempDir();
    const home = path.join(root, 'home');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(home, { mode: 0o700 });
    await generateDatabase(path.join(home, 'memory.db'), 6 * MiB);
    const run = startInPty(['--debug'], { env: { NUAGENT_HOME: home }, cwd: root, columns: 80 });
    await run.waitFor('> ');
    run.type(`/backup ${path.join(root, 'b.db')}\r`);
    await run.waitFor('Pausing background workers...');
    run.type('typed ahead');
    await run.waitFor('Hash: ');
    await run.waitFor(/> typed ahead/);
    const screen = run.screen();
    run.type('\x15/exit\r');
    expect(await run.exited).toBe(0);

    const lines = screenLines(screen);
    expect(plain(screen)).not.toMatch(/ETA (NF|LL)|INF|NULL/);
    // Every bar drawn, and the line it ends as, fits the terminal; no line holds a bar and something else.
    // eslint-disable-next-line no-control-regex
    const redraws = screen.split(/\r|\n|\x1b\[1G|\x1b8/);
    const drawn = redraws.map(plain).filter((l) => l.includes('] '));
    expect(drawn.length).toBeGreaterThan(0);
    for (const bar of drawn) expect(bar.length, bar).toBeLessThan(80);
    const bars = lines.filter((l) => l.includes(' %'));
    for (const bar of bars) expect(bar).toMatch(/^ {2}\[[= ]+\] +\d+ % \|[^[]*$/);
    expect(bars.length).toBeGreaterThan(0);
    expect(bars.at(-1)).toMatch(/100 % .*\| done$/);
    // What was typed while the backup ran shows up at the prompt after it, not in the middle of its output.
    const typedAt = lines.findIndex((l) => l.includes('typed ahead'));
    expect(typedAt).toBeGreaterThan(lines.findIndex((l) => l.includes('Hash: ')));
    expect(lines[typedAt]).toMatch(/^> typed ahead/);
  });
});
