import { describe, expect, it } from 'vitest';
import { commands } from '../src/repl/commands/index.js';
import { parseLine, splitArgs } from '../src/repl/parse-line.js';

describe('the command registry', () => {
  it('has unique lowercase names, each with usage text that starts with the command', () => {
    const names = commands.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
    for (const command of commands) {
      expect(command.name).toMatch(/^[a-z][a-z0-9-]*$/);
      expect(command.help[0]).toMatch(new RegExp(`^/${command.name}( |$)`));
      expect(command.help.length).toBeGreaterThanOrEqual(2);
    }
    for (const name of ['help', 'new', 'history', 'info', 'debug', 'exit']) expect(names).toContain(name);
  });
});

describe('reading a line', () => {
  it('tells commands from chat, and ignores blank lines', () => {
    expect(parseLine('  ')).toEqual({ kind: 'empty' });
    expect(parseLine('what is /tmp for?')).toEqual({ kind: 'chat', text: 'what is /tmp for?' });
    expect(parseLine('/History 5')).toEqual({ kind: 'command', name: 'history', args: ['5'] });
  });

  it('groups quoted words and removes the quotes', () => {
    expect(splitArgs(`backup "my backups/today.db" --force`)).toEqual(['backup', 'my backups/today.db', '--force']);
    expect(splitArgs(`a 'it''s' b\\ c ""`)).toEqual(['a', 'its', 'b c', '']);
    expect(splitArgs(`"say \\"hi\\""`)).toEqual(['say "hi"']);
  });
});
