import { describe, expect, it } from 'vitest';
import { NuError, messages } from '../src/errors.js';
import { formatError } from '../src/report.js';

describe('formatError', () => {
  it('prints a known error as one Error line and its Try hint', () => {
    expect(formatError(messages.databaseNotDuckDB('/tmp/notes.db'))).toEqual([
      'Error: /tmp/notes.db is not a DuckDB database file',
      'Try: Point --database (or NUAGENT_DATABASE) at a nu-agent memory file, or move this file away.',
    ]);
  });

  it('gives an unexpected error a hint that says how to learn more', () => {
    expect(formatError(new TypeError('boom'))).toEqual([
      'Error: boom',
      'Try: run again with --debug (or /debug on) for details.',
    ]);
  });

  it('shows the causes in debug mode, and the stack only of what was unexpected', () => {
    const known = new NuError('copy failed', { code: 'X', hint: 'free some space', cause: new Error('ENOSPC') });
    const lines = formatError(known, true);
    expect(lines.slice(0, 3)).toEqual(['Error: copy failed', 'Try: free some space', '  caused by: ENOSPC']);
    expect(lines.some((l) => l.includes('report.test.ts'))).toBe(true);

    const explained = formatError(messages.unknownCommand('/x'), true);
    expect(explained.some((l) => l.startsWith('  at '))).toBe(false);
  });
});

describe('the messages table', () => {
  it('never writes a hint that repeats the "Try:" it is printed after', () => {
    const stuttering: string[] = [];
    for (const [name, make] of Object.entries(messages)) {
      // Placeholder arguments: every message takes strings, numbers or an error, and uses them as text.
      const args = Array.from({ length: make.length }, () => 'x');
      let err: unknown;
      try {
        err = (make as (...a: unknown[]) => unknown)(...args);
      } catch {
        continue; // a message that needs a structured argument; its hint is checked where it is made
      }
      const line = formatError(err).find((l) => l.startsWith('Try: '));
      if (line && /^Try: try\b/i.test(line)) stuttering.push(`${name}: ${line}`);
    }
    expect(stuttering).toEqual([]);
  });
});
