import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { screenLines, startInPty } from './helpers/pty.js';
import type { PtyRun } from './helpers/pty.js';
import { tempDir } from './helpers/temp-dir.js';

// The wait spinner at a real terminal (a pseudo-terminal from util-linux `script`): while the model thinks, one
// line says what is awaited and for how long, redrawn in place, never wider than the terminal, and gone from
// the screen once the reply comes. The model server answers only once the screen has shown the spinner counting.

const servers: http.Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** Answers the chat message (the summarisers' requests get a 500) once `ready` resolves. */
async function modelServer(ready: () => Promise<void>): Promise<string> {
  const server = http.createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => {
      const body = JSON.parse(text) as { messages: { content: string }[] };
      if (!body.messages.at(-1)?.content.startsWith('tell me')) return res.writeHead(500).end();
      void ready().then(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ choices: [{ message: { content: 'Thought about it.' } }] }));
      });
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
}

describe('the wait spinner at a terminal', { timeout: 60_000 }, () => {
  it('counts the wait for the model in one line that fits the terminal, and clears it for the reply', async () => {
    const columns = 60;
    const pty: { run?: PtyRun } = {};
    // Two draws of the count, a second apart: the line is redrawn in place while the wait goes on.
    const url = await modelServer(() => pty.run!.waitFor(/Waiting for .*\(1\.\d s\)/));
    const home = path.join(tempDir(), 'home');
    const run = (pty.run = startInPty([], {
      env: { NUAGENT_HOME: home, NUAGENT_LLM_URL: url, NUAGENT_LLM_MODEL: 'tiny' },
      columns,
    }));
    await run.waitFor('> ');
    const from = run.screen().length;
    run.type('tell me something\r');
    await run.waitFor('Thought about it.', from);
    await run.waitFor('> ', run.screen().indexOf('Thought about it.', from));
    run.type('/exit\r');
    expect(await run.exited).toBe(0);

    const raw = run.screen().slice(from);
    // Every draw starts at column 1 and erases the line first; none is wider than the terminal.
    // eslint-disable-next-line no-control-regex
    const draws = [...raw.matchAll(/\r\x1b\[2K([^\r\n\x1b]*Waiting for[^\r\n\x1b]*)/g)].map((m) => m[1]!);
    expect(draws.length).toBeGreaterThan(1);
    for (const draw of draws) {
      expect(draw).toMatch(/^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] Waiting for the model to answer \(tiny at http.*… \(\d+\.\d s\)$/);
      expect(draw.length).toBeLessThan(columns);
    }
    expect(draws.some((d) => /\(0\.\d s\)$/.test(d))).toBe(true);
    expect(draws.some((d) => /\(1\.\d s\)$/.test(d))).toBe(true);
    // What stays on the screen: the question, the reply, the next prompt; no spinner.
    const lines = screenLines(raw).filter((l) => l !== '');
    expect(lines.some((l) => l.includes('Waiting for'))).toBe(false);
    expect(lines).toContain('Thought about it.');
  });
});
