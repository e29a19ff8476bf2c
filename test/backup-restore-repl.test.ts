import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningApp } from '../src/app.js';
import { createApp } from '../src/app/create-app.js';
import { runRepl } from '../src/repl/repl.js';
import { tempDir } from './helpers/temp-dir.js';
import { RecordingOutput } from './helpers/recording-output.js';
import { until } from './helpers/until.js';

// The confirmation question of /backup restore in the interactive REPL (a terminal-mode readline on streams, in
// this process): the answer goes to the question, never to the command queue as a chat message or a command.

const apps: RunningApp[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.shutdown();
});

describe('/backup restore in the interactive REPL', () => {
  it('asks on the terminal; "n" cancels, changes nothing and is not taken as a chat message', async () => {
    const root = tempDir();
    const out = new RecordingOutput();
    const app = await createApp({ env: { NUAGENT_HOME: path.join(root, 'home') }, makeOutput: () => out });
    apps.push(app);
    const backup = path.join(root, 'b.db');
    const made = await app.backups.run({ trigger: 'manual', destination: backup });
    expect(made.ok).toBe(true);

    const input = new PassThrough();
    const output = new PassThrough();
    let screen = '';
    output.on('data', (chunk: Buffer) => (screen += chunk.toString()));
    const done = runRepl(app, { interactive: true, input, output });

    input.write(`/backup restore ${backup}\r`);
    await until(() => screen.includes('[y/N] '));
    expect(screen).toMatch(/Replace the current memory with this backup \(created .*\)\? A safety backup/);
    input.write('n\r');
    await until(() => out.lines.includes('Restore cancelled; nothing was changed.'));
    input.write('/exit\r');
    expect(await done).toBe(0);

    const exchanges = await app.store.all(`SELECT user_message FROM exchanges`);
    expect(exchanges).toEqual([]);
    const runs = await app.store.all(`SELECT kind FROM backup_runs ORDER BY id`);
    expect(runs).toEqual([{ kind: 'backup' }]);
  });
});
