import { describe, expect, it } from 'vitest';
import type { App, Output } from '../src/app.js';
import { OFFLINE_REPLY, OfflineProvider } from '../src/llm/offline.js';
import { completeExchange, createConversation, startExchange } from '../src/store/conversations.js';
import { historyCommand } from '../src/repl/commands/history.js';
import { searchCommand } from '../src/repl/commands/search.js';
import { workerCommand } from '../src/repl/commands/worker.js';
import type { WorkerManagerOptions } from '../src/workers-host/worker-manager.js';
import * as crash from './fixtures/worker-hooks/crash-once.js';
import { workerSetUp, fixtureHooks, seedChat } from './helpers/workers.js';

// /worker and /search against real worker threads and a real database. The commands use only the store, the
// workers and the output of the App, so the App here is those three.

async function setUp(options: Partial<WorkerManagerOptions> = {}) {
  const { store, manager, activity } = await workerSetUp(options);
  const lines: string[] = [];
  const out: Output = { line: (t) => lines.push(t), error: () => {}, debug: () => {}, isTTY: false };
  const app = { store, workers: manager, workerAdmin: manager, out } as unknown as App;
  const run = async (command: typeof workerCommand, args: string[]) => {
    lines.length = 0;
    await command.run(args, app, new AbortController().signal);
    return [...lines];
  };
  return { store, manager, activity, run };
}

describe('/worker', () => {
  it('lists the three workers with their state and counts, and starts, pauses, resumes and stops one', async () => {
    const { manager, run } = await setUp();
    manager.startAll();
    const status = await run(workerCommand, []);
    expect(status).toHaveLength(4);
    expect(status[0]).toMatch(/^conversation-summarizer +(starting|running|idle) +done 0 · failed 0$/);
    expect(status[1]).toMatch(/^exchange-summarizer +(starting|running|idle) /);
    expect(status[2]).toMatch(/^embeddings +(starting|running|idle) /);
    expect(status[3]).toBe('Embeddings: local-hash-ngram-v1-384 (local, offline)');

    expect(await run(workerCommand, ['embeddings', 'stop'])).toEqual(['embeddings  stopped   done 0 · failed 0']);
    expect(await run(workerCommand, ['embeddings', 'start'])).toEqual([
      expect.stringMatching(/^embeddings {2}(starting|running|idle)/),
    ]);
    await run(workerCommand, ['exchange-summarizer', 'pause']);
    await manager.pauseAll();
    await manager.waitUntilAllPaused(10_000);
    await manager.resumeAll(10_000);
    expect(await run(workerCommand, ['exchange-summarizer'])).toEqual([
      'exchange-summarizer  paused    done 0 · failed 0',
    ]);
    expect((await run(workerCommand, ['exchange-summarizer', 'resume']))[0]).not.toMatch(/paused/);

    await expect(run(workerCommand, ['summarizer', 'stop'])).rejects.toMatchObject({
      code: 'UNKNOWN_WORKER',
      hint: 'The workers are: conversation-summarizer, exchange-summarizer, embeddings.',
    });
    await expect(run(workerCommand, ['embeddings', 'explode'])).rejects.toMatchObject({ code: 'USAGE' });
  });

  it('shows a crashed worker as crashed, with the error and when it restarts', async () => {
    const crashing = fixtureHooks('crash-once', crash.CELLS);
    Atomics.store(crashing.cells, crash.CRASHES_LEFT, 1);
    const { store, manager, activity, run } = await setUp({
      names: ['exchange-summarizer'],
      restart: { initialMs: 60_000, maxMs: 60_000, stableMs: 60_000 },
      hooks: { 'exchange-summarizer': crashing.spec },
    });
    await seedChat(store, 1, 1);
    manager.startAll();
    await activity.until(() => activity.crashes.length === 1, 20_000, 'the crash');
    const [line] = await run(workerCommand, ['status']);
    expect(line).toMatch(
      /^exchange-summarizer {2}crashed {3}done 0 · failed 0 · crashes 1 · restart in (59|60) s · last error: crashed: injected crash/,
    );
  });
});

