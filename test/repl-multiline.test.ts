import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startInPty } from './helpers/pty.js';
import { runCli } from './helpers/run-cli.js';
import { tempDir } from './helpers/temp-dir.js';
import { userMessagesIn } from './helpers/memory-contents.js';

// Several lines that make one message: a block pasted at a terminal (bracketed paste), and lines ending in `\`
// (at a terminal and in piped input). Every other line stays a message of its own.

function setUp() {
  const root = tempDir();
  const env = { NUAGENT_HOME: path.join(root, 'home') };
  return { root, env, database: path.join(env.NUAGENT_HOME, 'memory.db') };
}

describe('a message of several lines', { timeout: 120_000 }, () => {
  it('a block pasted at the terminal is one message, sent by the Enter after it', async () => {
    const { root, env, database } = setUp();
    const run = startInPty([], { env, cwd: root });
    await run.waitFor('> ');
    // The terminal is told to mark pastes, and a paste sends Enter as \r between its lines.
    expect(run.screen()).toContain('\x1b[?2004h');
    run.type('\x1b[200~first line\rsecond line\rthird\x1b[201~');
    run.type(' line\r');
    await run.waitFor('No model is configured');
    run.type('/exit\r');
    expect(await run.exited).toBe(0);
    // Bracketed paste is switched off again on the way out.
    expect(run.screen()).toContain('\x1b[?2004l');
    expect(await userMessagesIn(database)).toEqual(['first line\nsecond line\nthird line']);
    // One message, one reply.
    expect(run.screen().match(/No model is configured/g)).toHaveLength(1);
  });

  it('Ctrl-C drops a paste still waiting for Enter', async () => {
    const { root, env, database } = setUp();
    const run = startInPty([], { env, cwd: root });
    await run.waitFor('> ');
    run.type('\x1b[200~never sent\rnor this\r\x1b[201~');
    run.type('\x03');
    run.type('kept\r');
    await run.waitFor('No model is configured');
    run.type('/exit\r');
    expect(await run.exited).toBe(0);
    expect(await userMessagesIn(database)).toEqual(['kept']);
  });

  it('a typed line ending in a backslash continues on the next line', async () => {
    const { root, env, database } = setUp();
    const run = startInPty([], { env, cwd: root });
    await run.waitFor('> ');
    const typedAt = run.screen().length;
    run.type('one\\\r');
    // The continuation prompt, after the echo of what was typed.
    await run.waitFor(/one\\[^]*\. /, typedAt);
    run.type('two\r');
    await run.waitFor('No model is configured');
    run.type('/exit\r');
    expect(await run.exited).toBe(0);
    expect(await userMessagesIn(database)).toEqual(['one\ntwo']);
  });

  it('piped input: lines ending in a backslash join the next line; other lines stay one message each', async () => {
    const { root, env, database } = setUp();
    const run = await runCli([], 'alpha\nbeta \\\ngamma\\\ndelta\n/info\nomega\n', { env, cwd: root });
    expect(run.stderr).not.toContain('Error');
    expect(run.code).toBe(0);
    expect(await userMessagesIn(database)).toEqual(['alpha', 'beta \ngamma\ndelta', 'omega']);
  });
});
