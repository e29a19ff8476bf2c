import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { OpenAIProvider } from '../src/llm/openai.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { collect, startCli } from './helpers/run-cli.js';
import { tempDir } from './helpers/temp-dir.js';
import { seedChat, workerSetUp } from './helpers/workers.js';

// What a user sees while nu-agent waits: the model's reply streaming onto the screen, a line that says what a
// slow step waits for, Ctrl-C acknowledged at once and a cancelled message stored as cancelled, and an exit
// that does not wait on a worker's model call. A real model server on 127.0.0.1 and a spawned REPL; every
// test waits for events (the server sees a request, the child prints a line), never for a time.

const servers: http.Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

type Handler = (
  body: { messages: { role: string; content: string }[]; stream?: boolean },
  res: http.ServerResponse,
) => void;

async function modelServer(handler: Handler): Promise<string> {
  const server = http.createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => handler(JSON.parse(text) as Parameters<Handler>[0], res));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
}

const sse = (res: http.ServerResponse, data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`);
const piece = (content: string, finish: string | null = null) => ({
  choices: [{ index: 0, delta: { content }, finish_reason: finish }],
});

/** The user's chat message among the requests (the background summarisers ask the model too). */
const isChat = (body: Parameters<Handler>[0]) => body.messages.at(-1)?.content.startsWith('tell me') ?? false;

/** Resolves once the child has written text to the stream; everything it wrote so far is in seen(). */
function watch(stream: NodeJS.ReadableStream) {
  let seen = '';
  const waiters: (() => void)[] = [];
  stream.on('data', (chunk: Buffer | string) => {
    seen += chunk.toString();
    for (const wake of waiters.splice(0)) wake();
  });
  return {
    seen: () => seen,
    async until(text: string) {
      while (!seen.includes(text)) await new Promise<void>((resolve) => waiters.push(resolve));
    },
  };
}

function spawnRepl(url: string, home: string): ChildProcessWithoutNullStreams {
  return startCli([], { env: { NUAGENT_HOME: home, NUAGENT_LLM_URL: url, NUAGENT_LLM_MODEL: 'tiny' } });
}

async function storedExchanges(home: string) {
  const store = await MemoryStore.open(path.join(home, 'memory.db'));
  try {
    return await store.all<{ status: string; assistant_message: string | null; tokens_output: number | null }>(
      `SELECT status, assistant_message, tokens_output FROM exchanges ORDER BY id`,
    );
  } finally {
    await store.close();
  }
}

describe('waiting in the REPL', () => {
  it('prints the first piece of a streamed reply before the server sends the last, and stores the whole', async () => {
    const home = path.join(tempDir(), 'home');
    const late: { stdout?: ReturnType<typeof watch> } = {};
    const url = await modelServer((body, res) => {
      if (!isChat(body)) return res.writeHead(500).end();
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      sse(res, piece('First words'));
      // The rest only after the REPL has shown the first piece on its stdout.
      void late.stdout!.until('First words').then(() => {
        sse(res, piece(', then the rest.', 'stop'));
        sse(res, { choices: [], usage: { prompt_tokens: 10, completion_tokens: 6 } });
        res.end('data: [DONE]\n\n');
      });
    });
    const child = spawnRepl(url, home);
    late.stdout = watch(child.stdout);
    const run = collect(child);
    child.stdin.end('tell me a story\n');
    const { code, stdout: printed } = await run;
    expect(code).toBe(0);
    expect(printed).toContain('First words, then the rest.\n');
    expect(await storedExchanges(home)).toEqual([
      { status: 'completed', assistant_message: 'First words, then the rest.', tokens_output: 6 },
    ]);
  });

  it('says on stderr what it waits for while the model thinks (piped: a plain line)', async () => {
    const home = path.join(tempDir(), 'home');
    const late: { stderr?: ReturnType<typeof watch> } = {};
    const url = await modelServer((body, res) => {
      if (!isChat(body)) return res.writeHead(500).end();
      // Answers only once the REPL has said that it waits for the model.
      void late.stderr!.until('Waiting for the model to answer (tiny at').then(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ choices: [{ message: { content: 'Thought about it.' } }] }));
      });
    });
    const child = spawnRepl(url, home);
    const stderr = (late.stderr = watch(child.stderr));
    const run = collect(child);
    child.stdin.end('tell me something\n');
    const { code, stdout } = await run;
    expect(code).toBe(0);
    expect(stderr.seen()).toMatch(
      /^Waiting for the model to answer \(tiny at http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions\)…$/m,
    );
    expect(stdout).toContain('Thought about it.');
  });

  it('acknowledges Ctrl-C at once and stores a message cancelled mid-stream as cancelled, not as an error', async () => {
    const home = path.join(tempDir(), 'home');
    const url = await modelServer((body, res) => {
      if (!isChat(body)) return res.writeHead(500).end();
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      sse(res, piece('Once upon a time'));
      // and nothing more: the user cancels
    });
    const child = spawnRepl(url, home);
    const stdout = watch(child.stdout);
    const run = collect(child);
    child.stdin.write('tell me a long story\n');
    await stdout.until('Once upon a time');
    child.kill('SIGINT');
    await stdout.until('The chat message was cancelled.');
    child.stdin.end();
    const { code, stdout: printed, stderr } = await run;
    expect(printed.indexOf('Cancelling…')).toBeGreaterThan(printed.indexOf('Once upon a time'));
    expect(printed.indexOf('Cancelling…')).toBeLessThan(printed.indexOf('The chat message was cancelled.'));
    expect(stderr).not.toContain('Error:');
    expect(code).toBe(1); // piped: a command that did not complete still fails the script
    expect(await storedExchanges(home)).toEqual([
      { status: 'cancelled', assistant_message: null, tokens_output: null },
    ]);
  });
});

describe('exit', () => {
  it('does not wait for a background worker whose model call is still open', async () => {
    let asked!: () => void;
    const modelAsked = new Promise<void>((resolve) => (asked = resolve));
    const url = await modelServer(() => asked()); // never answers
    const provider = new OpenAIProvider({ url, model: 'silent', timeoutMs: 600_000 });
    // A stop timeout far longer than any test: only ending the model call lets stop() return.
    const { store, manager, activity } = await workerSetUp({ provider: () => provider, stopTimeoutMs: 600_000 });
    await seedChat(store, 1, 1);
    manager.startAll();
    await modelAsked;
    await manager.stopAll();
    expect(manager.status().map((s) => s.state)).toEqual(['stopped', 'stopped', 'stopped']);
    // Stopping is not a failure of the item: nothing was recorded, and it is handed out again next time.
    expect(activity.count('failed')).toBe(0);
  });
});