describe('/search', () => {
  it('ranks the summaries of finished chat by similarity to the query', async () => {
    const { store, manager, activity, run } = await setUp();
    const topics = ['sourdough bread baking', 'duckdb backup verification', 'alpine hiking routes'];
    expect(await run(searchCommand, ['anything'])).toEqual([
      'Nothing is indexed for search yet: finished chat is summarised and indexed in the background.',
    ]);
    await seedChat(store, 3, 1, (c) => topics[c]!);
    manager.startAll();
    await activity.until(
      async () => Number((await store.all(`SELECT count(*) AS n FROM embeddings`))[0]!.n) === 6,
      30_000,
      'six embeddings',
    );

    const lines = await run(searchCommand, ['verifying', 'a', 'DuckDB', 'backup']);
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatch(/^1\. 0\.\d\d {2}conversation 2(, exchange 1)?: .*duckdb backup/);
    expect(lines[1]).toMatch(/^2\. .*duckdb backup/);
    expect(lines[2]).not.toMatch(/duckdb/);
    await expect(run(searchCommand, [])).rejects.toMatchObject({ code: 'USAGE' });
  });

  it('names an exchange by its conversation and its number there, as /history does', async () => {
    const { store, manager, activity, run } = await setUp();
    const topics = [
      ['sourdough bread baking', 'alpine hiking routes'],
      ['knitting a wool scarf', 'duckdb backup verification'],
    ];
    const [, second] = await seedChat(store, 2, 2, (c, e) => topics[c]![e]!);
    manager.startAll();
    await activity.until(
      async () => Number((await store.all(`SELECT count(*) AS n FROM embeddings`))[0]!.n) === 6,
      30_000,
      'six embeddings',
    );

    // Its row id is 4; in its conversation it is the second exchange.
    const hit = (await run(searchCommand, ['verifying', 'a', 'DuckDB', 'backup'])).find((l) => /exchange/.test(l));
    expect(hit).toMatch(new RegExp(`^\\d\\. 0\\.\\d\\d  conversation ${second!.id}, exchange 2: .*duckdb backup`));
    const history = await run(historyCommand, []);
    const header = history.findIndex((l) => l.startsWith(`conversation ${second!.id}, exchange 2 `));
    expect(history[header + 1]).toMatch(/you: .*duckdb backup verification/);
  });

  it('keeps the offline reply out of summaries and search, but finds the message by its own words', async () => {
    const { store, manager, activity, run } = await setUp();
    const conversation = await createConversation(store);
    const question = 'How do I feed a sourdough starter with rye flour every morning?';
    const started = await startExchange(store, conversation, question);
    const offline = await new OfflineProvider().complete();
    await completeExchange(store, started, { ...offline, durationMs: 1 });
    manager.startAll();
    await activity.until(
      async () => Number((await store.all(`SELECT count(*) AS n FROM embeddings`))[0]!.n) === 2,
      30_000,
      'two embeddings',
    );

    // Stored as it happened...
    const [stored] = await store.all<{ a: string }>(`SELECT assistant_message AS a FROM exchanges`);
    expect(stored!.a).toBe(OFFLINE_REPLY);
    // ...but no summary or vector carries a word of it.
    const texts = await store.all<{ t: string }>(
      `SELECT summary AS t FROM exchanges UNION ALL SELECT summary FROM conversations
       UNION ALL SELECT content FROM embeddings`,
    );
    expect(texts).toHaveLength(4);
    for (const { t } of texts) {
      expect(t).toContain('sourdough starter');
      expect(t).not.toMatch(/model|configured|NUAGENT/);
    }
    const lines = await run(searchCommand, ['NUAGENT_LLM_URL', 'model', 'configured']);
    for (const line of lines) expect(line).not.toMatch(/configured|NUAGENT/);
    expect((await run(searchCommand, ['sourdough', 'rye']))[0]).toMatch(
      new RegExp(`^1\\. 0\\.\\d\\d  conversation ${conversation}(, exchange 1)?: .*sourdough starter`),
    );
  });
});
