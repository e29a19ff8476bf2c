import { describe, expect, it } from 'vitest';
import type { MemoryStore } from '../src/store/memory-store.js';
import type { WorkerManagerOptions } from '../src/workers-host/worker-manager.js';
import * as block from './fixtures/worker-hooks/block-on-item.js';
import * as computed from './fixtures/worker-hooks/count-computed.js';
import { HeldModel, fixtureHooks, seedChat, summarisedExchanges, untilCell, workerSetUp } from './helpers/workers.js';

// The pause protocol with real worker threads, a real DuckDB file and the real memory port. Faults (a worker
// stuck inside an item, a model call still running) are injected through the hooks seam and the ChatProvider
// seam; the tests coordinate with the threads through shared memory, never by sleeping.

async function setUp(options: Partial<WorkerManagerOptions>) {
  return workerSetUp(options);
}

async function writeFigures(store: MemoryStore) {
  return store.all(`SELECT
      (SELECT count(summary) FROM conversations) AS conversation_summaries,
      (SELECT count(summary) FROM exchanges) AS exchange_summaries,
      (SELECT count(*) FROM embeddings) AS embeddings,
      (SELECT count(*) FROM failed_jobs) AS failures`);
}

describe('pausing the background workers', () => {
  it('does not report a worker paused while it is inside an item of its batch, only once it parks', async () => {
    const stuck = fixtureHooks('block-on-item', block.CELLS);
    Atomics.store(stuck.cells, block.TARGET, 2);
    const { store, manager, activity } = await setUp({
      names: ['exchange-summarizer'],
      settings: { batchSize: 3, idlePollMs: 60_000 },
      hooks: { 'exchange-summarizer': stuck.spec },
    });
    await seedChat(store, 1, 3);
    manager.startAll();

    await untilCell(stuck.cells, block.BLOCKED, 1); // item 1 is written, the worker is inside item 2
    expect(activity.count('written')).toBe(1);
    await manager.pauseAll();
    expect(manager.status()[0]!.state).toBe('pausing');
    await expect(manager.waitUntilAllPaused(100)).rejects.toMatchObject({ code: 'WORKERS_NOT_PAUSED' });
    expect(manager.status()[0]!.state).toBe('pausing');

    Atomics.store(stuck.cells, block.RELEASE, 1);
    Atomics.notify(stuck.cells, block.RELEASE);
    await manager.waitUntilAllPaused(10_000);
    expect(manager.status()[0]!.state).toBe('paused');
    // Item 2 was computed after the pause was asked: it is held, not written.
    expect(await summarisedExchanges(store)).toBe(1);
    expect(activity.count('written')).toBe(1);

    await manager.resumeAll(5_000);
    await activity.until(async () => (await summarisedExchanges(store)) === 3, 20_000, 'all exchanges summarised');
    expect(activity.count('refused')).toBe(0);
  });

  it('times out naming the worker that never parks, and only that one', async () => {
    const stuck = fixtureHooks('block-on-item', block.CELLS);
    Atomics.store(stuck.cells, block.TARGET, 1);
    const { store, manager } = await setUp({
      names: ['conversation-summarizer', 'exchange-summarizer'],
      hooks: { 'exchange-summarizer': stuck.spec },
    });
    await seedChat(store, 2, 1);
    manager.startAll();
    await untilCell(stuck.cells, block.BLOCKED, 1);

    await manager.pauseAll();
    const failure = await manager.waitUntilAllPaused(300).catch((err: unknown) => err);
    expect(failure).toMatchObject({ code: 'WORKERS_NOT_PAUSED', message: /exchange-summarizer/ });
    expect((failure as Error).message).not.toMatch(/conversation-summarizer/);
    expect(manager.status().map((s) => [s.name, s.state])).toEqual([
      ['conversation-summarizer', 'paused'],
      ['exchange-summarizer', 'pausing'],
    ]);

    Atomics.store(stuck.cells, block.RELEASE, 1);
    Atomics.notify(stuck.cells, block.RELEASE);
    await manager.waitUntilAllPaused(10_000);
    await manager.resumeAll(5_000);
  });

  it('writes nothing between waitUntilAllPaused and resumeAll, and writes model results that arrived meanwhile after resume', async () => {
    const model = new HeldModel();
    const counter = fixtureHooks('count-computed', computed.CELLS);
    const { store, manager, activity } = await setUp({
      provider: () => model,
      settings: { batchSize: 4, idlePollMs: 60_000 },
      hooks: { 'conversation-summarizer': counter.spec, 'exchange-summarizer': counter.spec },
    });
    await seedChat(store, 2, 2);
    manager.startAll();

    await model.untilPending(2); // each summariser is waiting for its model call
    await manager.pauseAll();
    await manager.waitUntilAllPaused(10_000);
    expect(model.pending).toBe(2); // acknowledged while the calls are still running
    const before = await writeFigures(store);
    const eventsBefore = activity.events.length;

    // The calls finish while paused: both workers now hold a result they may not write.
    expect(model.answerAll()).toBe(2);
    await untilCell(counter.cells, computed.COMPUTED, 2);
    await store.all('SELECT 1'); // let any write that had been sent reach the database
    expect(manager.status().map((s) => s.state)).toEqual(['paused', 'paused', 'paused']);
    expect(await writeFigures(store)).toEqual(before);
    expect(activity.events.slice(eventsBefore)).toEqual([]);

    await manager.resumeAll(5_000);
    await activity.until(
      async () => {
        model.answerAll();
        const [f] = await writeFigures(store);
        return f!.conversation_summaries === 2 && f!.exchange_summaries === 4 && f!.embeddings === 6;
      },
      30_000,
      'every summary and embedding',
    );
    const models = await store.all(`SELECT DISTINCT summary_model AS m FROM exchanges`);
    expect(models).toEqual([{ m: 'held-model' }]);
    expect(activity.count('refused')).toBe(0);
  });
});
