import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startInPty } from './helpers/pty.js';
import { runCli } from './helpers/run-cli.js';
import { tempDir } from './helpers/temp-dir.js';
import { userMessagesIn } from './helpers/memory-contents.js';

// `nu-agent backup restore FILE` at a real terminal (a pseudo-terminal from util-linux `script`): the person
// answers the question by typing, and the answer decides.

async function setUp() {
  const root = tempDir();
  const env = { NUAGENT_HOME: path.join(root, 'home') };
  const backup = path.join(root, 'kept.db');
  expect((await runCli([], 'the first question\n', { env, cwd: root })).code).toBe(0);
  expect((await runCli(['backup', backup], '', { env, cwd: root })).code).toBe(0);
  expect((await runCli([], '/new\nthe second question\n', { env, cwd: root })).code).toBe(0);
  return { root, env, backup, database: path.join(env.NUAGENT_HOME, 'memory.db') };
}

describe('nu-agent backup restore at a terminal', { timeout: 120_000 }, () => {
  for (const answer of ['y', 'YES']) {
    it(`restores when the person types "${answer}" and Enter`, async () => {
      const { root, env, backup, database } = await setUp();
      const run = startInPty(['backup', 'restore', backup], { env, cwd: root });
      await run.waitFor('[y/N]');
      run.type(`${answer}\r`);
      expect(await run.exited).toBe(0);
      expect(run.screen()).toContain(`Restored ${backup}`);
      expect(run.screen()).not.toContain('Restore cancelled');
      expect(await userMessagesIn(database)).toEqual(['the first question']);
    });
  }

  it('changes nothing when the person types n, and exits 1', async () => {
    const { root, env, backup, database } = await setUp();
    const run = startInPty(['backup', 'restore', backup], { env, cwd: root });
    await run.waitFor('[y/N]');
    run.type('n\r');
    expect(await run.exited).toBe(1);
    expect(run.screen()).toContain('Restore cancelled; nothing was changed.');
    expect(await userMessagesIn(database)).toEqual(['the first question', 'the second question']);
  });

  it('changes nothing when the person presses Ctrl-C at the question', async () => {
    const { root, env, backup, database } = await setUp();
    const run = startInPty(['backup', 'restore', backup], { env, cwd: root });
    await run.waitFor('[y/N]');
    run.type('\x03');
    expect(await run.exited).toBe(1);
    expect(run.screen()).toContain('Restore cancelled; nothing was changed.');
    expect(await userMessagesIn(database)).toEqual(['the first question', 'the second question']);
  });
});
