import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningApp } from '../src/app.js';
import { createApp } from '../src/app/create-app.js';
import type { Command } from '../src/repl/command.js';
import { commands } from '../src/repl/commands/index.js';
import { runRepl } from '../src/repl/repl.js';
import { tempDir } from './helpers/temp-dir.js';
import { RecordingOutput } from './helpers/recording-output.js';
import { until } from './helpers/until.js';

// The REPL in this process, on a real database, driven through streams. The spawned-CLI tests cover the
// piped mode end to end; here the interactive mode's Ctrl-C handling, which needs a terminal-mode readline.

const apps: RunningApp[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.shutdown();
});

async function openApp(env: NodeJS.ProcessEnv = {}) {
  const out = new RecordingOutput();
  const app = await createApp({
    env: { NUAGENT_HOME: path.join(tempDir(), 'home'), ...env },
    makeOutput: () => out,
  });
  apps.push(app);
  return { app, out };
}

describe('REPL session', () => {
  it('lines up /help: every summary starts in one column, after usages cut to fit it', async () => {
    const { app, out } = await openApp();
    const input = new PassThrough();
    input.end('/help\n');
    expect(await runRepl(app, { interactive: false, input, errorOutput: new PassThrough() })).toBe(0);
    const first = out.lines.indexOf('Type a message to chat. Commands:');
    const rows = out.lines.slice(first + 1, first + 1 + commands.length);
    const columns = commands.map((command, i) => {
      const summary = command.help[1]!.trim();
      expect(rows[i]!.endsWith(summary)).toBe(true); // the summary is never cut
      return rows[i]!.length - summary.length;
    });
    expect(new Set(columns).size).toBe(1);
    expect(columns[0]).toBeLessThanOrEqual(2 + 28 + 2);
    expect(out.lines[first + 1 + commands.length]).toMatch(/^Ctrl-C cancels/);
  });

  it('acknowledges Ctrl-C at once, cancels the running command without an Error, warns at an idle prompt, and quits on the second Ctrl-C', async () => {
    const { app, out } = await openApp();
    let started = false;
    const waitForCancel: Command = {
      name: 'wait',
      help: ['/wait', 'Waits until cancelled.'],
      async run(_args, _app, signal) {
        started = true;
        await new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
      },
    };
    const input = new PassThrough();
    const output = new PassThrough();
    output.resume();
    const done = runRepl(app, { interactive: true, input, output, commands: [...commands, waitForCancel] });

    input.write('/wait\r');
    await until(() => started);
    input.write('\x03');
    // Acknowledged at once, and the user's own cancel is not reported as an error.
    await until(() => out.lines.includes('/wait was cancelled.'));
    expect(out.lines.indexOf('Cancelling…')).toBeGreaterThanOrEqual(0);
    expect(out.lines.indexOf('Cancelling…')).toBeLessThan(out.lines.indexOf('/wait was cancelled.'));
    expect(out.lines.filter((l) => l.startsWith('Error:'))).toEqual([]);
    input.write('\x03');
    await until(() => out.lines.some((l) => l.includes('To exit, press Ctrl-C again')));
    input.write('\x03');
    expect(await done).toBe(0);
  });

  it('stores a chat message whose model call failed, and a piped session then exits non-zero', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const { app, out } = await openApp({ NUAGENT_LLM_URL: `http://127.0.0.1:${port}/v1`, NUAGENT_LLM_MODEL: 'm' });

    const input = new PassThrough();
    input.end('is anyone there?\n/history\n');
    expect(await runRepl(app, { interactive: false, input })).toBe(1);
    expect(out.lines).toContain(
      `Error: cannot reach the model server at http://127.0.0.1:${port}/v1/chat/completions (connection refused)`,
    );
    expect(out.lines).toContain('  you: is anyone there?');
    const rows = await app.store.all(`SELECT status, user_message, assistant_message FROM exchanges`);
    expect(rows).toEqual([{ status: 'failed', user_message: 'is anyone there?', assistant_message: null }]);
  });

  it('sends the conversation so far with each message, and nothing from before /new', async () => {
    const seen: string[][] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        const { messages } = JSON.parse(body) as { messages: { role: string; content: string }[] };
        res.writeHead(200, { 'content-type': 'application/json' });
        // The background summarisers ask the same model; only the chat's own requests are counted here.
        if (!messages[0]?.content.startsWith('You are nu-agent')) {
          res.end(JSON.stringify({ choices: [{ message: { content: 'a summary' } }] }));
          return;
        }
        seen.push(messages.filter((m) => m.role !== 'system').map((m) => m.content));
        res.end(JSON.stringify({ choices: [{ message: { content: `echo ${seen.length}` } }] }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
      const { app, out } = await openApp({ NUAGENT_LLM_URL: url, NUAGENT_LLM_MODEL: 'm' });
      const input = new PassThrough();
      input.end('first\nsecond\n/new\nthird\n');
      expect(await runRepl(app, { interactive: false, input })).toBe(0);
      expect(seen).toEqual([['first'], ['first', 'echo 1', 'second'], ['third']]);
      expect(out.lines).toContain('echo 3');
      const conversations = await app.store.all(`SELECT id, status FROM conversations ORDER BY id`);
      expect(conversations).toEqual([
        { id: 1, status: 'closed' },
        { id: 2, status: 'active' },
      ]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
